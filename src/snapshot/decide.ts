/**
 * The pure decisions: from the facts (facts.ts) to a plan or a refusal, before anything changes. The
 * refusals of qemu-server are repeated here (pve-guest-common src/PVE/AbstractConfig.pm
 * __snapshot_prepare / snapshot_rollback: template, check_lock, "snapshot name already used",
 * "does not exist", incomplete snapstate) because our part runs first: qm refusing after the stick
 * was copied would only cost a copy, but refusing before costs nothing.
 */
import { SnapshotError } from '../errors.js';
import type { GadgetError } from '../errors.js';
import { isPausedState } from './deps.js';
import { snapshottable, type LunFact, type VmFacts } from './facts.js';
import type { ManifestVolume } from './manifest.js';
import type { StickFolder, StickSnapshot } from './store.js';

export type Decision<P> = { kind: 'plan'; plan: P } | { kind: 'refuse'; error: GadgetError };

const refuse = (message: string, fix: string, path?: string): { kind: 'refuse'; error: GadgetError } => ({ kind: 'refuse', error: new SnapshotError(message, { fix, path }) });

export interface SnapshotPlan {
  /** writable image files to copy, grouped later by their directory */
  copy: (LunFact & { kind: 'file' })[];
  /** volume LUNs whose storage can snapshot them: a storage snapshot named like the VM's */
  volumes: (LunFact & { kind: 'volume' })[];
  /** one line per LUN left out, and why */
  skipped: string[];
  live: boolean;
  /** running, and paused by someone else (vzdump, an admin): copied as it is, left paused */
  paused: boolean;
  vmstate: boolean;
}

const SKIP_TEXT = { cdrom: 'a cdrom image (read-only media): nothing to snapshot', readonly: 'read-only: the guest cannot change it, nothing to snapshot' } as const;

/** Checks both snapshot commands share: a stick, no template, no lock (AbstractConfig check_lock). */
function vmRefusal(f: VmFacts, what: string, qmAlone: string): { kind: 'refuse'; error: GadgetError } | undefined {
  if (f.notesError) return { kind: 'refuse', error: f.notesError };
  if (!f.spec) return refuse(`VM ${f.vmid} has no [usb-gadget] section in its notes: there is no stick to ${what}`, `use ${qmAlone}`, f.configPath);
  if (f.options.template === '1') return refuse(`VM ${f.vmid} is a template: Proxmox allows no ${what} of it`, 'clone it first', f.configPath);
  if (f.options.lock) return refuse(`VM ${f.vmid} is locked (${f.options.lock})`, 'wait for the task holding the lock to end (qm unlock only if it died)', f.configPath);
  return undefined;
}

/** PVE::Storage's answer for a volume LUN (volume_has_feature snapshot), by LUN index */
export type VolumeCaps = ReadonlyMap<number, { type: string; snapshot: boolean }>;

export function decideSnapshot(f: VmFacts, name: string, stick: StickSnapshot, vmstate: boolean, caps: VolumeCaps = new Map()): Decision<SnapshotPlan> {
  const vm = vmRefusal(f, 'snapshot', `qm snapshot ${f.vmid} ${name}`);
  if (vm) return vm;
  if (f.snapshots.has(name)) return refuse(`VM ${f.vmid} already has a snapshot named ${name}`, `pick another name (qm listsnapshot ${f.vmid})`, f.configPath);
  if (stick.kind !== 'none') {
    const where = stick.folders.map((x) => x.folder).join(', ');
    return refuse(`the stick of VM ${f.vmid} already has a snapshot named ${name} (${where}), with no VM snapshot of that name`, `remove it first: pve-usb-gadget delsnapshot ${f.vmid} ${name}`, stick.folders[0]?.folder);
  }
  const copy: SnapshotPlan['copy'] = [];
  const volumes: SnapshotPlan['volumes'] = [];
  const skipped: string[] = [];
  for (const l of f.luns) {
    if (l.kind === 'refused') return { kind: 'refuse', error: l.error };
    if (l.kind === 'volume') {
      const cap = caps.get(l.index);
      if (!cap) return refuse(`LUN ${l.index}'s volume ${l.volid} was not asked about`, 'report this as a bug');
      if (!cap.snapshot) {
        return refuse(
          `LUN ${l.index} is volume ${l.volid} on storage '${l.storage}' (type ${cap.type}), which Proxmox cannot snapshot (volume_has_feature snapshot: no; thick LVM and raw images on a directory have no snapshots)`,
          'put that LUN on a storage with snapshots (LVM-thin, ZFS, Ceph RBD) or on an image file, make it read-only (readonly = true) if the guest need not write it, or use vzdump backups, which copy it',
        );
      }
      volumes.push(l);
      continue;
    }
    if (l.kind === 'block') return refuse(`snapshots of sticks on block devices are not supported (LUN ${l.index} is ${l.image})`, 'use an image file for that LUN');
    if (l.kind === 'file') copy.push(l);
    else skipped.push(`LUN ${l.index} (${l.image}) is ${SKIP_TEXT[l.kind]}`);
  }
  return { kind: 'plan', plan: { copy, volumes, skipped, live: f.run.running, paused: isPausedState(f.run), vmstate } };
}

export interface RollbackLun {
  index: number;
  /** the snapshot's copy (host-absolute) */
  from: string;
  /** the image it was taken from, which it is written back to (a realpath) */
  target: string;
  size: number;
  sha256: string;
}

export interface RollbackPlan {
  luns: RollbackLun[];
  /** volume LUNs: rolled back to their storage snapshot */
  volumes: ManifestVolume[];
  /** the VM snapshot saved RAM: qm rollback starts the VM itself (AbstractConfig snapshot_rollback) */
  vmstate: boolean;
  warnings: string[];
  folders: StickFolder[];
}

/** Facts only a rollback needs: the image policy's answer for each target the snapshot names. */
export interface RollbackTargets {
  /** LUN index -> the target's realpath, or the policy's refusal */
  judged: Map<number, { real: string } | { error: GadgetError }>;
  /** target realpath -> the VM whose live record names it */
  liveElsewhere: Map<string, number>;
}

export function decideRollback(f: VmFacts, name: string, stick: StickSnapshot, targets: RollbackTargets): Decision<RollbackPlan> {
  const snap = f.snapshots.get(name);
  if (!snap) {
    const orphan = stick.kind === 'none' ? '' : `; the stick has a snapshot of that name without it: pve-usb-gadget delsnapshot ${f.vmid} ${name} removes it`;
    return refuse(`VM ${f.vmid} has no snapshot named ${name}${orphan}`, `see qm listsnapshot ${f.vmid}`, f.configPath);
  }
  if (f.notesError) return { kind: 'refuse', error: f.notesError };
  if (f.options.template === '1') return refuse(`VM ${f.vmid} is a template: Proxmox allows no rollback of it`, 'clone it first', f.configPath);
  if (snap.snapstate) return refuse(`snapshot ${name} of VM ${f.vmid} is incomplete (snapstate = ${snap.snapstate}): Proxmox refuses to roll back to it`, `remove it: pve-usb-gadget delsnapshot ${f.vmid} ${name} --force`, f.configPath);
  if (f.options.lock) return refuse(`VM ${f.vmid} is locked (${f.options.lock})`, 'wait for the task holding the lock to end (qm unlock only if it died)', f.configPath);
  if (f.run.running) {
    return refuse(`VM ${f.vmid} is running: qm rollback would stop it hard, with the stick still plugged in`, `shut it down (qm shutdown ${f.vmid}), then roll back`);
  }
  if (f.liveRecord) return refuse(`the stick of VM ${f.vmid} is live`, `pve-usb-gadget down ${f.vmid}, then roll back`);
  const qmAlone = `to roll back the VM alone (the stick keeps its data as it is now): qm rollback ${f.vmid} ${name}`;
  if (stick.kind === 'none') {
    if (f.spec && !snapshottable(f.luns)) return { kind: 'plan', plan: { luns: [], volumes: [], vmstate: snap.vmstate !== undefined, warnings: [], folders: [] } };
    return refuse(`the stick of VM ${f.vmid} has no snapshot named ${name} (looked in ${stick.looked.join(', ') || 'no folder: no image directory'})`, qmAlone);
  }
  if (stick.kind === 'incomplete') return refuse(`the stick snapshot ${name} of VM ${f.vmid} is not complete: ${stick.why}`, `${qmAlone}; pve-usb-gadget delsnapshot ${f.vmid} ${name} removes both`, stick.folders[0]?.folder);
  const luns: RollbackLun[] = [];
  const volumes: ManifestVolume[] = [];
  const warnings: string[] = [];
  for (const folder of stick.folders) {
    for (const v of folder.manifest.volumes ?? []) {
      volumes.push(v);
      const now = f.luns.find((x) => x.index === v.index);
      if (now?.image !== v.image) {
        warnings.push(`LUN ${v.index}: the snapshot was taken of volume ${v.volid}, the notes now name ${now ? now.image : 'no such LUN'}; ${v.volid} is rolled back all the same, and the next start serves what the notes name`);
      }
    }
    for (const l of folder.manifest.luns) {
      const judged = targets.judged.get(l.index);
      if (!judged) return refuse(`LUN ${l.index}'s image ${l.source} was not checked`, 'report this as a bug');
      if ('error' in judged) return { kind: 'refuse', error: judged.error };
      const other = targets.liveElsewhere.get(judged.real);
      if (other !== undefined) return refuse(`${judged.real} is the live stick of VM ${other}`, 'stop that VM first', judged.real);
      luns.push({ index: l.index, from: `${folder.folder}/${l.file}`, target: judged.real, size: l.size, sha256: l.sha256 });
      const now = f.luns.find((x) => x.index === l.index);
      // Proxmox keeps the notes as they are now (AbstractConfig __snapshot_apply_config keeps description)
      if (now?.image !== l.image) {
        warnings.push(`LUN ${l.index}: the snapshot was taken from ${l.image}, the notes now name ${now ? now.image : 'no such LUN'}; Proxmox does not roll the notes back, so the next start serves what they name`);
      }
    }
  }
  const m = stick.folders[0]?.manifest;
  const spec = f.spec;
  if (m && spec) {
    const hex = (n: number) => n.toString(16).padStart(4, '0');
    if (hex(spec.vendorId) !== m.usb.vendorId || hex(spec.productId) !== m.usb.productId || spec.serial !== m.usb.serial) {
      warnings.push(
        `the notes give ${hex(spec.vendorId)}:${hex(spec.productId)} serial ${spec.serial}, the snapshot was taken as ${m.usb.vendorId}:${m.usb.productId} serial ${m.usb.serial} (GUID ${m.guid}): set vendor_id, product_id and serial back in the notes to keep the licence GUID`,
      );
    }
  }
  luns.sort((a, b) => a.index - b.index);
  volumes.sort((a, b) => a.index - b.index);
  return { kind: 'plan', plan: { luns, volumes, vmstate: snap.vmstate !== undefined, warnings, folders: stick.folders } };
}

export interface DeletePlan {
  /** the VM snapshot exists: qm delsnapshot first */
  qm: boolean;
  folders: string[];
  /** storage snapshots the folders' manifests name: volume_snapshot_delete after qm delsnapshot */
  volumes: ManifestVolume[];
  running: boolean;
  /** the stick snapshot's state, for the output */
  stick: StickSnapshot['kind'];
}

export function decideDelete(f: VmFacts, name: string, stick: StickSnapshot): Decision<DeletePlan> {
  const vmHas = f.snapshots.has(name);
  if (!vmHas && stick.kind === 'none') {
    return refuse(`VM ${f.vmid} has no snapshot named ${name}, and its stick neither (looked in ${stick.looked.join(', ') || 'no folder'})`, `see qm listsnapshot ${f.vmid}`, f.configPath);
  }
  const folders = stick.kind === 'none' ? [] : stick.folders;
  const volumes = folders.flatMap((x) => x.manifest?.volumes ?? []);
  return { kind: 'plan', plan: { qm: vmHas, folders: folders.map((x) => x.folder), volumes, running: f.run.running, stick: stick.kind } };
}
