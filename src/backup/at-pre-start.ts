/**
 * The stop-mode copy, taken by our guest hookscript's pre-start. vzdump shuts the VM down after
 * pre-stop and starts QEMU again paused for the backup job (qemu-server PVE/VZDump/QemuServer.pm
 * enforce_vm_running_for_backup), which runs the hookscript's pre-start with `lock: backup` in the
 * config: the one moment a hook sees the stick's image with no guest running. The vzdump hook left an
 * "awaiting" record at backup-start; here it is taken before the gadget is built. This must never make
 * the start (and so the backup) fail: every problem is logged and recorded for backup-end.
 */
import type { HookDeps } from '../hook/deps.js';
import type { GadgetSpec } from '../spec/types.js';
import { backupDepsFrom, type BackupDeps } from './deps.js';
import { takeCopy } from './take.js';

export async function copyBeforeBackupStart(deps: HookDeps, vmid: number, config: Readonly<Record<string, string>>, spec: GadgetSpec): Promise<void> {
  if (config.lock !== 'backup') return;
  await takeRemembered(backupDepsFrom(deps), vmid, spec);
}

/** Takes the copy the vzdump hook remembered for this VM, if any. */
export async function takeRemembered(b: BackupDeps, vmid: number, spec: GadgetSpec): Promise<void> {
  try {
    const p = b.pending.read(vmid);
    if (p?.state !== 'awaiting') return;
    b.log.info('vzdump backup in stop mode: copying the stick before QEMU starts');
    await takeCopy(b, { vmid, mode: p.mode, when: 'offline', dumpDir: p.dumpDir, base: p.base, spec });
  } catch (err) {
    b.log.error(`THE STICK WAS NOT SAVED with this backup of VM ${vmid}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
