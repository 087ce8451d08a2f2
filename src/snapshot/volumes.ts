/**
 * The volume LUNs' part of a stick snapshot: a storage snapshot named like the VM snapshot, made,
 * rolled back and deleted by PVE::Storage (deps.volumes: storage/pve-snapshot.ts), the calls qemu-server
 * makes for the VM's own disks. A storage snapshot is atomic (LVM-thin, ZFS, RBD), so the guest is not
 * paused for it. Its manifest entry lies under VOLUME_SNAPSHOT_ROOT (names.ts).
 */
import { GadgetError, SnapshotError } from '../errors.js';
import type { SnapshotDeps } from './deps.js';
import type { VolumeCaps } from './decide.js';
import type { LunFact, VmFacts } from './facts.js';
import type { ManifestVolume } from './manifest.js';

type VolumeLun = LunFact & { kind: 'volume' };

/** volume_has_feature(snapshot) for every writable volume LUN, before anything changes. */
export async function volumeCaps(deps: Pick<SnapshotDeps, 'volumes'>, facts: VmFacts): Promise<VolumeCaps> {
  const caps = new Map<number, { type: string; snapshot: boolean }>();
  for (const l of facts.luns) {
    if (l.kind !== 'volume') continue;
    try {
      caps.set(l.index, await deps.volumes.capability(l.volid, facts.run.running));
    } catch (err) {
      if (!(err instanceof GadgetError)) throw err;
      throw new SnapshotError(`cannot ask Proxmox whether LUN ${l.index}'s volume ${l.volid} (storage '${l.storage}') can be snapshotted: ${err.message}`, { cause: err, fix: err.fix ?? 'check the storage: pvesm status' });
    }
  }
  return caps;
}

/** Takes each storage snapshot; `taken` grows with each one made, so the caller can undo them. */
export async function snapshotVolumes(deps: Pick<SnapshotDeps, 'volumes'>, volumes: readonly VolumeLun[], name: string, taken: ManifestVolume[]): Promise<void> {
  for (const l of volumes) {
    try {
      await deps.volumes.snapshot(l.volid, name);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SnapshotError(`the storage snapshot ${name} of LUN ${l.index}'s volume ${l.volid} (storage '${l.storage}', ${l.type}) failed: ${why}`, {
        cause: err,
        fix: err instanceof GadgetError && err.fix ? err.fix : `check the storage (pvesm status) and that no snapshot ${name} of that volume exists`,
      });
    }
    taken.push({ index: l.index, image: l.image, volid: l.volid, storage: l.storage, type: l.type, snapshot: name });
  }
}

/** Deletes storage snapshots; returns those that could not be deleted, each with why. */
export async function removeVolumeSnapshots(deps: Pick<SnapshotDeps, 'volumes'>, volumes: readonly ManifestVolume[], running: boolean): Promise<{ volume: ManifestVolume; line: string }[]> {
  const failed: { volume: ManifestVolume; line: string }[] = [];
  for (const v of volumes) {
    try {
      await deps.volumes.remove(v.volid, v.snapshot, running);
    } catch (err) {
      failed.push({ volume: v, line: `storage snapshot ${v.snapshot} of ${v.volid} (LUN ${v.index}, storage '${v.storage}'): ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return failed;
}

/** Rolls each volume back to its storage snapshot (the VM is stopped, its stick not live: unmapped, deactivated). */
export async function rollbackVolumes(deps: Pick<SnapshotDeps, 'volumes'>, volumes: readonly ManifestVolume[], done: ManifestVolume[]): Promise<void> {
  // volume_snapshot_rollback asks the plugin's volume_rollback_is_possible first (ZFS: no newer snapshot)
  for (const v of volumes) {
    try {
      await deps.volumes.rollback(v.volid, v.snapshot);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new SnapshotError(`rolling LUN ${v.index}'s volume ${v.volid} (storage '${v.storage}', ${v.type}) back to its storage snapshot ${v.snapshot} failed: ${why}; the VM was not rolled back`, {
        cause: err,
        fix: err instanceof GadgetError && err.fix ? err.fix : `check the volume and its snapshot on storage '${v.storage}', then run the rollback again`,
      });
    }
    done.push(v);
  }
}
