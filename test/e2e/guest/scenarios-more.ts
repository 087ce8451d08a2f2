/** Runs INSIDE the test VM: two VMs at once, the attach helper, leftovers after faults, refusals. */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostState } from './host-state.js';
import { gadgetNotes, IMAGES, markerImage, type PveNode } from './pve-node.js';
import { QemuServerStandIn, runHook } from './qemu-server.js';
import { qmpCommand } from './qmp.js';

export async function twoVms(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  for (const [vmid, pid] of [[101, '0x5581'], [102, '0x5582']] as const) {
    await markerImage(`vm${vmid}.img`, `PVUG-MARKER-${vmid}`);
    node.addVm(vmid, gadgetNotes({ image: `${IMAGES}/vm${vmid}.img`, vendor_id: '0x0781', product_id: pid }));
  }
  const start101 = await qs.start(101);
  const start102 = await qs.start(102);
  const during = hostState();
  const [boot101, boot102] = await Promise.all([qs.waitForSerial(101, 'PVUG-MARKER-101'), qs.waitForSerial(102, 'PVUG-MARKER-102')]);
  const stop101 = await qs.stop(101);
  const stop102 = await qs.stop(102);
  return { start101, start102, during, boot101, boot102, stop101, stop102, after: hostState() };
}

/**
 * A VM without a usbN line: pre-start succeeds, and a detached helper adds the line once the start is
 * over; Proxmox hot-plugs it into the running VM (QMP device_add), as qemu-server does for a modern guest.
 */
export async function attachHelper(node: PveNode) {
  await markerImage('vm103.img', 'PVUG-MARKER-103');
  node.addVm(103, gadgetNotes({ image: `${IMAGES}/vm103.img`, vendor_id: '0x0781', product_id: '0x5583', product: 'PVUG Hotplug' }), { usbLine: false });
  const qs = new QemuServerStandIn(node);
  const start = await qs.start(103);
  let usb0: unknown;
  // the helper is a separate node process: give it up to 2 minutes on a slow machine
  for (let i = 0; i < 240 && usb0 === undefined; i++) {
    await sleep(500);
    usb0 = node.api.vm(103).config.usb0;
  }
  const pending = node.api.vm(103).pending;
  // what the running QEMU has on its xHCI bus now (usb-host shows the host device's product string)
  const infoUsb = start.started ? String(await qmpCommand(qs.qmpSocket(103), 'human-monitor-command', { 'command-line': 'info usb' })) : '';
  const stop = await qs.stop(103);
  return { start, usb0, pending, hotplugged: qs.hotplugged, hotplugErrors: qs.hotplugErrors, infoUsb, stop, after: hostState() };
}

/**
 * A GUI/API start right after the mapping changed (the notes got a new product id): the start resolves
 * the mapping as its worker cached it before pre-start, so it fails; pre-start said so and what to do,
 * and the next start works. The same change seen by a `qm start` from a shell works the first time.
 */
export async function staleMappingStart(node: PveNode) {
  await markerImage('vm105.img', 'PVUG-MARKER-105');
  node.addVm(105, gadgetNotes({ image: `${IMAGES}/vm105.img`, vendor_id: '0x0781', product_id: '0x5585' }));
  node.api.addUsbMapping('usb-gadget-105', { map: ['node=pve,id=0781:5584'] });
  const qs = new QemuServerStandIn(node);
  const first = await qs.start(105, {}, 'api');
  const mappingAfterFirst = node.api.usbMapping('usb-gadget-105')?.map;
  const second = await qs.start(105, {}, 'api');
  const boot = second.started ? await qs.waitForSerial(105, 'PVUG-MARKER-105') : undefined;
  await qs.stop(105);
  node.api.setVmOption(105, 'description', gadgetNotes({ image: `${IMAGES}/vm105.img`, vendor_id: '0x0781', product_id: '0x5587' }));
  const shell = await qs.start(105, {}, 'shell');
  const stop = await qs.stop(105);
  return { first, mappingAfterFirst, second, boot, shell, stop, after: hostState() };
}

/**
 * post-stop as PVE 8 runs it (from qmeventd's `qm cleanup`, after QEMU exited): a restart right after a
 * stop starts the VM before that cleanup; the late cleanup finds QEMU running and aborts without post-stop
 * (qm.pm, #7119), so the new run keeps its stick; the stop after it is cleaned up by its own cleanup.
 */
export async function lateCleanup(node: PveNode) {
  await markerImage('vm106.img', 'PVUG-MARKER-106');
  node.addVm(106, gadgetNotes({ image: `${IMAGES}/vm106.img`, vendor_id: '0x0781', product_id: '0x5586' }));
  // qemu-server waits 30 s for a running QEMU before it aborts; 3 s keeps the test short, same outcome
  const qs = new QemuServerStandIn(node, { postStop: 'qmeventd', cleanupDelayMs: 1500, cleanupRunningWaitMs: 3000 });
  const start1 = await qs.start(106);
  const boot1 = start1.started ? await qs.waitForSerial(106, 'PVUG-MARKER-106') : undefined;
  const stop1 = await qs.stop(106);
  const start2 = await qs.start(106);
  const cleanup1 = await qs.cleanups.get(106);
  const duringSecondRun = hostState();
  const boot2 = start2.started ? await qs.waitForSerial(106, 'PVUG-MARKER-106') : undefined;
  const stop2 = await qs.stop(106);
  const cleanup2 = await qs.cleanups.get(106);
  return { start1, boot1, stop1, start2, cleanup1, duringSecondRun, boot2, stop2, cleanup2, after: hostState() };
}

const STEPS = ['recorded', 'quirk', 'configfs', 'bound', 'enumerated', 'mapping'] as const;

/** SIGKILL the hook after each step; then a normal start must boot and a stop must leave nothing. */
export async function faultScenarios(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  await markerImage('vm300.img', 'PVUG-MARKER-300');
  node.addVm(300, gadgetNotes({ image: `${IMAGES}/vm300.img`, vendor_id: '0x0781', product_id: '0x5590' }));
  const killed: Record<string, unknown> = {};
  for (const step of STEPS) {
    const crash = await runHook(300, 'pre-start', { PVE_USB_GADGET_FAULT: step });
    const leftover = hostState();
    // the guest boot is the slow part (a nested QEMU): prove it once, after the worst leftover (a bound
    // gadget); for the other steps the hook runs alone
    let recover;
    let boot;
    let stop;
    if (step === 'bound') {
      const start = await qs.start(300);
      recover = start.hooks[0];
      boot = start.started ? await qs.waitForSerial(300, 'PVUG-MARKER-300') : undefined;
      stop = (await qs.stop(300))[1];
    } else {
      recover = await runHook(300, 'pre-start');
      stop = await runHook(300, 'post-stop');
    }
    killed[step] = { crash, leftover, recover, boot, stop, after: hostState() };
  }
  // post-stop never ran (QEMU gone, no hook): the next start recovers
  const first = await qs.start(300);
  await qs.kill(300);
  const skipped = hostState();
  const second = await qs.start(300);
  const boot = second.started ? await qs.waitForSerial(300, 'PVUG-MARKER-300') : undefined;
  const stop = await qs.stop(300);
  return { killed, postStopSkipped: { first, skipped, second, boot, stop, after: hostState() } };
}

/** Each refusal: pre-start exits non-zero with a clear message and leaves nothing behind. */
export async function refusalScenarios(node: PveNode) {
  const qs = new QemuServerStandIn(node);
  await markerImage('vm400.img', 'PVUG-MARKER-400');
  await markerImage('shared.img', 'PVUG-SHARED');
  // a running VM that holds an id and an image
  node.addVm(400, gadgetNotes({ image: `${IMAGES}/vm400.img`, vendor_id: '0x0781', product_id: '0x5600' }));
  const holder = await qs.start(400);
  const cases: Record<string, string> = {
    badNotes: gadgetNotes({ image: `${IMAGES}/x.img`, vendr_id: '0x0781' }),
    missingImage: gadgetNotes({ image: `${IMAGES}/does-not-exist.img`, product_id: '0x5601' }),
    usbIdInUse: gadgetNotes({ image: `${IMAGES}/shared.img`, vendor_id: '0x0781', product_id: '0x5600' }),
    imageInUse: gadgetNotes({ image: `${IMAGES}/vm400.img`, vendor_id: '0x0781', product_id: '0x5602' }),
    outsideAllowedDirs: gadgetNotes({ image: '/etc/shadow', product_id: '0x5603' }),
  };
  const results: Record<string, unknown> = {};
  let vmid = 401;
  for (const [name, notes] of Object.entries(cases)) {
    node.addVm(vmid, notes);
    const before = hostState();
    const start = await qs.start(vmid);
    results[name] = { vmid, start, before, after: hostState(), stateFile: existsSync(`/run/pve-usb-gadget/${vmid}.json`) };
    vmid++;
  }
  const stopHolder = await qs.stop(400);
  return { holder, results, stopHolder, after: hostState(), post: await runHook(999, 'post-stop') };
}
