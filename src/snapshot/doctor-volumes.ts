/**
 * doctor's check of the storage snapshots volume LUNs' stick snapshots name (manifests under
 * VOLUME_SNAPSHOT_ROOT): for each VM snapshot whose stick snapshot is complete, each storage snapshot is
 * looked for through PVE::Storage volume_snapshot_info, which only some plugins (and PVE versions) have;
 * where it is missing the line says the snapshot was not checked.
 */
import type { CheckResult } from '../cli/doctor-result.js';
import type { HostFs } from '../ports/host-fs.js';
import type { Settings } from '../settings/types.js';
import type { VolumeSnapshots } from './deps.js';
import { vmSnapshotViews } from './doctor-check.js';
import { findStickSnapshot } from './store.js';

export async function checkVolumeSnapshots(fs: HostFs, settings: Settings, volumes: Pick<VolumeSnapshots, 'list'>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const { vmid, vmSnaps, roots } of vmSnapshotViews(fs, settings)) {
    const check = `VM ${vmid} snapshots`;
    for (const name of vmSnaps) {
      const stick = findStickSnapshot(fs, roots, vmid, name);
      if (stick.kind !== 'complete') continue;
      for (const v of stick.folders.flatMap((f) => f.manifest.volumes ?? [])) {
        const what = `storage snapshot ${v.snapshot} of ${v.volid} (LUN ${v.index}, storage '${v.storage}')`;
        let listed: string[] | undefined;
        try {
          listed = await volumes.list(v.volid);
        } catch (err) {
          results.push({ check, status: 'warn', detail: `${what}: could not be listed: ${err instanceof Error ? err.message : String(err)}`, fix: 'check the storage: pvesm status' });
          continue;
        }
        if (listed === undefined) results.push({ check, status: 'ok', detail: `${what}: not checked (the storage cannot list its snapshots here)` });
        else if (listed.includes(v.snapshot)) results.push({ check, status: 'ok', detail: `${what}: present` });
        else {
          results.push({
            check,
            status: 'warn',
            detail: `${what} is gone: pve-usb-gadget rollback ${vmid} ${name} would fail`,
            fix: `qm rollback ${vmid} ${name} rolls back the VM alone; after qm delsnapshot ${vmid} ${name}, remove ${stick.folders.map((f) => f.folder).join(', ')} by hand`,
          });
        }
      }
    }
  }
  return results;
}
