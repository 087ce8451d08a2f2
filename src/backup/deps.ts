/**
 * The effects of the backup code, built from the hook's own deps. The guest is paused through `qm
 * suspend/resume --skiplock`, as vzdump pauses it itself (qemu-server PVE/VZDump/QemuServer.pm
 * suspend_vm/resume_vm): vzdump holds `lock: backup` on the VM meanwhile, which only --skiplock (root)
 * passes. Reflinks are `cp --reflink=always`: it fails instead of falling back to a full copy.
 */
import { rmSync } from 'node:fs';
import type { HookDeps } from '../hook/deps.js';
import type { Exec } from '../ports/exec.js';
import { CommandError } from '../errors.js';
import type { CaptureDeps, Cloner, GuestControl } from './capture.js';
import { StateStore } from '../state/record.js';
import { PendingStore } from './pending.js';

export type BackupDeps = CaptureDeps & { pending: PendingStore };

export function qmGuestControl(exec: Exec, qm = 'qm'): GuestControl {
  const qmRun = async (args: string[]) => {
    const r = await exec(qm, args, { timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      throw new CommandError(`qm ${args.join(' ')} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? ''}`, {
        fix: 'see the qm message; the stick copy needs the guest paused when the filesystem has no reflinks',
      });
    }
    return r.stdout;
  };
  return {
    // `qm status --verbose` prints `qmpstatus: paused` for a guest someone else paused
    isPaused: async (vmid) => /^qmpstatus: (paused|prelaunch|suspended)$/m.test(await qmRun(['status', String(vmid), '--verbose'])),
    pause: async (vmid) => void (await qmRun(['suspend', String(vmid), '--skiplock'])),
    resume: async (vmid) => void (await qmRun(['resume', String(vmid), '--skiplock'])),
  };
}

export function cpCloner(exec: Exec): Cloner {
  return {
    async reflink(src, dst) {
      // a leftover (or a planted symlink) at dst is removed, never written through
      rmSync(dst, { force: true });
      const r = await exec('cp', ['--reflink=always', '--no-preserve=all', '--', src, dst], { timeoutMs: 120_000 });
      if (r.exitCode !== 0) rmSync(dst, { force: true });
      return r.exitCode === 0;
    },
  };
}

export function backupDepsFrom(deps: Pick<HookDeps, 'fs' | 'settings' | 'log' | 'clock' | 'exec'>): BackupDeps {
  return {
    fs: deps.fs,
    settings: deps.settings,
    log: deps.log,
    clock: deps.clock,
    guest: qmGuestControl(deps.exec),
    cloner: cpCloner(deps.exec),
    pid: process.pid,
    pending: new PendingStore(deps.fs, deps.settings.paths.stateDir),
    records: new StateStore(deps.fs, deps.settings.paths.stateDir),
  };
}
