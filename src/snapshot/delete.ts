/**
 * `delsnapshot <vmid> <name> [--force]`: `qm delsnapshot` first (qemu-server removes the VM's disk
 * snapshots and the config section; --force keeps going when a disk snapshot cannot be removed:
 * src/PVE/API2/Qemu.pm delsnapshot), then the stick snapshot's folders. When qm fails the stick
 * snapshot stays, so the two still go together. A stick snapshot whose VM snapshot is gone (an
 * orphan doctor lists) is removed alone; a VM snapshot without a stick snapshot is removed all the same.
 * Volume LUNs' storage snapshots (the manifests under VOLUME_SNAPSHOT_ROOT name them) are deleted after
 * qm, with PVE::Storage volume_snapshot_delete; one that cannot be keeps its manifest, so doctor
 * lists it and the command can be run again.
 */
import { GadgetError, SnapshotError } from '../errors.js';
import { VOLUME_SNAPSHOT_ROOT } from './names.js';
import { decideDelete } from './decide.js';
import type { SnapshotDeps } from './deps.js';
import { readVmFacts, stickSnapshotOf } from './facts.js';
import { removeStickFolder } from './store.js';
import { removeVolumeSnapshots } from './volumes.js';

export interface DeleteResult {
  qm: boolean;
  removed: string[];
  /** files in a snapshot folder that are not ours, left in place */
  left: string[];
}

export async function deleteSnapshot(deps: SnapshotDeps, vmid: number, name: string, opts: { force?: boolean } = {}): Promise<DeleteResult> {
  const facts = await readVmFacts(deps, vmid);
  const d = decideDelete(facts, name, stickSnapshotOf(deps, facts, name));
  if (d.kind === 'refuse') throw d.error;
  const plan = d.plan;
  const say = (l: string) => deps.print(`VM ${vmid}: ${l}`);
  if (plan.qm) {
    try {
      await deps.qm.delsnapshot(vmid, name, { force: opts.force });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SnapshotError(`${why}; the stick snapshot was kept with it`, {
        cause: err,
        fix: err instanceof GadgetError && err.fix ? `${err.fix}; --force removes it from the config even if a disk snapshot cannot be removed` : 'see the qm message',
      });
    }
    say(`VM snapshot ${name} deleted (qm delsnapshot${opts.force ? ' --force' : ''})`);
  } else {
    say(`VM ${vmid} has no snapshot named ${name} (any more): removing the stick's alone`);
  }
  const failed = await removeVolumeSnapshots(deps, plan.volumes, plan.running);
  for (const v of plan.volumes) if (!failed.some((x) => x.volume === v)) say(`storage snapshot ${v.snapshot} of ${v.volid} deleted (LUN ${v.index})`);
  const keep = new Set(failed.length > 0 ? plan.folders.filter((f) => f.startsWith(`${VOLUME_SNAPSHOT_ROOT}/`)) : []);
  const left: string[] = [];
  for (const f of plan.folders.filter((x) => !keep.has(x))) {
    const stayed = removeStickFolder(deps.fs, f);
    if (stayed.length > 0) left.push(...stayed);
    else say(`stick snapshot ${name} removed: ${f}`);
  }
  if (plan.folders.length === 0) say(`the stick had no snapshot named ${name}: nothing else to remove`);
  if (failed.length > 0) {
    throw new SnapshotError(`could not delete ${failed.map((x) => x.line).join('; ')}; its manifest was kept`, { path: [...keep][0], fix: `fix the cause, then run pve-usb-gadget delsnapshot ${vmid} ${name} again` });
  }
  if (left.length > 0) {
    throw new SnapshotError(`the stick snapshot folder holds files that are not pve-usb-gadget's, left in place: ${left.join(', ')}`, { path: left[0], fix: 'look at them and remove the folder by hand' });
  }
  return { qm: plan.qm, removed: plan.folders, left };
}
