/**
 * Runs INSIDE the test VM. The stick in vzdump backups, end to end: the hook installed the way install.sh
 * installs it (`backup install-hook`: /etc/vzdump.conf `script:` → the wrapper → the CLI), the vzdump
 * stand-in (test/fake-pve/vzdump.ts, after PVE/VZDump.pm) running it with vzdump's environment, the
 * qemu-server stand-in as the guest's QEMU (paused start with `lock: backup`, QMP stop/cont behind the
 * qm stand-in's suspend/resume), and the nested Linux guest (guest-shell.ts) writing to the stick.
 *  1. VM 720 runs; the guest writes GEN1 at sector 0, then a writer appends numbered records from
 *     sector 2048 on, without pause, while a snapshot-mode backup runs (the hook pauses the guest for
 *     its copy: no reflink on this filesystem); after the backup the guest writes GEN3 at sector 0.
 *  2. "qmrestore as 721, VM 720 gone": 720's config copied to 721, 720 removed, `restore 721 --from
 *     <archive>` writes the copy back; the image has GEN1 and an unbroken run of records (one point in
 *     time), fewer than the writer wrote; 721's guest reads GEN1.
 *  3. Two stop-mode backups of the stopped 721 with keep-last 1: QEMU starts paused with `lock: backup`,
 *     our pre-start copies the stick before the guest runs; the older copy is pruned with its archive.
 *  4. `snapshot` / `rollback` / `delsnapshot` of the stopped 721 (qm is the stand-in, which writes the
 *     config's [name] sections as qemu-server does): the stick comes back to the snapshot's content;
 *     bad names and a second snapshot of one name are refused; one snapshot of the running 721 (the guest
 *     paused for the copy) made and deleted.
 *  5. A copy that fails (the image file deleted under the running stick): the backup task stays green,
 *     the task log says the stick was not saved.
 *  6. A stick on the loop-device "LVM" volume of scenarios-storage.ts (PVE::Storage's stand-in on
 *     PERL5LIB): VM 730 runs, its guest writes VOL1 at sector 0, a snapshot-mode backup copies the
 *     device the live stick serves (method pause: a device has no reflink), the guest writes VOL3, the
 *     VM stops (the volume is deactivated); a stop-mode backup, whose pre-start activates the volume and
 *     copies it once the gadget is built (VOL3); `restore 730 --from <the snapshot-mode archive>` (no
 *     --to: the manifest's volume) activates it again, writes the copy onto it and deactivates it: the
 *     backing file is the copy, byte for byte (VOL1).
 *  7. snapshot / rollback / delsnapshot of a stick on an LVM-thin volume (scenarios-volume-snapshots.ts).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFakeVzdump, type FakeFiles, type FakeGuest, type FakeQemu, type Mode } from '../../fake-pve/vzdump.js';
import { bootShell, readAt, writeSector } from './backup-guest.js';
import { shellGuestArgs } from './guest-shell.js';
import { hostState } from './host-state.js';
import { PveControl } from './install-control.js';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';
import { QemuServerStandIn } from './qemu-server.js';
import { cli } from './scenarios-media.js';
import { HOOK_ENV, LVM_DIR, loopDevices, setUp as setUpStorages } from './scenarios-storage.js';
import { volumeSnapshots } from './scenarios-volume-snapshots.js';

const DUMP = '/var/lib/vz/dump';
const WRAPPER = '/usr/local/lib/pve-usb-gadget/vzdump-hook';
const CLI_WRAPPER = '/usr/local/sbin/pve-usb-gadget';
const QM = '/usr/local/bin/qm';
const RECORDS_AT = 2048;

const files: FakeFiles = {
  exists: (p) => existsSync(p),
  rename: (a, b) => renameSync(a, b),
  unlink: (p) => unlinkSync(p),
  mkdir: (p) => mkdirSync(p, { recursive: true }),
  rmdir: (p) => rmdirSync(p),
  write: (p, text) => writeFileSync(p, text),
  list: (dir) => readdirSync(dir),
};

const WRITER = `sh -c 'n=0; while :; do printf "GEN2-%06d\\n" $n | dd of=/dev/sda bs=512 seek=$((${RECORDS_AT}+n)) count=1 conv=sync,fsync 2>/dev/null || exit; n=$((n+1)); echo $n >/tmp/w.count; done' >/dev/null 2>&1 & echo $! >/tmp/w.pid; echo started`;

/** The writer's records in an image: how many from the start are whole and in order, and whether any come after a gap. */
export function recordRun(path: string, max: number): { run: number; afterGap: number } {
  let run = 0;
  while (run < max && readAt(path, (RECORDS_AT + run) * 512, 11) === `GEN2-${String(run).padStart(6, '0')}`) run++;
  let afterGap = 0;
  for (let i = run; i < max; i++) if (readAt(path, (RECORDS_AT + i) * 512, 4) === 'GEN2') afterGap++;
  return { run, afterGap };
}

class BackupRig {
  readonly taskLog: string[] = [];
  constructor(
    readonly node: PveNode,
    readonly qs: QemuServerStandIn,
  ) {}

  /** what qemu-server does for vzdump (PVE/VZDump/QemuServer.pm), on the stand-in's QEMU */
  private qemu: FakeQemu = {
    shutdown: async (g) => void (await this.qs.stop(g.vmid), (g.running = false)),
    startPaused: async (g) => {
      const r = await this.qs.start(g.vmid, {}, 'shell', { paused: true });
      if (!r.started) throw new Error(r.error ?? 'start failed');
      g.running = true;
    },
    cont: async (g) => this.qs.qmp(g.vmid, 'cont'),
    stop: async (g) => void (await this.qs.stop(g.vmid), (g.running = false)),
    writeArchive: async (g, tmptar) => writeFileSync(tmptar, `stand-in archive of VM ${g.vmid}\n`),
  };

  /** the script as vzdump runs it: exactly the environment run_hook_script gives (no PATH) */
  private script = (argv: string[], env: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const child = spawn(WRAPPER, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => {
        this.taskLog.push(`[${argv.join(' ')}] ${out}`);
        resolve(code ?? 255);
      });
    });

  /** one vzdump job of one guest; vzdump holds `lock: backup` on its config for the whole task */
  async backup(vmid: number, mode: Mode, when: Date, keepLast?: number) {
    const guest: FakeGuest = { vmid, name: `vm${vmid}`, running: (await this.qs.qmpStatus(vmid)) !== undefined };
    const from = this.taskLog.length;
    this.node.api.setVmOption(vmid, 'lock', 'backup');
    this.node.syncConfigFile(vmid);
    try {
      const res = await runFakeVzdump({ mode, storeId: 'local', dumpDir: DUMP, guests: [guest], script: this.script, qemu: this.qemu, files, now: () => when, keepLast });
      return { ...res, taskLog: this.taskLog.slice(from).join('') };
    } finally {
      this.node.api.deleteVmOption(vmid, 'lock');
      this.node.syncConfigFile(vmid);
    }
  }
}

function installStandins(): void {
  writeFileSync(CLI_WRAPPER, '#!/bin/sh\nexec /usr/bin/node /project/dist/cli.cjs "$@"\n', { mode: 0o755 });
  writeFileSync(QM, '#!/bin/sh\nexec /project/test/e2e/guest/pve-standins/call qm "$@"\n', { mode: 0o755 });
  mkdirSync(DUMP, { recursive: true });
}

export async function backupScenarios(node: PveNode) {
  node.writeSettings({});
  installStandins();
  const control = await PveControl.start(node.api);
  const qs = new QemuServerStandIn(node);
  control.guests = { qmpStatus: (v) => qs.qmpStatus(v), suspend: (v) => qs.qmp(v, 'stop'), resume: (v) => qs.qmp(v, 'cont') };
  const rig = new BackupRig(node, qs);
  const f: Record<string, unknown> = {};
  try {
    f.install = await cli(['backup', 'install-hook', '--cli', CLI_WRAPPER]);
    f.vzdumpConf = readAt('/etc/vzdump.conf', 0, 4096);
    Object.assign(f, await liveBackup(node, qs, rig));
    Object.assign(f, await restoreAsNewVm(node, qs));
    Object.assign(f, await stopModeAndPrune(rig));
    Object.assign(f, await snapshots(node));
    Object.assign(f, await failingCopy(node, qs, rig));
    Object.assign(f, await volumeBackup(node, control));
    Object.assign(f, await volumeSnapshots(node, control));
  } finally {
    f.uninstall = await cli(['backup', 'uninstall-hook']);
    f.vzdumpConfAfter = existsSync('/etc/vzdump.conf') ? readAt('/etc/vzdump.conf', 0, 4096) : '(removed)';
    await control.close();
    for (const p of [QM, CLI_WRAPPER]) rmSync(p, { force: true });
  }
  return f;
}

const T1 = new Date(2026, 11, 6, 10, 0, 0);
const T2 = new Date(2026, 11, 6, 11, 0, 0);
const T3 = new Date(2026, 11, 6, 12, 0, 0);
const T4 = new Date(2026, 11, 6, 13, 0, 0);
const T5 = new Date(2026, 11, 6, 14, 0, 0);
const T6 = new Date(2026, 11, 6, 15, 0, 0);
const base = (vmid: number, t: Date) =>
  `vzdump-qemu-${vmid}-${t.getFullYear()}_${String(t.getMonth() + 1).padStart(2, '0')}_${String(t.getDate()).padStart(2, '0')}-${String(t.getHours()).padStart(2, '0')}_00_00`;

async function liveBackup(node: PveNode, qs: QemuServerStandIn, rig: BackupRig) {
  const image = `${IMAGES}/vm720.img`;
  writeFileSync(image, Buffer.alloc(16 * 1024 * 1024));
  node.addVm(720, gadgetNotes({ image, vendor_id: '0x0781', product_id: '0x5580', serial: 'PVUGBACKUP0000720' }), { extra: { memory: '256', args: shellGuestArgs(720) } });
  const boot = await bootShell(qs, 720);
  const g = boot.shell;
  const f: Record<string, unknown> = { start720: boot.start, boot720: { ms: boot.bootMs, serial: boot.bootSerial, disk: boot.disk } };
  if (!g) return f;
  try {
    f.gen1 = await g.run(writeSector(0, 'GEN1-HEAD'));
    f.writer = await g.run(WRITER);
    f.writtenBefore = await g.until('cat /tmp/w.count', /^(?:[2-9]\d|\d{3,})$/m, 120_000);
    f.snapshot = await rig.backup(720, 'snapshot', T1);
    f.writtenRightAfter = await g.run('cat /tmp/w.count');
    f.gen3 = await g.run(writeSector(0, 'GEN3-HEAD'));
    await sleep(1000);
    f.writtenAfter = await g.run('kill $(cat /tmp/w.pid); sleep 1; cat /tmp/w.count');
  } finally {
    g.close();
    f.stop720 = await qs.stop(720);
  }
  f.list720 = await cli(['backup', 'list', '720', '--json', '--dumpdir', DUMP]);
  return f;
}

async function restoreAsNewVm(node: PveNode, qs: QemuServerStandIn) {
  const conf = Object.fromEntries(Object.entries(node.api.vmConfig(720)).map(([k, v]) => [k, String(v)]));
  node.api.removeVm(720);
  rmSync('/etc/pve/qemu-server/720.conf', { force: true });
  node.api.addVm({ vmid: 721, node: 'pve', config: { ...conf, name: 'vm721', args: shellGuestArgs(721) }, status: 'stopped' });
  node.syncConfigFile(721);
  const image = `${IMAGES}/vm720.img`;
  const f: Record<string, unknown> = {};
  f.imageBeforeRestore = readAt(image, 0, 9);
  f.restore = await cli(['restore', '721', '--from', `${DUMP}/${base(720, T1)}.vma.zst`, '--dumpdir', DUMP]);
  f.imageAfterRestore = readAt(image, 0, 9);
  f.records = recordRun(image, 100_000);
  const boot = await bootShell(qs, 721);
  f.start721 = boot.start;
  if (boot.shell) {
    f.guestReads = await boot.shell.run(`dd if=/dev/sda bs=512 count=1 2>/dev/null | head -c 9; echo; dd if=/dev/sda bs=512 skip=${RECORDS_AT} count=1 2>/dev/null | head -c 11`);
    boot.shell.close();
  } else f.boot721Serial = boot.bootSerial;
  f.stop721 = await qs.stop(721);
  f.afterRestore = hostState();
  return f;
}

async function stopModeAndPrune(rig: BackupRig) {
  const first = await rig.backup(721, 'stop', T2, 1);
  const second = await rig.backup(721, 'stop', T3, 1);
  return {
    stop1: first,
    stop2: second,
    list721: await cli(['backup', 'list', '721', '--json', '--dumpdir', DUMP]),
    dumpFiles: readdirSync(DUMP).sort(),
    afterStopMode: hostState(),
  };
}

const SNAPS = `${IMAGES}/.pve-usb-gadget-snapshots/721`;

async function snapshots(node: PveNode) {
  const image = `${IMAGES}/vm720.img`;
  const f: Record<string, unknown> = {};
  f.snapBefore = await cli(['snapshot', '721', 'before', '--description', 'clean']);
  f.snapFiles = existsSync(`${SNAPS}/before`) ? readdirSync(`${SNAPS}/before`).sort() : [];
  f.snapManifest = existsSync(`${SNAPS}/before/manifest.json`) ? readAt(`${SNAPS}/before/manifest.json`, 0, 8192) : '';
  f.confWithSnap = readAt('/etc/pve/qemu-server/721.conf', 0, 65536);
  f.snapAgain = await cli(['snapshot', '721', 'before']);
  f.snapBadName = await cli(['snapshot', '721', 'a.b']);
  f.snapCurrent = await cli(['snapshot', '721', 'current']);
  // what the guest would write after the snapshot (the VM is stopped: the host writes the image)
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, Buffer.from('CHANGED!!'), 0, 9, 0);
  } finally {
    closeSync(fd);
  }
  f.imageChanged = readAt(image, 0, 9);
  f.rollback = await cli(['rollback', '721', 'before']);
  f.imageRolledBack = readAt(image, 0, 9);
  f.rollbackLeftovers = readdirSync(IMAGES).filter((n) => n.includes('pvug-rollback'));
  f.delsnap = await cli(['delsnapshot', '721', 'before']);
  f.snapsDirAfter = existsSync(`${IMAGES}/.pve-usb-gadget-snapshots`);
  f.confAfterDel = readAt('/etc/pve/qemu-server/721.conf', 0, 65536);
  node.syncConfigFile(721);
  return f;
}

async function failingCopy(node: PveNode, qs: QemuServerStandIn, rig: BackupRig) {
  const start = await qs.start(721);
  // while it runs: a snapshot pauses the guest for the copy (no reflinks here), then it is deleted
  const liveSnap = start.started ? await cli(['snapshot', '721', 'live']) : undefined;
  const liveDel = start.started ? await cli(['delsnapshot', '721', 'live']) : undefined;
  // the gadget keeps the deleted file open and serves it; the copy reads the notes' path, which is gone
  rmSync(`${IMAGES}/vm720.img`);
  const failed = start.started ? await rig.backup(721, 'snapshot', T4) : undefined;
  const stop = start.started ? await qs.stop(721) : [];
  return { liveSnap, liveDel, failStart: start, failed, failStop: stop, failFiles: readdirSync(DUMP).filter((n) => n.startsWith(base(721, T4))).sort(), afterFail: hostState(), notesNow: String(node.api.vmConfig(721).description) };
}

const sha256 = (path: string) => (existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : undefined);

async function volumeBackup(node: PveNode, control: PveControl) {
  setUpStorages(node);
  const backing = `${LVM_DIR}/pvugvg/vm-730-usb.img`;
  writeFileSync(backing, Buffer.alloc(16 * 1024 * 1024));
  node.addVm(730, gadgetNotes({ image: 'usb-lvm:vm-730-usb', vendor_id: '0x0781', product_id: '0x5590', serial: 'PVUGBACKUP0000730' }), { extra: { memory: '256', args: shellGuestArgs(730) } });
  // this VM's hooks (and so its pre-start's activation) go through PVE::Storage's stand-in
  const qs = new QemuServerStandIn(node, { hookEnv: HOOK_ENV });
  control.guests = { qmpStatus: (v) => qs.qmpStatus(v), suspend: (v) => qs.qmp(v, 'stop'), resume: (v) => qs.qmp(v, 'cont') };
  const rig = new BackupRig(node, qs);
  const boot = await bootShell(qs, 730);
  const g = boot.shell;
  const f: Record<string, unknown> = { start730: boot.start, boot730: { ms: boot.bootMs, serial: boot.bootSerial, disk: boot.disk } };
  if (!g) {
    f.stop730 = await qs.stop(730);
    return f;
  }
  try {
    f.vol1 = await g.run(writeSector(0, 'VOL1-HEAD'));
    f.volSnapshot = await rig.backup(730, 'snapshot', T5);
    f.vol3 = await g.run(writeSector(0, 'VOL3-HEAD'));
  } finally {
    g.close();
    f.stop730 = await qs.stop(730);
  }
  // stop mode: QEMU starts paused with `lock: backup`; pre-start activates the volume, builds the gadget,
  // then copies it before the guest runs
  f.volStopMode = await rig.backup(730, 'stop', T6);
  const stopCopy = `${DUMP}/${base(730, T6)}.usb-gadget-lun0.raw`;
  f.volStopCopy = existsSync(stopCopy) ? readAt(stopCopy, 0, 9) : '(no copy)';
  f.list730 = await cli(['backup', 'list', '730', '--json', '--dumpdir', DUMP]);
  f.volBeforeRestore = readAt(backing, 0, 9);
  f.volRestore = await cli(['restore', '730', '--from', `${DUMP}/${base(730, T5)}.vma.zst`, '--dumpdir', DUMP], HOOK_ENV);
  f.volAfterRestore = readAt(backing, 0, 9);
  f.volBytes = { backing: sha256(backing), copy: sha256(`${DUMP}/${base(730, T5)}.usb-gadget-lun0.raw`) };
  f.volLoops = loopDevices();
  f.afterVolume = hostState();
  return f;
}
