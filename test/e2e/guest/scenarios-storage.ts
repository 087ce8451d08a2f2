/**
 * Runs INSIDE the test VM: sticks backed by Proxmox volumes (image = storage:volume) on a real kernel.
 *
 * PVE::Storage is replaced by test/e2e/guest/pve-storage-stub (on PERL5LIB for the hook): its `lvm`
 * storage keeps each logical volume as a backing file and "activates" it by attaching a loop device and
 * linking /dev/<vg>/<lv> to it, as LVM links /dev/<vg>/<lv> to /dev/dm-N. Everything else is the real
 * hook: resolution, the volume image policy on the real block device, the gadget, the nested guest
 * booting from it, release at post-stop. Ceph cannot run here (see docs/storage.md), so the RBD part
 * checks the kernel's rbd sysfs interface the hook unmaps through.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { nodeHostFs } from '../../../src/apply/host-fs.js';
import { errnoOf } from '../../../src/errors.js';
import { unmapRbd } from '../../../src/storage/rbd-sysfs.js';
import { writeMarkerDiskImage } from '../harness/boot-sector.js';
import { bootNestedGuest } from '../harness/nested-guest.js';
import { hostState } from './host-state.js';
import { gadgetNotes, SETTINGS, type PveNode } from './pve-node.js';
import { QemuServerStandIn, runHook } from './qemu-server.js';

export const LVM_DIR = '/var/lib/pvug-stub-lvm';
const STUB_LOG = '/tmp/pve-storage-stub.log';
const SHARED = '/mnt/pve/shared';
export const HOOK_ENV = {
  PERL5LIB: '/project/test/e2e/guest/pve-storage-stub',
  PVUG_STUB_LOOP: '1',
  PVUG_STUB_LVM_DIR: LVM_DIR,
  PVUG_STUB_LOG: STUB_LOG,
};

const sh = (script: string) => execFileSync('sh', ['-c', script]).toString();
const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
export const loopDevices = () => sh('losetup --list --noheadings --output NAME,BACK-FILE || true').trim();
const stubCalls = () => (read(STUB_LOG) ?? '').trim().split('\n').filter(Boolean);
const record = (vmid: number) => {
  const text = read(`/run/pve-usb-gadget/${vmid}.json`);
  return text ? (JSON.parse(text) as { luns: unknown[] }) : undefined;
};
const status = () =>
  JSON.parse(execFileSync('/usr/bin/node', ['/project/dist/cli.cjs', 'status', '--json'], { env: { ...process.env, PVE_USB_GADGET_SETTINGS: SETTINGS } }).toString()) as unknown;

/** storage.cfg, backing files, and settings that allow the three storages on node `nodeName` (scenarios-backup.ts too). */
export function setUp(node: PveNode, nodeName = 'pve'): void {
  sh('modprobe loop');
  mkdirSync(`${LVM_DIR}/pvugvg`, { recursive: true });
  mkdirSync(`${LVM_DIR}/pvugthin`, { recursive: true });
  mkdirSync(`${SHARED}/images`, { recursive: true });
  writeFileSync(
    '/etc/pve/storage.cfg',
    'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,images\n\n' +
      'lvm: usb-lvm\n\tvgname pvugvg\n\tcontent images\n\n' +
      'lvmthin: usb-thin\n\tvgname pvugthin\n\tthinpool data\n\tcontent images\n\n' +
      `dir: shared\n\tpath ${SHARED}\n\tshared 1\n\tcontent images,iso\n`,
  );
  node.writeSettings({});
  const text = readFileSync(SETTINGS, 'utf8')
    .replace('[images]\n', '[images]\nallowed_storages = usb-lvm, usb-thin, shared\n')
    .replace(/^node = .*$/m, `node = ${nodeName}`);
  writeFileSync(SETTINGS, text);
}

/**
 * A stick on an LVM volume: activated to a loop device, booted by the nested guest, released at stop.
 * The guest is started directly (qemu-server's usb-host device by VID:PID) rather than through the
 * qemu-server stand-in, to spare the post-start and pre-stop runs: each hook run costs a node start.
 */
export async function blockVolume(node: PveNode) {
  setUp(node);
  const marker = 'PVUG-LVM-600';
  await writeMarkerDiskImage(`${LVM_DIR}/pvugvg/vm-600-usb.img`, marker, 8 * 1024 * 1024);
  node.addVm(600, gadgetNotes({ image: 'usb-lvm:vm-600-usb', vendor_id: '0x0781', product_id: '0x5660', speed: 'high' }));
  const pre = await runHook(600, 'pre-start', HOOK_ENV);
  const lvLink = existsSync('/dev/pvugvg/vm-600-usb') ? readlinkSync('/dev/pvugvg/vm-600-usb') : undefined;
  const lunFile = read('/sys/kernel/config/usb_gadget/pvug-600/functions/mass_storage.0/lun.0/file')?.trim();
  const during = { state: hostState(), record: record(600), loops: loopDevices(), lvLink, lunFile, status: status() };
  const boot =
    pre.code === 0
      ? await bootNestedGuest({
          qemuArgs: ['-device', 'qemu-xhci,id=xhci', '-device', 'usb-host,bus=xhci.0,vendorid=0x0781,productid=0x5660,bootindex=0'],
          marker,
          timeoutMs: 180_000,
        })
      : undefined;
  const post = await runHook(600, 'post-stop', HOOK_ENV);
  return {
    pre,
    during,
    boot: boot && { found: boot.found, serial: boot.serial, ms: boot.elapsedMs, qemuStderr: boot.qemuStderr },
    post,
    after: { state: hostState(), loops: loopDevices(), lvLinkGone: !existsSync('/dev/pvugvg/vm-600-usb'), stub: stubCalls() },
  };
}

/**
 * A stick on a shared storage, started on node pve, then (the VM offline-migrated or recovered by HA:
 * its config moved) on node pve2, twice: the mapping gains one entry per node, never a second one.
 */
export async function sharedMigration(node: PveNode) {
  setUp(node);
  mkdirSync(`${SHARED}/images/601`, { recursive: true });
  await writeMarkerDiskImage(`${SHARED}/images/601/vm-601-usb.raw`, 'PVUG-SHARED-601', 8 * 1024 * 1024);
  node.addVm(601, gadgetNotes({ image: 'shared:601/vm-601-usb.raw', vendor_id: '0x0781', product_id: '0x5661' }));
  node.api.addNode('pve2');
  const preA = await runHook(601, 'pre-start', HOOK_ENV);
  const lunFile = read('/sys/kernel/config/usb_gadget/pvug-601/functions/mass_storage.0/lun.0/file')?.trim();
  const recordA = record(601);
  const postA = await runHook(601, 'post-stop', HOOK_ENV);
  const mapA = node.api.usbMapping('usb-gadget-601')?.map;

  // the config moves to pve2; this "host" now plays pve2
  node.api.moveVm(601, 'pve2');
  setUp(node, 'pve2');
  node.syncConfigFile(601);
  const preB = await runHook(601, 'pre-start', HOOK_ENV);
  const postB = await runHook(601, 'post-stop', HOOK_ENV);
  setUp(node, 'pve');
  return { preA, lunFile, recordA, postA, mapA, preB, postB, mapB: node.api.usbMapping('usb-gadget-601')?.map, after: hostState() };
}

/** Volumes the hook must refuse: the start fails with a clear message and leaves nothing behind. */
export async function volumeRefusals(node: PveNode) {
  setUp(node);
  mkdirSync(`${SHARED}/images/602`, { recursive: true });
  writeFileSync(`${SHARED}/images/602/vm-602-usb.qcow2`, Buffer.alloc(1024 * 1024));
  // the other refusals (storage not allowed, another VM's volume, ...) are unit-tested: same code path
  const cases: Record<string, [number, string]> = {
    qcow2: [602, 'shared:602/vm-602-usb.qcow2'],
    missingVolume: [605, 'usb-lvm:vm-605-nothing'],
  };
  const qs = new QemuServerStandIn(node, { hookEnv: HOOK_ENV });
  const out: Record<string, unknown> = {};
  for (const [name, [vmid, image]] of Object.entries(cases)) {
    node.addVm(vmid, gadgetNotes({ image, vendor_id: '0x0781', product_id: `0x56${vmid - 540}` }));
    const callsBefore = stubCalls().length;
    const start = await qs.start(vmid);
    out[name] = { start, stubCalls: stubCalls().slice(callsBefore), loops: loopDevices(), state: hostState(), record: record(vmid) };
  }
  return out;
}

/** The kernel's rbd bus: what post-stop unmaps through, checked without a Ceph cluster. */
export async function rbdSysfs(_node: PveNode) {
  sh('modprobe rbd');
  const bus = '/sys/bus/rbd';
  const files = ['add', 'remove', 'add_single_major', 'remove_single_major'].filter((f) => existsSync(`${bus}/${f}`));
  let removeMissing: string | undefined;
  try {
    writeFileSync(`${bus}/remove_single_major`, '4242');
  } catch (err) {
    removeMissing = errnoOf(err);
  }
  const unmapNothing = unmapRbd(nodeHostFs('/'), { id: 4242, pool: 'vms', namespace: '', image: 'vm-600-usb', snapshot: '-' });
  return { files, devices: sh(`ls ${bus}/devices`).trim(), removeMissing, unmapNothing };
}
