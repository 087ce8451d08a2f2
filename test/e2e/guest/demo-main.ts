/**
 * `npm run demo`, the part INSIDE the test VM: a one-node "Proxmox host" with VM 100 whose notes ask for
 * an emulated stick holding a tiny boot program; start it the way qemu-server does, show the task log
 * lines the hook printed, the guest's own serial output from the stick, then stop it.
 */
import { execFileSync } from 'node:child_process';
import { hostState } from './host-state.js';
import { gadgetNotes, IMAGES, markerImage, PveNode } from './pve-node.js';
import { QemuServerStandIn, type HookRun } from './qemu-server.js';

const say = (s = '') => process.stdout.write(`${s}\n`);
const taskLog = (h: HookRun) => {
  say(`  $ hook 100 ${h.phase}    (exit ${h.code ?? h.signal}, ${h.ms} ms)`);
  for (const l of `${h.stdout}${h.stderr}`.split('\n').filter(Boolean)) say(`  | ${l}`);
};

async function main(): Promise<void> {
  say(`== a Proxmox node in a VM: ${execFileSync('uname', ['-r']).toString().trim()} kernel, Debian node ${process.version}, fake Proxmox API on 127.0.0.1`);
  const node = await PveNode.start();
  const marker = 'Hello from the emulated USB stick of VM 100!';
  await markerImage('vm100.img', marker);
  const notes = gadgetNotes({ image: `${IMAGES}/vm100.img`, vendor_id: '0x0781', product_id: '0x5571', manufacturer: 'SanDisk', product: 'Cruzer Fit' });
  node.addVm(100, notes);
  say('\n== VM 100 notes (Datacenter > 100 > Notes):');
  for (const l of notes.split('\n')) say(`  ${l}`);
  say('  VM config: usb0: mapping=usb-gadget-100, boot: order=usb0');

  const qs = new QemuServerStandIn(node);
  say('\n== qm start 100: the task log');
  const start = await qs.start(100);
  start.hooks.forEach(taskLog);
  if (!start.started) throw new Error(`start failed: ${start.error}`);
  say(`  QEMU: -device qemu-xhci -device usb-host,vendorid=0x${start.usbDevices[0]?.replace(':', ',productid=0x')},bootindex=100`);

  say('\n== pve-usb-gadget status');
  for (const l of execFileSync('/usr/bin/node', ['/project/dist/cli.cjs', 'status']).toString().split('\n').filter(Boolean)) say(`  ${l}`);

  say('\n== the guest boots from the emulated stick (SeaBIOS, TCG: a few seconds); its serial console:');
  const boot = await qs.waitForSerial(100, marker);
  for (const l of boot.serial.split(/\r?\n/).filter((x) => x.trim())) say(`  guest> ${l}`);
  if (!boot.found) throw new Error('the guest did not print its marker');

  say('\n== qm stop 100: the task log');
  (await qs.stop(100)).forEach(taskLog);
  const after = hostState();
  say(`\n== left on the host: gadgets ${JSON.stringify(after.gadgets)}, quirks ${JSON.stringify(after.quirks)}, state files ${JSON.stringify(after.stateFiles)}, dummy_hcd loaded: ${after.modules.dummy_hcd}`);
  say(`\n== the guest's own output from the emulated stick: ${JSON.stringify(marker)}`);
  await node.api.close();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
