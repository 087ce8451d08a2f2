/**
 * What the vzdump hook does in each phase: a pure decision from the call (argv), vzdump's environment
 * and a few facts about the VM. Nothing here touches the host.
 *
 * Where the consistent point is, read from the source (pve-manager PVE/VZDump.pm exec_backup_task,
 * qemu-server src/PVE/VZDump/QemuServer.pm):
 * - stop mode: backup-start, pre-stop (only if the VM runs), then `qm shutdown`; archive() starts QEMU
 *   again *paused* (enforce_vm_running_for_backup: vm_start with paused => 1, which runs the guest's
 *   hookscript pre-start while the config says `lock: backup`), starts the QMP backup job and resumes
 *   the guest (resume_vm_after_job_start) long before backup-end. pre-restart/post-restart come after
 *   backup-end, from the cleanup. So no vzdump phase sees the guest down: the copy is "remembered" at
 *   backup-start and taken by our own guest pre-start (src/backup/pending.ts), at its end: the gadget is
 *   built (volumes activated) and QEMU is not launched before the hook returns.
 *   A VM that was not running is backed up in stop mode too (`$mode = $running ? ... : 'stop'`).
 * - snapshot mode: backup-start, pre-stop, `snapshot` (a no-op for QEMU), pre-restart, post-restart,
 *   then archive() with the guest running (fs-freeze only around the QMP `backup` command). The guest
 *   is never paused in a hook phase, so we take our own point in time at pre-stop: a reflink clone, or
 *   a pause of the guest for the copy.
 * - suspend mode: pre-stop runs *before* `qm suspend`, so the same as snapshot mode.
 * - job-end: after every guest; vzdump's own prune has run per guest by then (before backup-end).
 */

import { VMID } from '../values/proxmox-ids.js';
import { parseArchiveName } from './names.js';

export const JOB_PHASES = ['job-init', 'job-start', 'job-end', 'job-abort'] as const;
export const GUEST_PHASES = ['backup-start', 'pre-stop', 'pre-restart', 'post-restart', 'backup-end', 'backup-abort', 'log-end'] as const;
export const MODES = ['stop', 'suspend', 'snapshot'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];
export type GuestPhase = (typeof GUEST_PHASES)[number];
export type Mode = (typeof MODES)[number];

export type HookCall =
  | { kind: 'job'; phase: JobPhase }
  | { kind: 'guest'; phase: GuestPhase; mode: Mode; vmid: number }
  /** a phase a newer vzdump may add: passed to a chained script, otherwise ignored */
  | { kind: 'unknown'; phase: string };

/** vzdump runs `SCRIPT PHASE` or `SCRIPT PHASE MODE VMID` (PVE/VZDump.pm run_hook_script). */
export function parseHookArgv(argv: readonly string[]): HookCall | { kind: 'usage'; message: string } {
  const [phase, mode, vmid, ...rest] = argv;
  if (phase === undefined || rest.length > 0) return { kind: 'usage', message: `expected PHASE [MODE VMID], got: ${argv.join(' ') || 'nothing'}` };
  if ((JOB_PHASES as readonly string[]).includes(phase)) {
    return mode === undefined ? { kind: 'job', phase: phase as JobPhase } : { kind: 'usage', message: `job phase ${phase} takes no MODE VMID` };
  }
  if ((GUEST_PHASES as readonly string[]).includes(phase)) {
    if (!(MODES as readonly string[]).includes(mode ?? '')) return { kind: 'usage', message: `${phase}: MODE must be stop, suspend or snapshot` };
    if (!VMID.test(vmid ?? '')) return { kind: 'usage', message: `${phase}: VMID must be 100..999999999` };
    return { kind: 'guest', phase: phase as GuestPhase, mode: mode as Mode, vmid: Number(vmid) };
  }
  return /^[a-z][a-z-]{0,30}$/.test(phase) ? { kind: 'unknown', phase } : { kind: 'usage', message: 'PHASE is not a vzdump phase' };
}

/** The variables run_hook_script sets (only when set for the task). */
export interface HookEnv {
  storeId?: string;
  dumpDir?: string;
  target?: string;
  vmType?: string;
  logFile?: string;
}

export function hookEnv(env: Readonly<Record<string, string | undefined>>): HookEnv {
  const v = (k: string) => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  return { storeId: v('STOREID'), dumpDir: v('DUMPDIR'), target: v('TARGET'), vmType: v('VMTYPE'), logFile: v('LOGFILE') };
}

export interface VmFacts {
  /** the VM's notes have a [usb-gadget] section (valid or not: an invalid one is reported, not copied) */
  hasGadget: boolean;
}

export type Decision =
  | { kind: 'nothing'; why?: string }
  /** say loudly that this backup has no stick copy, and why; never an error */
  | { kind: 'no-copy'; why: string }
  /** stop mode: remember the target; our guest pre-start takes the copy while QEMU is not up */
  | { kind: 'remember'; dumpDir: string; target: string; base: string }
  /** copy now with the guest running: reflink clone, or pause the guest for the copy */
  | { kind: 'copy-live'; dumpDir: string; target: string; base: string }
  /** backup-end: take a remembered copy that did not happen (fallback: live), report the outcome */
  | { kind: 'finish'; dumpDir: string; target: string; base: string }
  /** backup-abort: forget the remembered copy, remove what we wrote for this target */
  | { kind: 'abandon'; dumpDir: string; base: string }
  /** job-end: remove our files whose archive is gone */
  | { kind: 'prune'; dumpDir: string };

/** Where the archive goes, when it is a file in DUMPDIR with vzdump's standard name for this VM. */
export function archiveTarget(env: HookEnv, vmid: number): { dumpDir: string; target: string; base: string } | { why: string } {
  if (env.target === undefined) return { why: 'vzdump gave no TARGET' };
  if (env.target === '-') return { why: 'the archive goes to stdout' };
  if (env.dumpDir === undefined || !env.target.startsWith('/')) {
    return { why: `the target is not a directory storage (${env.storeId ?? 'no storage'}: Proxmox Backup Server or a backup provider); PBS targets get no stick copy yet` };
  }
  const dumpDir = env.dumpDir.replace(/\/+$/, '');
  const slash = env.target.lastIndexOf('/');
  const dir = env.target.slice(0, slash);
  const name = env.target.slice(slash + 1);
  const archive = parseArchiveName(name);
  if (dir !== dumpDir || !dumpDir.startsWith('/') || dumpDir.split('/').some((s) => s === '..' || s === '.')) {
    return { why: 'TARGET is not inside DUMPDIR' };
  }
  if (!archive || archive.vmid !== vmid) return { why: `TARGET ${name} is not a standard vzdump QEMU archive name of VM ${vmid}` };
  return { dumpDir, target: env.target, base: archive.base };
}

export function decide(call: HookCall, env: HookEnv, facts: VmFacts): Decision {
  if (call.kind === 'unknown') return { kind: 'nothing', why: `phase ${call.phase} is not one we act on` };
  if (call.kind === 'job') {
    if (call.phase !== 'job-end' && call.phase !== 'job-abort') return { kind: 'nothing' };
    return env.dumpDir?.startsWith('/') ? { kind: 'prune', dumpDir: env.dumpDir.replace(/\/+$/, '') } : { kind: 'nothing' };
  }
  if (!facts.hasGadget) return { kind: 'nothing' };
  const where = archiveTarget(env, call.vmid);
  if (env.vmType !== undefined && env.vmType !== 'qemu') return { kind: 'nothing', why: `VMTYPE ${env.vmType}` };
  switch (call.phase) {
    case 'backup-start':
      if ('why' in where) return { kind: 'no-copy', why: where.why };
      return call.mode === 'stop' ? { kind: 'remember', ...where } : { kind: 'nothing' };
    case 'pre-stop':
      if ('why' in where || call.mode === 'stop') return { kind: 'nothing' };
      return { kind: 'copy-live', ...where };
    case 'backup-end':
      if ('why' in where) return { kind: 'nothing' };
      return { kind: 'finish', ...where };
    case 'backup-abort':
      return 'why' in where ? { kind: 'nothing' } : { kind: 'abandon', dumpDir: where.dumpDir, base: where.base };
    default:
      return { kind: 'nothing' };
  }
}
