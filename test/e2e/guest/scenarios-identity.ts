/**
 * Runs INSIDE the test VM. The licence identity (unRAID GUID) through the qemu-server stand-in:
 *  1. VM 700 with vendor_id, product_id and serial pinned starts; the host sees its identity;
 *  2. "restore as 701, VM 700 gone": 700's config (notes, usb0: mapping=usb-gadget-700) copied to 701
 *     with a new smbios1 uuid, VM 700 destroyed (its mapping lingers, as after qm destroy); 701 starts
 *     with the same VID, PID and serial, the nested guest boots from it, pre-start warns about the line;
 *  3. "clone with the original present": 701's config copied to 702: pre-start refuses it, naming both
 *     VMs, and nothing is left on the host;
 *  4. 702 given a new identity the way `enable --new-identity` writes it (the same pure functions:
 *     the CLI needs `qm`, which this VM does not have) starts with another GUID.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { identityKeys } from '../../../src/cli/enable-identity.js';
import { setGadgetKeys } from '../../../src/cli/notes-edit.js';
import { hostState, usbIdentity } from './host-state.js';
import { gadgetNotes, IMAGES, markerImage, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';

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

  const conf = node.api.vmConfig(702);
  const notes = String(conf.description);
  const fresh = setGadgetKeys(notes, identityKeys(notes, 702, undefined, { newIdentity: true }));
  node.api.removeVm(702);
  node.api.addVm({ vmid: 702, node: 'pve', config: { ...Object.fromEntries(Object.entries(conf).map(([k, v]) => [k, String(v)])), description: fresh, usb0: 'mapping=usb-gadget-702' }, status: 'stopped' });
  node.syncConfigFile(702);
  const newIdentity = await cycle(qs, 702, marker);

  return { original, restored, cloneRefused, newIdentity, mappings: { m700: node.api.usbMapping('usb-gadget-700'), m702: node.api.usbMapping('usb-gadget-702') } };
}
