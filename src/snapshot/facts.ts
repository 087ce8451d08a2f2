/**
 * Everything the snapshot decisions (decide.ts) are made from, read once before any change: the VM's
 * config file (qm keeps snapshots as its `[name]` sections, which `qm config` does not show; we run as
 * root on the VM's node, like qm, so the file is there), the stick's notes, whether the VM runs, the
 * live stick records, each LUN judged by the image policy, and the stick snapshot of that name.
 */
import { imageContext } from '../host/image-facts.js';
import { lunBacking } from '../host/lun-backing.js';
import { GadgetError, NotesError, SnapshotError } from '../errors.js';
import { parseLocalVmConfig, parseSnapshotSections } from '../proxmox/local-config.js';
import { smbiosUuid } from '../hook/vm-source.js';
import type { GadgetSpec } from '../spec/types.js';
import { planVolumes } from '../storage/resolve.js';
import { validateNotes } from '../spec/validate.js';
import type { SnapshotDeps, VmRunState } from './deps.js';
import { findStickSnapshot, storeRoots, type StickSnapshot } from './store.js';

/** A LUN of the current notes, as a snapshot sees it. */
export type LunFact =
  | { index: number; image: string; kind: 'file'; real: string }
  | { index: number; image: string; kind: 'cdrom' | 'readonly' | 'block' }
  | { index: number; image: string; kind: 'volume'; volid: string; storage: string; type: string }
  | { index: number; image: string; kind: 'refused'; error: GadgetError };

export interface VmFacts {
  vmid: number;
  configPath: string;
  /** main-section options (lock, template, parent, ...) */
  options: Record<string, string>;
  /** the [usb-gadget] section: a spec, none, or the notes' problems */
  spec: GadgetSpec | undefined;
  notesError?: NotesError;
  /** the VM snapshots: `[name]` sections of the config file */
  snapshots: Map<string, Record<string, string>>;
  run: VmRunState;
  /** a live (or half-built) stick record of this VM */
  liveRecord: boolean;
  luns: LunFact[];
  /** where stick snapshots of this VM may lie */
  roots: string[];
}

export async function readVmFacts(deps: SnapshotDeps, vmid: number): Promise<VmFacts> {
  const configPath = `${deps.settings.paths.pveConfigDir}/${vmid}.conf`;
  const text = deps.fs.readTextIfExists(configPath);
  if (text === undefined) {
    throw new SnapshotError(`VM ${vmid} is not on this node`, { path: configPath, fix: "run pve-usb-gadget as root on the VM's node" });
  }
  const local = parseLocalVmConfig(text);
  const r = validateNotes(local.description ?? '', { vmid, smbiosUuid: smbiosUuid(local.options.smbios1), defaultSpeed: deps.settings.defaultSpeed });
  const spec = r.kind === 'ok' ? r.spec : undefined;
  const luns = spec ? lunFacts(deps, vmid, spec, local.options) : [];
  return {
    vmid,
    configPath,
    options: local.options,
    spec,
    notesError: r.kind === 'invalid' ? new NotesError(r.problems) : undefined,
    snapshots: parseSnapshotSections(text),
    run: await deps.qm.status(vmid),
    liveRecord: deps.state.read(vmid) !== undefined,
    luns,
    roots: storeRoots(deps.fs, deps.settings, spec?.luns.map((l) => l.image) ?? []),
  };
}

/**
 * Each LUN: skipped (read-only media), not supported (block devices), refused, a file to copy, or a
 * volume the storage rules allow (storage/volume-rules.ts: allowed_storages, this VM's own, none of
 * its disks), with its storage and type from storage.cfg.
 */
export function lunFacts(deps: Pick<SnapshotDeps, 'fs' | 'settings'>, vmid: number, spec: GadgetSpec, vmConfig?: Readonly<Record<string, string>>): LunFact[] {
  const ctx = imageContext(deps.fs, deps.settings, vmid);
  const writable = { ...spec, luns: spec.luns.filter((l) => !l.cdrom && !l.readonly) };
  let plans: ReturnType<typeof planVolumes> | GadgetError;
  try {
    plans = planVolumes(deps, vmid, writable, vmConfig);
  } catch (err) {
    if (!(err instanceof GadgetError)) throw err;
    plans = err;
  }
  return spec.luns.map((lun): LunFact => {
    const base = { index: lun.index, image: lun.image };
    if (lun.cdrom) return { ...base, kind: 'cdrom' };
    if (lun.readonly) return { ...base, kind: 'readonly' };
    try {
      const b = lunBacking(deps.fs, deps.settings, ctx, lun);
      if (b.kind === 'volume') {
        if (plans instanceof GadgetError) throw plans;
        const p = plans.get(lun.index);
        if (!p) throw new SnapshotError(`LUN ${lun.index}'s volume ${lun.image} was not checked`, { fix: 'report this as a bug' });
        return { ...base, kind: 'volume', volid: p.volid, storage: p.id.storage, type: p.type };
      }
      return b.kind === 'file' ? { ...base, kind: 'file', real: b.real } : { ...base, kind: b.kind };
    } catch (err) {
      if (err instanceof GadgetError) return { ...base, kind: 'refused', error: err };
      throw err;
    }
  });
}

/** The stick snapshot `name` of the VM, looked for in its roots. */
export const stickSnapshotOf = (deps: Pick<SnapshotDeps, 'fs'>, facts: VmFacts, name: string): StickSnapshot =>
  findStickSnapshot(deps.fs, facts.roots, facts.vmid, name);

/** Whether the current notes have a LUN the guest can write (so a stick snapshot is expected of every VM snapshot). */
export const snapshottable = (luns: readonly LunFact[]): boolean => luns.some((l) => l.kind !== 'cdrom' && l.kind !== 'readonly');
