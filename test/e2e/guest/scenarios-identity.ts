/**
 * Runs INSIDE the test VM. The licence identity (unRAID GUID) through the qemu-server stand-in:
 *  1. VM 700 with vendor_id, product_id and serial pinned starts; the host sees its identity;
 *  2. "restore as 701, VM 700 gone": 700's config (notes, usb0: mapping=usb-gadget-700) copied to 701
 *     with a new smbios1 uuid, VM 700 destroyed (its mapping lingers, as after qm destroy); 701 starts
 *     with the same VID, PID and serial, the nested guest boots from it, pre-start warns about the line;
 *  3. "clone with the original present": 701's config copied to 702: pre-start refuses it, naming both
 *     VMs, and nothing is left on the host;
 *  4. `pve-usb-gadget enable 702 --new-identity` (the real CLI; qm is the stand-in answered by
 *     install-control.ts) gives the clone another GUID and its own mapping; it starts with them.
 * licenceStick: `image create --unraid-licence --key-file` makes the unRAID 7.3+ licence stick, `enable`
 * pins a fresh identity on a VM without notes, and the nested Linux guest (guest-shell.ts) finds the stick
 * by its label UNRAID, reads the key file from config/ and the VID, PID and serial the GUID is made of.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { GuestShell, shellGuestArgs } from './guest-shell.js';
import { hostState, usbIdentity } from './host-state.js';
import { PveControl } from './install-control.js';
import { gadgetNotes, IMAGES, markerImage, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';
import { cli } from './scenarios-media.js';

/** the CLI with `qm` on its PATH: the stand-in, answered by a PveControl of this process */
const STANDIN_PATH = `/project/test/e2e/guest/pve-standins:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;

const busPortOf = (vmid: number) => (JSON.parse(readFileSync(`/run/pve-usb-gadget/${vmid}.json`, 'utf8')) as { busPort: string }).busPort;

async function cycle(qs: QemuServerStandIn, vmid: number, marker: string) {
  const start = await qs.start(vmid);
  const identity = start.started ? usbIdentity(busPortOf(vmid)) : undefined;
  const boot = start.started ? await qs.waitForSerial(vmid, marker) : { found: false, serial: '', ms: 0 };
  const stop = start.started ? await qs.stop(vmid) : [];
  return { start, identity, boot: { found: boot.found, ms: boot.ms }, stop, after: hostState() };
}

function copyVm(node: PveNode, from: number, to: number): void {
  const config = Object.fromEntries(Object.entries(node.api.vmConfig(from)).map(([k, v]) => [k, String(v)]));
  node.api.addVm({ vmid: to, node: 'pve', config: { ...config, name: `vm${to}`, smbios1: `uuid=${randomUUID()}` }, status: 'stopped' });
  node.syncConfigFile(to);
}

export async function identityScenarios(node: PveNode) {
  const marker = 'PVUG-IDENTITY-700';
  await markerImage('vm700.img', marker);
  node.addVm(700, gadgetNotes({ image: `${IMAGES}/vm700.img`, vendor_id: '0x0781', product_id: '0x5577', serial: '4C530001230101117777' }));
  const qs = new QemuServerStandIn(node);
  const original = await cycle(qs, 700, marker);

  copyVm(node, 700, 701);
  node.api.removeVm(700);
  rmSync('/etc/pve/qemu-server/700.conf');
  const restored = await cycle(qs, 701, marker);

  copyVm(node, 701, 702);
  const cloneRefused = { start: await qs.start(702), after: hostState() };

  const control = (await PveControl.start(node.api)).rolesAsInstalled();
  let enable;
  try {
    enable = await cli(['enable', '702', '--image', `${IMAGES}/vm700.img`, '--new-identity'], { PATH: STANDIN_PATH });
  } finally {
    await control.close();
  }
  node.syncConfigFile(702);
  const newIdentity = await cycle(qs, 702, marker);

  return { original, restored, cloneRefused, enable, newIdentity, mappings: { m700: node.api.usbMapping('usb-gadget-700'), m702: node.api.usbMapping('usb-gadget-702') } };
}

const KEY = 'PVUG test key file: not a real unRAID licence\n';
/** every USB device the guest has: "<idVendor> <idProduct> <serial>" */
const GUEST_USB_IDS = 'for d in /sys/bus/usb/devices/*; do [ -f $d/serial ] && echo "$(cat $d/idVendor) $(cat $d/idProduct) $(cat $d/serial)"; done';

export async function licenceStick(node: PveNode) {
  const vmid = 703;
  const image = `${IMAGES}/vm${vmid}-licence.img`;
  writeFileSync('/tmp/Pro.key', KEY);
  const create = await cli(['image', 'create', image, '--unraid-licence', '--key-file', '/tmp/Pro.key']);
  const inspect = await cli(['image', 'inspect', image]);
  node.addVm(vmid, 'An unRAID 7.3 VM: boots from its SATA disk, licensed by the stick.\n', { usbLine: false, extra: { memory: '256', args: shellGuestArgs(vmid) } });
  const control = (await PveControl.start(node.api)).rolesAsInstalled();
  let enable;
  try {
    enable = await cli(['enable', String(vmid), '--image', image], { PATH: STANDIN_PATH });
  } finally {
    await control.close();
  }
  node.syncConfigFile(vmid);
  const qs = new QemuServerStandIn(node);
  const start = await qs.start(vmid);
  const facts: Record<string, unknown> = { create, inspect, enable, start, config: node.api.vmConfig(vmid) };
  if (start.started) {
    const opened = await GuestShell.open(qs, vmid);
    const g = opened.shell;
    facts.bootMs = opened.bootMs;
    try {
      if (!g) facts.bootSerial = opened.serial.slice(-2000);
      else {
        facts.found = await g.until('findfs LABEL=UNRAID', /^\/dev\/sd/, 120_000);
        facts.key = await g.run('mount -t vfat -o ro "$(findfs LABEL=UNRAID)" /mnt && ls /mnt/config && cat /mnt/config/Pro.key; umount /mnt');
        facts.usb = await g.run(GUEST_USB_IDS);
      }
    } finally {
      g?.close();
      facts.stop = await qs.stop(vmid);
    }
  }
  facts.after = hostState();
  facts.key = facts.key ?? undefined;
  return { ...facts, keyWritten: KEY };
}
