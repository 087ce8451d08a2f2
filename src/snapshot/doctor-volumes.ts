/**
 * doctor's check of the storage snapshots volume LUNs' stick snapshots name (manifests under
 * VOLUME_SNAPSHOT_ROOT): for each VM snapshot whose stick snapshot is complete, each storage snapshot is
 * looked for through PVE::Storage volume_snapshot_info, which only some plugins (and PVE versions) have;
 * where it is missing the line says the snapshot was not checked.
 */
import type { CheckResult } from '../cli/doctor-result.js';
import { smbiosUuid } from '../hook/vm-source.js';
import type { HostFs } from '../ports/host-fs.js';
import { parseLocalVmConfig, parseSnapshotSections } from '../proxmox/local-config.js';
import type { Settings } from '../settings/types.js';
import { validateNotes } from '../spec/validate.js';
import { parseVmid } from '../values/proxmox-ids.js';
import type { VolumeSnapshots } from './deps.js';
import { findStickSnapshot, storeRoots } from './store.js';

export async function checkVolumeSnapshots(fs: HostFs, settings: Settings, volumes: Pick<VolumeSnapshots, 'list'>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const dir = settings.paths.pveConfigDir;
  for (const file of fs.list(dir)) {
    const parsed = file.endsWith('.conf') ? parseVmid(file.slice(0, -'.conf'.length)) : undefined;
    if (!parsed?.ok) continue;
    const vmid = parsed.value;
    const text = fs.readTextIfExists(`${dir}/${file}`) ?? '';
    const local = parseLocalVmConfig(text);
    const r = validateNotes(local.description ?? '', { vmid, smbiosUuid: smbiosUuid(local.options.smbios1), defaultSpeed: settings.defaultSpeed });
    const roots = storeRoots(fs, settings, r.kind === 'ok' ? r.spec.luns.map((l) => l.image) : []);
    const check = `VM ${vmid} snapshots`;
    for (const name of parseSnapshotSections(text).keys()) {
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
