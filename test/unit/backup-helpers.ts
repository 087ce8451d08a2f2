// A host for the backup tests: a temp root with an image, a dump directory and the state directory,
// the real hook code wired to fakes only where a process would run (qm, cp --reflink).
import { mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, existsSync, unlinkSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestControl } from '../../src/backup/capture.js';
import type { BackupDeps } from '../../src/backup/deps.js';
import { PendingStore } from '../../src/backup/pending.js';
import { spawnScript } from '../../src/backup/run-script.js';
import type { VzdumpHookDeps } from '../../src/backup/vzdump-hook.js';
import { createLogger } from '../../src/hook/log.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore } from '../../src/state/record.js';
import { runFakeVzdump, type FakeFiles, type FakeGuest, type FakeVzdumpJob, type Mode } from '../fake-pve/vzdump.js';
import { vzdumpHook } from '../../src/backup/vzdump-hook.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';
import { fakeCloner } from './fake-cloner.js';

export const NOTES = '[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111\n';

export interface BackupHost {
  t: TmpRoot;
  deps: VzdumpHookDeps;
  lines: string[];
  events: string[];
  /** the guest writes `text` at offset 0 of its stick */
  guestWrite(text: string): void;
  imageText(n?: number): string;
  files: FakeFiles;
  setNotes(n: string): void;
}

export function backupHost(opts: { reflink?: boolean; settingsExtra?: string; pauseGuard?: boolean } = {}): BackupHost {
  const t = tmpRoot('pvug-backup-');
  mkdirSync(join(t.root, 'images'));
  mkdirSync(join(t.root, 'dump'));
  mkdirSync(join(t.root, 'run'));
  mkdirSync(join(t.root, 'etc/pve-usb-gadget'), { recursive: true });
  const img = join(t.root, 'images/stick.img');
  writeFileSync(img, Buffer.alloc(4 << 20));
  const settings = parseSettings(
    `[images]\nallowed_dirs = /images\n${opts.settingsExtra ?? ''}[paths]\nroot = ${t.root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`,
    'test',
    'pve',
  );
  const lines: string[] = [];
  const events: string[] = [];
  const log = createLogger('pvug', { out: (l) => void lines.push(l), err: (l) => void lines.push(l) });
  let paused = false;
  const guest: GuestControl = {
    isPaused: async () => false,
    pause: async (vmid) => {
      events.push(`pause ${vmid}`);
      paused = true;
    },
    resume: async (vmid) => {
      events.push(`resume ${vmid}`);
      paused = false;
    },
  };
  let notes = NOTES;
  const fs = t.fs;
  const deps: VzdumpHookDeps = {
    fs,
    settings,
    log,
    clock: { now: (() => { let n = 1_000_000; return () => (n += 7); })(), sleep: async () => undefined },
    guest,
    cloner: fakeCloner(events, opts.reflink),
    pid: 4242,
    pending: new PendingStore(fs, settings.paths.stateDir),
    records: new StateStore(fs, settings.paths.stateDir),
    vms: { read: async () => ({ description: notes, config: {}, source: 'local' }) },
    chain: { fs, run: spawnScript, trustedUids: [process.getuid?.() ?? 0], say: (l) => void lines.push(l) },
    chainFile: '/etc/pve-usb-gadget/vzdump-chain',
  };
  const real = (p: string) => join(t.root, p);
  const files: FakeFiles = {
    exists: (p) => existsSync(real(p)),
    rename: (a, b) => renameSync(real(a), real(b)),
    unlink: (p) => unlinkSync(real(p)),
    mkdir: (p) => mkdirSync(real(p)),
    rmdir: (p) => rmdirSync(real(p)),
    write: (p, text) => writeFileSync(real(p), text),
    list: (d) => readdirSync(real(d)),
  };
  return {
    t,
    deps,
    lines,
    events,
    files,
    setNotes: (n) => void (notes = n),
    guestWrite: (text) => {
      if (opts.pauseGuard !== false && paused) throw new Error('the guest wrote while paused');
      const fd = openSync(img, 'r+');
      writeSync(fd, Buffer.from(text), 0, text.length, 0);
      closeSync(fd);
    },
    imageText: (n = 16) => readFileSync(img).subarray(0, n).toString('latin1').replace(/\0+$/, ''),
  };
}

/** A vzdump job of the stand-in that runs the real hook on `h`; `qemu` replaces single guest operations. */
export function fakeJob(h: BackupHost, mode: Mode, guests: FakeGuest[], qemu: Partial<FakeVzdumpJob['qemu']> = {}, extra: Partial<FakeVzdumpJob> = {}): FakeVzdumpJob {
  let t = new Date(2026, 11, 4, 18, 0, 0).getTime();
  return {
    mode,
    storeId: 'backups',
    dumpDir: '/dump',
    guests,
    script: (argv, env) => vzdumpHook(h.deps, argv, env),
    qemu: {
      shutdown: async (g) => void (g.running = false),
      startPaused: async (g) => void ((g.running = true), (g.paused = true)),
      cont: async (g) => void (g.paused = false),
      stop: async (g) => void (g.running = false),
      writeArchive: async (g, tmptar) => h.files.write(tmptar, `archive of ${g.vmid}`),
      ...qemu,
    },
    files: h.files,
    now: () => new Date((t += 60_000)),
    ...extra,
  };
}

/** One snapshot-mode backup of VM 100 by the vzdump stand-in, its guest running; returns the task states. */
export async function snapshotBackup(h: BackupHost): Promise<string[]> {
  const r = await runFakeVzdump({
    mode: 'snapshot',
    storeId: 'backups',
    dumpDir: '/dump',
    guests: [{ vmid: 100, name: 'unraid', running: true }],
    script: (argv, env) => vzdumpHook(h.deps, argv, env),
    qemu: { shutdown: async () => {}, startPaused: async () => {}, cont: async () => {}, stop: async () => {}, writeArchive: async (_g, t) => h.files.write(t, 'a') },
    files: h.files,
    now: () => new Date(2026, 11, 4, 18, 0, 0),
  });
  return r.tasks.map((t) => t.state);
}

export type { BackupDeps };
