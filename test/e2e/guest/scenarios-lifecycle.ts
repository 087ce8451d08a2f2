/**
 * Runs INSIDE the test VM. One VM start/stop cycle through the qemu-server stand-in, ending with the
 * nested guest booting from the emulated stick; then the stick's identity and data path as the host's
 * own usb-storage sees them (isolation off).
 */
import { execFileSync } from 'node:child_process';
import { openSync, readSync, closeSync, writeSync, readFileSync, writeFileSync, fsyncSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostState, scsiDisksOn, usbIdentity } from './host-state.js';
import { gadgetNotes, IMAGES, markerImage, PveNode } from './pve-node.js';
import { QemuServerStandIn, runHook } from './qemu-server.js';

export async function happyPath(node: PveNode) {
  const marker = 'PVUG-HAPPY-100';
  await markerImage('vm100.img', marker);
  node.addVm(100, gadgetNotes({ image: `${IMAGES}/vm100.img`, vendor_id: '0x0781', product_id: '0x5571', serial: '4C530001230101111111' }));
  const qs = new QemuServerStandIn(node);
  const before = hostState();
  const start = await qs.start(100);
  const during = hostState();
  const status = execFileSync('/usr/bin/node', ['/project/dist/cli.cjs', 'status', '--json'], { env: { ...process.env, PVE_USB_GADGET_SETTINGS: '/etc/pve-usb-gadget/settings.ini' } }).toString();
  const boot = start.started ? await qs.waitForSerial(100, marker) : { found: false, serial: '', ms: 0 };
  const stop = await qs.stop(100);
  const again = await runHook(100, 'post-stop');
  return {
    before,
    start,
    during,
    status: JSON.parse(status) as unknown,
    boot,
    stop,
    secondPostStop: again,
    after: hostState(),
    mapping: node.api.usbMapping('usb-gadget-100'),
    vmConfig: node.api.vmConfig(100),
  };
}

function readAt(dev: string, offset: number, length: number): Buffer {
  const fd = openSync(dev, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function writeAt(dev: string, offset: number, data: Buffer): string | undefined {
  try {
    const fd = openSync(dev, 'r+');
    try {
      writeSync(fd, data, 0, data.length, offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Isolation off: the host's usb-storage claims the stick, so we can look at it the way a guest would. */
export async function identityAndData(node: PveNode) {
  node.writeSettings({ isolate: false });
  const disk = `${IMAGES}/vm200.img`;
  writeFileSync(disk, Buffer.alloc(16 * 1024 * 1024));
  const ro = `${IMAGES}/vm200-ro.img`;
  writeFileSync(ro, Buffer.alloc(4 * 1024 * 1024, 0x52));
  const iso = '/var/lib/vz/template/iso/tools.iso';
  const isoBytes = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < isoBytes.length; i += 2048) isoBytes.write(`ISO-SECTOR-${i / 2048}`, i);
  writeFileSync(iso, isoBytes);
  const notes = gadgetNotes(
    { image: disk, vendor_id: '0x0781', product_id: '0x5572', serial: 'PVUG0000200', manufacturer: 'SanDisk', product: 'Cruzer Fit', inquiry: '"SanDisk Cruzer Fit      1.26"', speed: 'high' },
    `\n[usb-gadget.lun1]\nimage = ${ro}\nreadonly = true\n\n[usb-gadget.lun2]\nimage = ${iso}\ncdrom = true\n`,
  );
  node.addVm(200, notes);
  // what udev does on a real host: load the SCSI disk and cdrom drivers for the devices usb-storage adds
  execFileSync('modprobe', ['-a', 'sd_mod', 'sr_mod']);
  const pre = await runHook(200, 'pre-start');
  const state = JSON.parse(readFileSync('/run/pve-usb-gadget/200.json', 'utf8')) as { busPort: string };
  // usb-storage scans LUNs asynchronously after the probe
  let disks = scsiDisksOn(state.busPort);
  for (let i = 0; i < 100 && disks.length < 3; i++) {
    await sleep(200);
    disks = scsiDisksOn(state.busPort);
  }
  const identity = usbIdentity(state.busPort);
  const [d0, d1, d2] = disks;
  const data: Record<string, unknown> = {};
  if (d0 && d1 && d2) {
    // guest → image: write through the emulated disk, read the backing file
    const pattern = Buffer.from('WRITTEN-THROUGH-USB-'.repeat(26).slice(0, 512));
    data.writeErr = writeAt(`/dev/${d0.name}`, 1024 * 1024, pattern);
    execFileSync('blockdev', ['--flushbufs', `/dev/${d0.name}`]);
    data.imageHasWrite = readAt(disk, 1024 * 1024, 512).equals(pattern);
    // image → guest: write the backing file, read through the disk (buffers flushed first)
    const back = Buffer.from('WRITTEN-INTO-IMAGE--'.repeat(26).slice(0, 512));
    const fd = openSync(disk, 'r+');
    writeSync(fd, back, 0, 512, 2 * 1024 * 1024);
    fsyncSync(fd);
    closeSync(fd);
    execFileSync('blockdev', ['--flushbufs', `/dev/${d0.name}`]);
    data.diskHasImageWrite = readAt(`/dev/${d0.name}`, 2 * 1024 * 1024, 512).equals(back);
    // read-only LUN: the write must fail and the image stay as it was
    data.roWriteErr = writeAt(`/dev/${d1.name}`, 0, Buffer.alloc(512, 0x41));
    data.roImageUnchanged = readAt(ro, 0, 512).equals(Buffer.alloc(512, 0x52));
    // cdrom LUN: serves the ISO's sectors
    data.cdromSector7 = readAt(`/dev/${d2.name}`, 7 * 2048, 16).toString('latin1');
  }
  const post = await runHook(200, 'post-stop');
  node.writeSettings({});
  return { pre, identity, disks, data, post, after: hostState() };
}
