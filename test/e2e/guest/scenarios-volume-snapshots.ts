/**
 * Runs INSIDE the test VM (part of the backup group: it needs the qm stand-in and the fake API's control
 * socket backupScenarios sets up). `snapshot` / `rollback` / `delsnapshot` of a stick on an LVM-thin
 * volume of PVE::Storage's stand-in (test/e2e/guest/pve-storage-stub: a loop-device-backed volume whose
 * storage snapshot is a copy of its backing file, as LvmThinPlugin's snap_<vol>_<name> LV is a thin
 * snapshot):
 *   VM 731 runs from usb-thin:vm-731-usb; its guest writes THIN-A at sector 0; `snapshot 731 before`
 *   while it runs (a storage snapshot: the guest is not paused); the guest writes THIN-B; the VM stops
 *   (post-stop releases the volume); `rollback 731 before`: the volume reads THIN-A; `delsnapshot`
 *   removes the storage snapshot and its manifest. And the thick `usb-lvm` volume of VM 730 is refused
 *   (volume_has_feature says no), nothing made.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { bootShell, readAt, writeSector } from './backup-guest.js';
import { shellGuestArgs } from './guest-shell.js';
import type { PveControl } from './install-control.js';
import { gadgetNotes, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';
import { cli } from './scenarios-media.js';
import { HOOK_ENV, LVM_DIR, loopDevices, setUp as setUpStorages } from './scenarios-storage.js';
import { hostState } from './host-state.js';

const THIN_VG = 'pvugthin';
const SNAP_MANIFEST = '/var/lib/pve-usb-gadget/.pve-usb-gadget-snapshots/731/before/manifest.json';

export async function volumeSnapshots(node: PveNode, control: PveControl) {
  setUpStorages(node);
  const backing = `${LVM_DIR}/${THIN_VG}/vm-731-usb.img`;
  const snapFile = `${LVM_DIR}/${THIN_VG}/snap_vm-731-usb_before.img`;
  writeFileSync(backing, Buffer.alloc(16 * 1024 * 1024));
  node.addVm(731, gadgetNotes({ image: 'usb-thin:vm-731-usb', vendor_id: '0x0781', product_id: '0x5591', serial: 'PVUGSNAPSHOT000731' }), { extra: { memory: '256', args: shellGuestArgs(731) } });
  const qs = new QemuServerStandIn(node, { hookEnv: HOOK_ENV });
  control.guests = { qmpStatus: (v) => qs.qmpStatus(v), suspend: (v) => qs.qmp(v, 'stop'), resume: (v) => qs.qmp(v, 'cont') };
  const f: Record<string, unknown> = {};
  // thick LVM: Proxmox cannot snapshot a raw LV, so the stick of 730 is refused before anything is made
  f.thickRefused = await cli(['snapshot', '730', 'thick'], HOOK_ENV);
  f.thickConf = readAt('/etc/pve/qemu-server/730.conf', 0, 65536);
  const boot = await bootShell(qs, 731);
  const g = boot.shell;
  f.start731 = boot.start;
  f.boot731 = { ms: boot.bootMs, serial: boot.bootSerial, disk: boot.disk };
  if (!g) {
    f.stop731 = await qs.stop(731);
    return f;
  }
  try {
    f.thinA = await g.run(writeSector(0, 'THIN-A'));
    f.thinSnap = await cli(['snapshot', '731', 'before'], HOOK_ENV);
    f.thinSnapFile = existsSync(snapFile) ? readAt(snapFile, 0, 6) : '(no snapshot)';
    f.thinManifest = existsSync(SNAP_MANIFEST) ? readAt(SNAP_MANIFEST, 0, 8192) : '';
    f.thinB = await g.run(writeSector(0, 'THIN-B'));
  } finally {
    g.close();
    f.stop731 = await qs.stop(731);
  }
  f.thinBeforeRollback = readAt(backing, 0, 6);
  f.thinRollback = await cli(['rollback', '731', 'before'], HOOK_ENV);
  f.thinAfterRollback = readAt(backing, 0, 6);
  f.thinDel = await cli(['delsnapshot', '731', 'before'], HOOK_ENV);
  f.thinSnapGone = !existsSync(snapFile) && !existsSync(SNAP_MANIFEST);
  f.thinConfAfter = readAt('/etc/pve/qemu-server/731.conf', 0, 65536);
  f.thinLoops = loopDevices();
  f.afterThin = hostState();
  return f;
}
