/**
 * Runs INSIDE the test VM. Media changes seen by a guest: VM 314 is started by the qemu-server stand-in
 * with host isolation on (as shipped), so only the nested Linux guest (guest-shell.ts) reads the stick,
 * through qemu-xhci + usb-host like a Proxmox VM. lun0 is a cdrom with ISO-A, lun1 a removable disk.
 *  - swap: `media insert` ISO-B on lun0 while the guest runs; the guest's /dev/sr0 reads ISO-B;
 *  - eject: `media eject` lun1; the guest's disk has no medium;
 *  - lock: a guest process holds /dev/sr0 open (Linux's sr then sends PREVENT ALLOW MEDIUM REMOVAL):
 *    eject is refused, --force ejects it and the guest's cdrom has no medium;
 *  - the VM stops: post-stop leaves nothing.
 */
import { writeFileSync } from 'node:fs';
import { hostState } from './host-state.js';
import { GuestShell, shellGuestArgs } from './guest-shell.js';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';
import { cli, iso, lunFile } from './scenarios-media.js';

const VMID = 314;
/** the first 14 bytes of the cdrom's sector 5, read past the page cache; the error when there is none */
const READ_CD = 'dd if=/dev/sr0 bs=2048 skip=5 count=1 iflag=direct 2>/tmp/e | head -c 14 || true; cat /tmp/e | grep -v records';
const READ_DISK = 'dd if=/dev/sda bs=512 count=1 iflag=direct 2>/tmp/e | head -c 4; cat /tmp/e | grep -v records; cat /sys/block/sda/size';

export async function mediaGuest(node: PveNode) {
  node.writeSettings({});
  const a = iso('media-guest-a.iso', 'ISO-A');
  const b = iso('media-guest-b.iso', 'ISO-B');
  const disk = `${IMAGES}/vm${VMID}.img`;
  writeFileSync(disk, Buffer.alloc(8 * 1024 * 1024, 0x44));
  const notes = gadgetNotes({ image: a, cdrom: 'true', vendor_id: '0x0781', product_id: '0x5614', serial: 'PVUGMEDIAGUEST314', speed: 'high' }, `\n[usb-gadget.lun1]\nimage = ${disk}\n`);
  node.addVm(VMID, notes, { extra: { memory: '256', args: shellGuestArgs(VMID) } });
  const qs = new QemuServerStandIn(node);
  const start = await qs.start(VMID);
  if (!start.started) return { start, after: hostState() };
  const opened = await GuestShell.open(qs, VMID);
  const facts: Record<string, unknown> = { start, bootMs: opened.bootMs };
  const g = opened.shell;
  try {
    if (g) Object.assign(facts, await changes(g, b, disk));
    else facts.bootSerial = opened.serial.slice(-2000);
  } finally {
    g?.close();
    facts.stop = await qs.stop(VMID);
    facts.after = hostState();
  }
  return facts;
}

async function changes(g: GuestShell, b: string, disk: string) {
  const f: Record<string, unknown> = {};
  f.devices = await g.until('ls /sys/block', /sda[\s\S]*sr0|sr0[\s\S]*sda/, 120_000);
  f.cdBefore = await g.run(READ_CD);
  f.diskBefore = await g.run(READ_DISK);

  f.insert = await cli(['media', String(VMID), '--lun', '0', 'insert', b, '--once']);
  f.cdAfter = await g.until(READ_CD, /ISO-B-SECTOR-5/, 60_000);
  f.configfsAfterInsert = lunFile(VMID, 0);

  f.eject = await cli(['media', String(VMID), '--lun', '1', 'eject']);
  f.diskAfter = await g.until(READ_DISK, /No medium found/, 60_000);
  f.configfsAfterEject = lunFile(VMID, 1);
  f.diskImage = disk;

  // the holder outlives its command: the guest shell does not wait for background processes
  f.hold = await g.run('sleep 3600 </dev/sr0 >/dev/null 2>&1 & sleep 2; echo held');
  f.locked = await cli(['media', String(VMID), '--lun', '0', 'eject']);
  f.servedWhileLocked = lunFile(VMID, 0);
  f.cdWhileLocked = await g.run(READ_CD);
  f.forced = await cli(['media', String(VMID), '--lun', '0', 'eject', '--force']);
  f.configfsAfterForce = lunFile(VMID, 0);
  f.cdAfterForce = await g.until(READ_CD, /No medium found/, 60_000);
  return f;
}
