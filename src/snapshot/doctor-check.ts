/**
 * doctor's snapshot lines, for the VMs of this node (their config files): VM snapshots a stick with
 * writable images has no snapshot for (rollback refuses them), stick snapshots whose VM snapshot is
 * gone (orphans, e.g. `qm delsnapshot` run directly) and unfinished ones, each with the command that
 * helps. Reads files only; no image policy check here (that is the snapshot commands' own).
 */
import type { HostFs } from '../ports/host-fs.js';
import type { CheckResult } from '../cli/doctor-result.js';
import { smbiosUuid } from '../hook/vm-source.js';
import { parseLocalVmConfig, parseSnapshotSections } from '../proxmox/local-config.js';
import type { Settings } from '../settings/types.js';
import type { GadgetSpec } from '../spec/types.js';
import { validateNotes } from '../spec/validate.js';
import { parseVmid } from '../values/proxmox-ids.js';
import { findStickSnapshot, listStickSnapshots, storeRoots } from './store.js';

/** A VM of this node as doctor's snapshot checks see it: its notes' spec, VM snapshots, store roots. */
export interface VmSnapshotView {
  vmid: number;
  spec: GadgetSpec | undefined;
  vmSnaps: string[];
  roots: string[];
}

/** Every VM config file of this node, read for the snapshot checks. */
export function vmSnapshotViews(fs: HostFs, settings: Settings): VmSnapshotView[] {
  const dir = settings.paths.pveConfigDir;
  const out: VmSnapshotView[] = [];
  for (const file of fs.list(dir)) {
    const parsed = file.endsWith('.conf') ? parseVmid(file.slice(0, -'.conf'.length)) : undefined;
    if (!parsed?.ok) continue;
    const vmid = parsed.value;
    const text = fs.readTextIfExists(`${dir}/${file}`) ?? '';
    const local = parseLocalVmConfig(text);
    const r = validateNotes(local.description ?? '', { vmid, smbiosUuid: smbiosUuid(local.options.smbios1), defaultSpeed: settings.defaultSpeed });
    const spec = r.kind === 'ok' ? r.spec : undefined;
    out.push({ vmid, spec, vmSnaps: [...parseSnapshotSections(text).keys()], roots: storeRoots(fs, settings, spec?.luns.map((l) => l.image) ?? []) });
  }
  return out;
}

export function checkSnapshots(fs: HostFs, settings: Settings): CheckResult[] {
  const results: CheckResult[] = [];
  for (const { vmid, spec, vmSnaps, roots } of vmSnapshotViews(fs, settings)) {
    const stickSnaps = listStickSnapshots(fs, roots, vmid);
    if (!spec && stickSnaps.size === 0) continue;
    const check = `VM ${vmid} snapshots`;
    const before = results.length;
    const writable = spec?.luns.some((l) => !l.cdrom && !l.readonly) ?? false;
    const missing = writable ? vmSnaps.filter((n) => !stickSnaps.has(n)) : [];
    if (missing.length > 0) {
      results.push({
        check,
        status: 'warn',
        detail: `VM snapshot${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no stick snapshot: pve-usb-gadget rollback refuses ${missing.length > 1 ? 'them' : 'it'}`,
        fix: `qm rollback ${vmid} <name> rolls back the VM alone (the stick keeps its data); pve-usb-gadget delsnapshot ${vmid} <name> deletes one`,
      });
    }
    for (const [name, folders] of stickSnaps) {
      if (!vmSnaps.includes(name)) {
        results.push({ check, status: 'warn', detail: `stick snapshot ${name} has no VM snapshot (${folders.join(', ')})`, fix: `pve-usb-gadget delsnapshot ${vmid} ${name}` });
        continue;
      }
      const found = findStickSnapshot(fs, roots, vmid, name);
      if (found.kind === 'incomplete') {
        results.push({ check, status: 'warn', detail: `stick snapshot ${name} is not complete: ${found.why}`, fix: `pve-usb-gadget delsnapshot ${vmid} ${name} (the VM's too), or qm rollback ${vmid} ${name} for the VM alone` });
      }
    }
    if (results.length === before && vmSnaps.length > 0) {
      results.push({ check, status: 'ok', detail: writable ? `${vmSnaps.length} snapshot(s), each with its stick snapshot` : `${vmSnaps.length} snapshot(s); the stick is read-only media, nothing to snapshot` });
    }
  }
  return results;
}
