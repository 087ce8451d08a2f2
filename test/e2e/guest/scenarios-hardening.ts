/**
 * Runs INSIDE the test VM: each documented failure outcome on a real kernel, and the concurrency soak.
 * Every scenario restores the default settings and leaves the host clean for the next.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { hostState } from './host-state.js';
import { gadgetNotes, IMAGES, markerImage, TOKEN_ID, type PveNode } from './pve-node.js';
import { QemuServerStandIn, runHook } from './qemu-server.js';

const sh = (script: string) => execFileSync('sh', ['-c', script]).toString();

/** Stopping one VM while another still has its stick keeps the modules; the last stop unloads them. */
export async function moduleBusy(node: PveNode) {
  for (const [vmid, pid] of [[500, '0x5700'], [501, '0x5701']] as const) {
    await markerImage(`vm${vmid}.img`, `M${vmid}`);
    node.addVm(vmid, gadgetNotes({ image: `${IMAGES}/vm${vmid}.img`, vendor_id: '0x0781', product_id: pid }));
  }
  const up = [await runHook(500, 'pre-start'), await runHook(501, 'pre-start')];
  const down500 = await runHook(500, 'post-stop');
  const afterFirst = hostState();
  const stillEnumerated = sh('cat /sys/class/udc/*/state');
  const down501 = await runHook(501, 'post-stop');
  return { up, down500, afterFirst, stillEnumerated, down501, after: hostState() };
}

/** The kernel refuses a LUN mid-build (a cdrom image below 300 sectors): undone, nothing left. */
export async function kernelRefusal(node: PveNode) {
  await markerImage('vm510.img', 'M510');
  writeFileSync('/var/lib/vz/template/iso/tiny.iso', Buffer.alloc(100 * 1024));
  node.addVm(510, gadgetNotes({ image: `${IMAGES}/vm510.img`, vendor_id: '0x0781', product_id: '0x5710' }, '\n[usb-gadget.lun1]\nimage = /var/lib/vz/template/iso/tiny.iso\ncdrom = true\n'));
  const pre = await runHook(510, 'pre-start');
  return { pre, after: hostState() };
}

/** Every controller taken (one by us, one by somebody else's gadget): refused, the foreign gadget untouched. */
export async function noFreeController(node: PveNode) {
  // the controller count is fixed when dummy_hcd loads: start from an unloaded module
  sh('modprobe -r dummy_hcd || true');
  node.writeSettings({ controllers: 2 });
  await markerImage('vm520.img', 'M520');
  await markerImage('vm521.img', 'M521');
  // the foreign gadget has an image of its own: the refusal must be about the controller, not the file
  await markerImage('foreign.img', 'MFOR');
  node.addVm(520, gadgetNotes({ image: `${IMAGES}/vm520.img`, vendor_id: '0x0781', product_id: '0x5720' }));
  node.addVm(521, gadgetNotes({ image: `${IMAGES}/vm521.img`, vendor_id: '0x0781', product_id: '0x5721' }));
  const first = await runHook(520, 'pre-start');
  const g = '/sys/kernel/config/usb_gadget/foreign';
  sh(`mkdir ${g} && echo 0x1234 >${g}/idVendor && echo 0x5678 >${g}/idProduct && mkdir ${g}/functions/mass_storage.x ${g}/configs/c.1 &&
      echo ${IMAGES}/foreign.img >${g}/functions/mass_storage.x/lun.0/file && ln -s ${g}/functions/mass_storage.x ${g}/configs/c.1/ &&
      echo dummy_udc.1 >${g}/UDC`);
  const before = hostState();
  const refused = await runHook(521, 'pre-start');
  const after = hostState();
  sh(`echo >${g}/UDC; rm ${g}/configs/c.1/mass_storage.x; rmdir ${g}/configs/c.1 ${g}/functions/mass_storage.x ${g}`);
  const stop = await runHook(520, 'post-stop');
  node.writeSettings({});
  return { first, before, refused, after, stop, end: hostState() };
}

/** The host never enumerates (its dummy root hubs deauthorized): timeout, undone, nothing left. */
export async function enumerationTimeout(node: PveNode) {
  node.writeSettings({ enumerationTimeoutS: 2, keepModules: true });
  await markerImage('vm530.img', 'M530');
  node.addVm(530, gadgetNotes({ image: `${IMAGES}/vm530.img`, vendor_id: '0x0781', product_id: '0x5730' }));
  sh('modprobe -a libcomposite usb_f_mass_storage usb_storage && modprobe dummy_hcd num=4 is_high_speed=1 is_super_speed=1');
  const hubs = readdirSync('/sys/bus/usb/devices').filter((d) => /^usb\d+$/.test(d));
  for (const h of hubs) writeFileSync(`/sys/bus/usb/devices/${h}/authorized`, '0');
  const pre = await runHook(530, 'pre-start');
  const after = hostState();
  for (const h of hubs) writeFileSync(`/sys/bus/usb/devices/${h}/authorized`, '1');
  node.writeSettings({});
  sh('modprobe -r dummy_hcd usb_f_mass_storage libcomposite || true');
  return { pre, after };
}

/** API down: the hook reads the local config, warns, and the gadget still goes up for the existing mapping. */
export async function apiDown(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  await markerImage('vm540.img', 'PVUG-MARKER-540');
  node.addVm(540, gadgetNotes({ image: `${IMAGES}/vm540.img`, vendor_id: '0x0781', product_id: '0x5740' }));
  node.api.addUsbMapping('usb-gadget-540', { map: ['node=pve,id=0781:5740'], description: 'made earlier' });
  node.syncConfigFile(540);
  await node.api.down();
  let start;
  try {
    start = await qs.start(540);
  } finally {
    await node.api.up();
  }
  const boot = start.started ? await qs.waitForSerial(540, 'PVUG-MARKER-540') : undefined;
  const stop = await qs.stop(540);
  return { start, boot, stop, after: hostState() };
}

/** The token lost Mapping.Modify: the start is aborted with PVE's permission message, nothing left. */
export async function api403(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  await markerImage('vm550.img', 'M550');
  node.addVm(550, gadgetNotes({ image: `${IMAGES}/vm550.img`, vendor_id: '0x0781', product_id: '0x5750' }));
  node.api.setTokenAcl(TOKEN_ID, { '/vms': ['VM.Audit', 'VM.Config.HWType'], '/mapping/usb': ['Mapping.Audit', 'Mapping.Use'] });
  let start;
  try {
    start = await qs.start(550);
  } finally {
    node.api.setTokenAcl(TOKEN_ID, { '/vms': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'], '/mapping/usb': ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'] });
  }
  return { start, after: hostState(), mapping: node.api.usbMapping('usb-gadget-550') ?? null };
}

/** A mapping with a stale entry for this node and one for another node: ours is updated, theirs kept. */
export async function mappingConflict(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  await markerImage('vm560.img', 'PVUG-MARKER-560');
  node.addVm(560, gadgetNotes({ image: `${IMAGES}/vm560.img`, vendor_id: '0x0781', product_id: '0x5760' }));
  node.api.addUsbMapping('usb-gadget-560', { map: ['node=pve,id=dead:beef', 'node=pve2,id=0781:5760'] });
  const start = await qs.start(560);
  const mapping = node.api.usbMapping('usb-gadget-560');
  const boot = start.started ? await qs.waitForSerial(560, 'PVUG-MARKER-560') : undefined;
  const stop = await qs.stop(560);
  return { start, mapping, boot, stop, after: hostState() };
}

/** N VMs' pre-starts at once, then their post-stops at once, `cycles` times (no nested guests). */
export async function concurrency(node: PveNode) {
  const n = Number(process.env.PVUG_SOAK_VMS ?? 16);
  const cycles = Number(process.env.PVUG_SOAK_CYCLES ?? 2);
  node.writeSettings({ controllers: 16 });
  const vmids = Array.from({ length: n }, (_, i) => 600 + i);
  for (const vmid of vmids) {
    await markerImage(`vm${vmid}.img`, `M${vmid}`, 1024 * 1024);
    node.addVm(vmid, gadgetNotes({ image: `${IMAGES}/vm${vmid}.img`, vendor_id: '0x0781', product_id: `0x${(0x5800 + vmid - 600).toString(16)}` }));
  }
  const results = [];
  for (let c = 0; c < cycles; c++) {
    const t0 = Date.now();
    const ups = await Promise.all(vmids.map((v) => runHook(v, 'pre-start')));
    const upMs = Date.now() - t0;
    const during = hostState();
    const states = sh('cat /sys/class/udc/*/state').split('\n').filter(Boolean);
    const t1 = Date.now();
    const downs = await Promise.all(vmids.map((v) => runHook(v, 'post-stop')));
    const downMs = Date.now() - t1;
    results.push({
      upFailures: ups.filter((u) => u.code !== 0).map((u) => u.stderr),
      downFailures: downs.filter((d) => d.code !== 0).map((d) => d.stderr),
      gadgets: during.gadgets.length,
      distinctUdcs: new Set(Object.values(during.bound)).size,
      configured: states.filter((s) => s === 'configured').length,
      after: hostState(),
      lockHolders: sh('ps -eo args | grep -c "[f]lock -w" || true').trim(),
      upMs,
      downMs,
    });
  }
  node.writeSettings({});
  return { n, cycles, results };
}
