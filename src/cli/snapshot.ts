/**
 * The snapshot commands (argument parsing and wiring; the work is in src/snapshot/). They run as root
 * on the VM's node, like `qm`: qm takes the VM's snapshot, the stick's is ours.
 *   snapshot <vmid> <name> [--description TEXT] [--vmstate]
 *   rollback <vmid> <name>
 *   delsnapshot <vmid> <name> [--force]
 */
import { Command, CommanderError } from 'commander';
import { nodeHostFs } from '../apply/host-fs.js';
import { cpCloner } from '../backup/deps.js';
import { realClock } from '../host/enumeration.js';
import { execaExec } from '../host/exec.js';
import { loadSettings } from '../settings/load.js';
import { deleteSnapshot } from '../snapshot/delete.js';
import type { SnapshotDeps } from '../snapshot/deps.js';
import { rollbackVm } from '../snapshot/rollback.js';
import { snapshotVm } from '../snapshot/take.js';
import { StateStore } from '../state/record.js';
import { pveVolumeSnapshots } from '../storage/pve-snapshot.js';
import { parseSnapshotName } from '../values/snapshot-name.js';
import { printLine } from './admin-deps.js';
import { vmidArg } from './args.js';
import { qmTool } from './qm.js';

/** A <name> argument by Proxmox's pve-snapshot-name rule; a usage error (exit 2) otherwise. */
export function snapshotNameArg(s: string): string {
  const r = parseSnapshotName(s);
  if (!r.ok) throw new CommanderError(2, 'usage', `not a snapshot name: '${s.slice(0, 60)}': ${r.message}`);
  return r.value;
}

/** --description: qm takes it as an option value; what qm could misread is refused here, by name. */
function descriptionArg(s: string): string {
  if (/[\r\n]/.test(s) || s.startsWith('-')) throw new CommanderError(2, 'usage', '--description may not start with "-" or hold a line break');
  return s;
}

export function registerSnapshotCommands(program: Command): void {
  const deps = (): SnapshotDeps => {
    const settings = loadSettings({ path: program.opts<{ settings?: string }>().settings });
    const fs = nodeHostFs(settings.paths.root);
    return { fs, settings, qm: qmTool(execaExec), volumes: pveVolumeSnapshots(execaExec), state: new StateStore(fs, settings.paths.stateDir), cloner: cpCloner(execaExec), clock: realClock, print: printLine, pid: process.pid };
  };

  program
    .command('snapshot')
    .description("snapshot a VM and its stick in one command (qm snapshot, a copy of each writable image file beside it, a storage snapshot of each volume); run as root on the VM's node")
    .argument('<vmid>')
    .argument('<name>', "snapshot name: Proxmox's rule (2-40 characters, a letter first, then letters, digits, - or _; not 'current')")
    .option('--description <text>', 'a comment for the snapshot (qm snapshot --description)')
    .option('--vmstate', 'save the RAM of a running VM too (qm snapshot --vmstate 1); the guest stays paused until it is saved')
    .action(async (id: string, name: string, o: { description?: string; vmstate?: boolean }) => {
      await snapshotVm(deps(), { vmid: vmidArg(id), name: snapshotNameArg(name), description: o.description === undefined ? undefined : descriptionArg(o.description), vmstate: o.vmstate });
    });

  program
    .command('rollback')
    .description('roll a stopped VM and its stick back to a snapshot (qm rollback; the stick copies verified, then swapped in atomically; volumes rolled back to their storage snapshot)')
    .argument('<vmid>')
    .argument('<name>')
    .action(async (id: string, name: string) => {
      await rollbackVm(deps(), vmidArg(id), snapshotNameArg(name));
    });

  program
    .command('delsnapshot')
    .description("delete a snapshot of a VM and its stick (qm delsnapshot, then the stick's copy or storage snapshot); also removes a stick snapshot whose VM snapshot is gone")
    .argument('<vmid>')
    .argument('<name>')
    .option('--force', 'qm delsnapshot --force: remove it from the config even if a disk snapshot cannot be removed')
    .action(async (id: string, name: string, o: { force?: boolean }) => {
      await deleteSnapshot(deps(), vmidArg(id), snapshotNameArg(name), { force: o.force });
    });
}
