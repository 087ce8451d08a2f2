/**
 * The stop-mode copy, taken by our guest hookscript's pre-start. vzdump shuts the VM down after
 * pre-stop and starts QEMU again paused for the backup job (qemu-server PVE/VZDump/QemuServer.pm
 * enforce_vm_running_for_backup), which runs the hookscript's pre-start with `lock: backup` in the
 * config: the one moment a hook sees the stick's image with no guest running. The vzdump hook left an
 * "awaiting" record at backup-start; here it is taken at the end of pre-start, once the gadget is built
 * and live: a LUN on a Proxmox volume has a device only after pre-start activated it, and it is read
 * from the device the gadget serves (sources.ts), like in a live backup. Image files are taken at the
 * same moment, so one manifest holds one point in time; the guest has not run yet (QEMU waits for this
 * hook), so nothing is paused. A start that fails has no backup to go with, so nothing is copied then.
 * This must never make the start (and so the backup) fail: every problem is logged and recorded for
 * backup-end.
 */
import type { HookDeps } from '../hook/deps.js';
import type { GadgetSpec } from '../spec/types.js';
import { backupDepsFrom, type BackupDeps } from './deps.js';
import { takeCopy } from './take.js';

export async function copyAtBackupStart(deps: HookDeps, vmid: number, config: Readonly<Record<string, string>>, spec: GadgetSpec): Promise<void> {
  if (config.lock !== 'backup') return;
  await takeRemembered(backupDepsFrom(deps), vmid, spec);
}

/** Takes the copy the vzdump hook remembered for this VM, if any. */
export async function takeRemembered(b: BackupDeps, vmid: number, spec: GadgetSpec): Promise<void> {
  try {
    const p = b.pending.read(vmid);
    if (p?.state !== 'awaiting') return;
    b.log.info('vzdump backup in stop mode: copying the stick while QEMU waits for this hook (the guest has not run)');
    await takeCopy(b, { vmid, mode: p.mode, when: 'offline', dumpDir: p.dumpDir, base: p.base, spec });
  } catch (err) {
    b.log.error(`THE STICK WAS NOT SAVED with this backup of VM ${vmid}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
