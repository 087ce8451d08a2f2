/**
 * A stand-in for `vzdump` (QEMU guests, directory storage), for tests: it calls the hook script in the
 * order, with the arguments and environment, that pve-manager's PVE/VZDump.pm uses, and does to the
 * guest what qemu-server's PVE/VZDump/QemuServer.pm does (read at pve-manager 14a22df3, qemu-server
 * cd82e3f2):
 *
 * - run_hook_script (VZDump.pm): `local %ENV` empties the environment, then sets STOREID and DUMPDIR
 *   (when set) and, for guest phases, VMTYPE, HOSTNAME, TARGET, LOGFILE: the script gets nothing else,
 *   not even PATH (checked with perl). `script` below gets exactly that object: spawn it as the env.
 * - exec_backup (VZDump.pm): job-start, each guest, job-end; job-abort instead of job-end when the job
 *   dies (job-init ran in new()). Job phases get STOREID and DUMPDIR only (run_hook_script).
 * - exec_backup_task (VZDump.pm): base name `vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS` in local time,
 *   TARGET `<dumpdir>/<base>.vma.zst`, LOGFILE `<dumpdir>/<base>.log`, tmptar `<base>.vma.dat`, tmpdir
 *   `<base>.tmp`; a guest that is not running is backed up in stop mode. Per mode:
 *     stop:     backup-start, [running: pre-stop, qm shutdown]
 *     suspend:  backup-start, pre-stop, qm suspend
 *     snapshot: backup-start, pre-stop, (snapshot: nothing for QEMU), pre-restart, post-restart
 *   then archive, rename tmptar to TARGET, prune (keep-last, PVE::Storage::archive_remove: archive,
 *   .log and .notes only), backup-end. A hook failing (non-zero exit) fails that guest: backup-abort.
 *   The cleanup then (after backup-end or the abort) runs pre-restart, resume or start-if-not-running,
 *   post-restart for stop and suspend mode; tmptar and tmpdir go; log-end is last.
 * - archive_vma (QemuServer.pm): enforce_vm_running_for_backup starts QEMU *paused* when it is not
 *   running (vm_start with paused: the guest hookscript's pre-start runs, config `lock: backup`), the
 *   backup job starts, resume_vm_after_job_start resumes a guest that was running (stop and suspend
 *   mode), restore_vm_power_state stops QEMU again for a guest that was not running.
 */

export type Mode = 'stop' | 'suspend' | 'snapshot';

export interface FakeGuest {
  vmid: number;
  name: string;
  running: boolean;
  paused?: boolean;
}

/** What qemu-server does to the guest; `startPaused` must run the guest hookscript's pre-start. */
export interface FakeQemu {
  shutdown(g: FakeGuest): Promise<void>;
  startPaused(g: FakeGuest): Promise<void>;
  cont(g: FakeGuest): Promise<void>;
  stop(g: FakeGuest): Promise<void>;
  /** the backup job reading the guest's disks; writes the archive bytes to tmptar */
  writeArchive(g: FakeGuest, tmptar: string): Promise<void>;
}

export interface FakeFiles {
  exists(p: string): boolean;
  rename(a: string, b: string): void;
  unlink(p: string): void;
  mkdir(p: string): void;
  rmdir(p: string): void;
  write(p: string, text: string): void;
  list(dir: string): string[];
}

export interface FakeVzdumpJob {
  mode: Mode;
  storeId: string;
  dumpDir: string;
  guests: FakeGuest[];
  /** runs the hook script: `SCRIPT PHASE [MODE VMID]` with exactly this environment; its exit code */
  script(argv: string[], env: Record<string, string>): Promise<number>;
  qemu: FakeQemu;
  files: FakeFiles;
  /** the backup time of each guest in turn */
  now(): Date;
  /** prune-backups keep-last (remove=1); undefined: keep all */
  keepLast?: number;
}

export interface FakeVzdumpResult {
  /** every hook call, `phase [mode vmid]` */
  calls: string[];
  tasks: { vmid: number; state: 'ok' | 'err'; msg?: string; target: string; mode: Mode }[];
  jobError?: string;
  log: string[];
}

const pad = (n: number) => String(n).padStart(2, '0');
const stamp = (d: Date) => `${d.getFullYear()}_${pad(d.getMonth() + 1)}_${pad(d.getDate())}-${pad(d.getHours())}_${pad(d.getMinutes())}_${pad(d.getSeconds())}`;

export async function runFakeVzdump(job: FakeVzdumpJob): Promise<FakeVzdumpResult> {
  const res: FakeVzdumpResult = { calls: [], tasks: [], log: [] };
  const baseEnv = { STOREID: job.storeId, DUMPDIR: job.dumpDir };
  const hook = async (phase: string, task?: { mode: Mode; vmid: number; env: Record<string, string> }) => {
    const argv = task ? [phase, task.mode, String(task.vmid)] : [phase];
    res.calls.push(argv.join(' '));
    const code = await job.script(argv, { ...baseEnv, ...(task?.env ?? {}) });
    if (code !== 0) throw new Error(`command '${argv.join(' ')}' failed: exit code ${code}`);
  };
  try {
    await hook('job-init');
    await hook('job-start');
    for (const g of job.guests) await backupGuest(job, g, hook, res);
    await hook('job-end');
  } catch (err) {
    res.jobError = (err as Error).message;
    await hook('job-abort').catch(() => undefined);
  }
  return res;
}

type Hook = (phase: string, task?: { mode: Mode; vmid: number; env: Record<string, string> }) => Promise<void>;

async function backupGuest(job: FakeVzdumpJob, g: FakeGuest, hook: Hook, res: FakeVzdumpResult): Promise<void> {
  const base = `vzdump-qemu-${g.vmid}-${stamp(job.now())}`;
  const target = `${job.dumpDir}/${base}.vma.zst`;
  const tmptar = `${job.dumpDir}/${base}.vma.dat`;
  const tmpdir = `${job.dumpDir}/${base}.tmp`;
  const logfile = `${job.dumpDir}/${base}.log`;
  const wasRunning = g.running;
  const mode: Mode = g.running ? job.mode : 'stop';
  const task = { mode, vmid: g.vmid, env: { VMTYPE: 'qemu', HOSTNAME: g.name, TARGET: target, LOGFILE: logfile } };
  const cleanup = { restart: false, resume: false };
  let err: Error | undefined;
  job.files.mkdir(tmpdir);
  try {
    await hook('backup-start', task);
    if (mode === 'stop') {
      if (g.running) {
        await hook('pre-stop', task);
        await job.qemu.shutdown(g);
        cleanup.restart = true;
      }
    } else if (mode === 'suspend') {
      await hook('pre-stop', task);
      g.paused = true;
      cleanup.resume = true;
    } else {
      await hook('pre-stop', task);
      await hook('pre-restart', task);
      await hook('post-restart', task);
    }
    // archive_vma
    if (!g.running) await job.qemu.startPaused(g);
    await job.qemu.writeArchive(g, tmptar);
    if (wasRunning && mode !== 'snapshot') await job.qemu.cont(g);
    if (!wasRunning) await job.qemu.stop(g);
    job.files.rename(tmptar, target);
    if (job.keepLast !== undefined) prune(job, g.vmid, res);
    await hook('backup-end', task);
  } catch (e) {
    err = e as Error;
  }
  if (cleanup.resume || cleanup.restart) {
    try {
      await hook('pre-restart', task);
      if (cleanup.resume) g.paused = false;
      else if (!g.running) await job.qemu.startPaused(g).then(() => job.qemu.cont(g));
      await hook('post-restart', task);
    } catch (e) {
      res.log.push(`warn: ${(e as Error).message}`);
    }
  }
  if (job.files.exists(tmptar)) job.files.unlink(tmptar);
  if (job.files.exists(tmpdir)) job.files.rmdir(tmpdir);
  if (err) {
    res.tasks.push({ vmid: g.vmid, state: 'err', msg: err.message, target, mode });
    await hook('backup-abort', task).catch((e: Error) => res.log.push(`warn: ${e.message}`));
  } else {
    res.tasks.push({ vmid: g.vmid, state: 'ok', target, mode });
  }
  job.files.write(logfile, `backup of VM ${g.vmid}: ${err ? 'failed' : 'ok'}\n`);
  await hook('log-end', task).catch((e: Error) => res.log.push(`warn: ${e.message}`));
}

/** keep-last: the newest N archives of this guest stay; the others go with their .log and .notes. */
function prune(job: FakeVzdumpJob, vmid: number, res: FakeVzdumpResult): void {
  const re = new RegExp(`^(vzdump-qemu-${vmid}-\\d{4}_\\d{2}_\\d{2}-\\d{2}_\\d{2}_\\d{2})\\.vma(\\.zst)?$`);
  const archives = job.files
    .list(job.dumpDir)
    .filter((n) => re.test(n))
    .sort()
    .reverse();
  for (const name of archives.slice(job.keepLast)) {
    const b = (re.exec(name) as RegExpExecArray)[1];
    res.log.push(`delete old backup '${job.dumpDir}/${name}'`);
    for (const n of [name, `${b}.log`, `${name}.notes`]) if (job.files.exists(`${job.dumpDir}/${n}`)) job.files.unlink(`${job.dumpDir}/${n}`);
  }
}
