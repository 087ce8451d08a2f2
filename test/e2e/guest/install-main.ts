/**
 * Runs INSIDE the test VM (bundled by test/e2e/install.test.ts): install.sh for real on a one-node
 * "Proxmox VE" (fake API + stand-ins for pveversion, pveum, pvesm, qm), building dummy_hcd with DKMS
 * from Debian's source of the test kernel; then enable → start (the nested guest boots from the stick,
 * with the DKMS module loaded) → disable → start (no stick) → uninstall, comparing the file list before
 * and after. Writes its facts as JSON to argv[2].
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { startFakePve } from '../../fake-pve/index.js';
import { diffTrees, listTree, type TreeRoot } from './install-files.js';
import { NODE, PveControl } from './install-control.js';
import { IMAGES, markerImage, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';

const KVER = release();
const SRC = '/project';
const CLI = '/usr/local/sbin/pve-usb-gadget';
const STORAGE_CFG = 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nlvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n';
const NOTES = 'unRAID test box.\n\nBackups: nightly.';
const ROOTS: TreeRoot[] = [
  ['/etc', Infinity],
  ['/usr/local', Infinity],
  ['/usr/src', 1],
  ['/var/lib/dkms', Infinity],
  ['/var/lib/vz', Infinity],
  ['/var/lib/pve-usb-gadget', Infinity],
  [`/usr/lib/modules/${KVER}`, 1],
  [`/usr/lib/modules/${KVER}/updates`, Infinity],
  ['/run/pve-usb-gadget', Infinity],
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** every command and its output as it comes, for when a run hangs (/results/install-main.log) */
const LOG = '/results/install-main.log';
const log = (s: string) => appendFileSync(LOG, s);

/** async on purpose: the stand-ins call back into this process while the command runs */
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const t0 = Date.now();
  log(`\n$ ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      log(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      log(d.toString());
    });
    // a command that takes long: show what runs (ps), in the log only
    const watch = setInterval(() => {
      const ps = spawn('ps', ['-eo', 'pid,ppid,etime,stat,args'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let text = '';
      ps.stdout.on('data', (d: Buffer) => (text += d.toString()));
      ps.on('close', () => log(`\n--- still running after ${Math.round((Date.now() - t0) / 1000)} s:\n${text}---\n`));
    }, 60_000);
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code) => {
      clearInterval(watch);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8').trim() : undefined);
const sh = async (line: string) => (await run('sh', ['-c', line])).stdout.trim();

/** which dummy_hcd the kernel runs, and which one modprobe would load */
async function moduleFacts() {
  return {
    loaded: existsSync('/sys/module/dummy_hcd'),
    taint: read('/sys/module/dummy_hcd/taint'),
    modprobePath: await sh('modinfo -n dummy_hcd'),
    modprobeIntree: await sh('modinfo -F intree dummy_hcd'),
    modprobeSigner: await sh('modinfo -F signer dummy_hcd'),
  };
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: install-main <facts.json>');
  const facts: Record<string, unknown> = { kernel: KVER };
  const started = Date.now();
  const timeline: Record<string, number> = {};
  facts.timeline = timeline;
  const save = () => {
    timeline[Object.keys(facts).at(-1) ?? '?'] = Date.now() - started;
    writeFileSync(out, JSON.stringify(facts, null, 2));
  };

  // --- a Proxmox VE node as install.sh finds it
  const api = await startFakePve({ nodes: [NODE], lockTimeoutMs: 3000 });
  const control = await PveControl.start(api);
  for (const d of ['/etc/pve/priv', '/etc/pve/qemu-server', '/var/lib/vz/template/iso']) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync('/etc/pve/pve-root-ca.pem', api.caPem);
  writeFileSync('/etc/pve/storage.cfg', STORAGE_CFG);
  api.addVm({ vmid: 100, node: NODE, config: { name: 'unraid', ostype: 'l26', machine: 'q35', memory: '64', description: NOTES, net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0', boot: 'order=net0' } });
  control.syncConfigFile(100);
  const node = { api, syncConfigFile: (vmid: number) => control.syncConfigFile(vmid) } as unknown as PveNode;
  const qs = new QemuServerStandIn(node);
  const before = listTree(ROOTS);
  timeline.setup = Date.now() - started;
  const configBefore = api.vmConfig(100);

  try {
    facts.pve7 = await run('bash', [`${SRC}/install.sh`, '--api-url', api.url], { PVUG_PVE_VERSION: 'pve-manager/7.4-17/513c62be' });
    const args = [...(process.env.PVUG_TRACE ? ['-x'] : []), `${SRC}/install.sh`, '--api-url', api.url, '--kernel-source', '/usr/src/pvug-kernel-source', '--build-dummy-hcd', '--controllers', '4'];
    facts.install = await run('bash', args);
    save();
    const secret = read('/etc/pve/priv/pve-usb-gadget/token.secret') ?? '';
    const secretStat = existsSync('/etc/pve/priv/pve-usb-gadget/token.secret') ? statSync('/etc/pve/priv/pve-usb-gadget/token.secret') : undefined;
    facts.secret = { uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(secret), mode: secretStat ? (secretStat.mode & 0o777).toString(8) : undefined, uid: secretStat?.uid };
    facts.settings = read('/etc/pve-usb-gadget/settings.ini');
    facts.modprobeConf = read('/etc/modprobe.d/pve-usb-gadget.conf');
    const kernelHook = '/etc/kernel/postinst.d/pve-usb-gadget';
    facts.kernelHook = { mode: existsSync(kernelHook) ? (statSync(kernelHook).mode & 0o777).toString(8) : undefined, text: read(kernelHook) };
    facts.storageCfgInstalled = read('/etc/pve/storage.cfg');
    facts.hook = { mode: existsSync('/var/lib/vz/snippets/pve-usb-gadget-hook.cjs') ? (statSync('/var/lib/vz/snippets/pve-usb-gadget-hook.cjs').mode & 0o777).toString(8) : undefined };
    facts.apiState = { roles: Object.fromEntries(control.roles), users: [...control.users.keys()], acls: control.acls.map((a) => ({ ...a })) };
    // as an earlier release left the cluster: its role had Mapping.Use on all of /mapping/usb, and a VM's
    // mapping exists (its hook made it); the second run must narrow both
    control.roles.set('UsbGadget', ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use', 'VM.Audit', 'VM.Config.HWType', 'VM.Config.Options']);
    api.addUsbMapping('usb-gadget-150', { map: [`node=${NODE},id=1d6b:8096`] });
    facts.again = await run('bash', args);
    facts.apiStateAgain = { roles: Object.fromEntries(control.roles), acls: control.acls.map((a) => ({ ...a })) };
    api.removeUsbMapping('usb-gadget-150');
    facts.modulesAfterInstall = await moduleFacts();
    save();

    // --- enable, start: the nested guest boots from the stick through the DKMS-built dummy_hcd
    const marker = 'PVUG-INSTALLED-100';
    const image = await markerImage('vm100.img', marker);
    facts.enable = await run(CLI, ['enable', '100', '--image', image, '--vendor-id', '0x0781', '--product-id', '0x5571', '--boot']);
    facts.configEnabled = api.vmConfig(100);
    facts.qmConfigEnabled = (await run('qm', ['config', '100'])).stdout;
    facts.mappingEnabled = api.usbMapping('usb-gadget-100');
    facts.aclsEnabled = control.acls.map((a) => ({ ...a }));
    // the qemu-server stand-in runs /project/dist/hook.cjs: make that the installed copy
    await run('mount', ['--bind', '/var/lib/vz/snippets/pve-usb-gadget-hook.cjs', `${SRC}/dist/hook.cjs`]);
    const start = await qs.start(100);
    facts.start = start;
    facts.modulesDuringStart = await moduleFacts();
    facts.boot = start.started ? await qs.waitForSerial(100, marker, 90_000) : { found: false };
    facts.stop = await qs.stop(100);
    save();

    facts.uninstallRefused = await run('bash', [`${SRC}/install.sh`, '--uninstall']);
    facts.hookAfterRefusal = existsSync('/var/lib/vz/snippets/pve-usb-gadget-hook.cjs');
    facts.disable = await run(CLI, ['disable', '100']);
    facts.configDisabled = api.vmConfig(100);
    facts.aclsDisabled = control.acls.map((a) => ({ ...a }));
    facts.configBefore = configBefore;
    facts.qmConfigDisabled = (await run('qm', ['config', '100'])).stdout;
    facts.start2 = await qs.start(100);
    // no stick to remove: power off without the stop hooks (each hook run is a node start, slow under TCG)
    await qs.kill(100);
    await run('umount', [`${SRC}/dist/hook.cjs`]);
    save();

    facts.uninstall = await run('bash', [`${SRC}/install.sh`, '--uninstall']);
    facts.modulesAfterUninstall = await moduleFacts();
    facts.storageCfgAfter = read('/etc/pve/storage.cfg');
    facts.storageCfgBefore = STORAGE_CFG.trim();
    facts.apiStateAfter = { roles: [...control.roles.keys()], users: [...control.users.keys()], acls: control.acls.map((a) => ({ ...a })), mappings: api.usbMappingIds() };
    facts.files = diffTrees(before, listTree(ROOTS));
    facts.secretShown = secret !== '' && JSON.stringify(facts).includes(secret);
    facts.images = IMAGES;
  } finally {
    save();
    await control.close();
    await api.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
