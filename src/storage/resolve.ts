/**
 * From a LUN's `image = storage:volume` to the local file or block device the gadget exports, and back.
 *
 *   planVolumes      checks (volume-rules.ts) of every volume LUN, from facts read once (volumeFileInfos,
 *                    decideVolumes: pure); nothing on the host changes
 *   activateVolumes  PVE::Storage activates / maps each one (pve-lib.ts), the resolved path goes through
 *                    the volume image policy (volume-policy.ts); the record is written before and after
 *                    each activation, so a hook killed half-way leaves something teardown can act on
 *   releaseVolumes   after the gadget is gone: unmap RBD devices (sysfs), deactivate block volumes
 *
 * Release mirrors what qemu-server does with a VM's disks at stop (deactivate_volumes): the volume
 * belongs to this VM and is none of its disks, so nothing else has a claim on its activation.
 */
import type { FileInfo, HostFs } from '../ports/host-fs.js';
import { CommandError, ImagePolicyError, type GadgetError } from '../errors.js';
import { hardLinkProblem } from '../host/file-rules.js';
import type { Exec } from '../ports/exec.js';
import type { Log } from '../ports/log.js';
import type { Settings } from '../settings/types.js';
import type { ImageUse } from '../host/image-uses.js';
import type { GadgetSpec } from '../spec/types.js';
import { deactivateVolume, activateVolume } from './pve-lib.js';
import { rbdDeviceOfPath, unmapRbd, type RbdDevice } from './rbd-sysfs.js';
import { readStorageConfig, type StorageConfig } from './storage-config.js';
import { volumeFile } from './storage-dirs.js';
import { formatVolumeId, looksLikeVolumeId, parseVolumeId } from './volume-id.js';
import type { StorageKind } from './volume-name.js';
import { checkResolvedVolume } from './volume-policy.js';
import { planVolume, type VolumePlan } from './volume-rules.js';

/** What the record keeps about a LUN backed by a volume (state/record.ts `luns[].volume`). */
export interface LunVolume {
  /** the volume id from the notes */
  volid: string;
  storage: string;
  /** storage type: lvm, lvmthin, zfspool, rbd, dir, nfs, ... */
  type: string;
  kind: StorageKind;
  shared: boolean;
  /** 'activating' from just before PVE::Storage was asked until its answer was checked */
  state: 'activating' | 'active';
  /** what PVE::Storage::path / map_volume returned */
  path?: string;
  /** the realpath the gadget exports: /dev/dm-3, /dev/zd0, /dev/rbd0, or the image file */
  device?: string;
  bytes?: number;
  /** the kernel RBD device pre-start mapped, unmapped by post-stop */
  rbd?: RbdDevice;
}

/** What volume handling touches (HookDeps has all of it; the CLI's deps too). */
export interface StorageDeps {
  fs: HostFs;
  exec: Exec;
  settings: Settings;
  log: Log;
}

export const lunImageKey = (index: number): string => (index === 0 ? 'usb-gadget.image' : `usb-gadget.lun${index}.image`);

/**
 * Checks every LUN whose image is a volume id; throws ImagePolicyError for the first refusal. Reads
 * /etc/pve/storage.cfg only when there is a volume id, and only after its storage passed allowed_storages.
 */
export function planVolumes(deps: Pick<StorageDeps, 'fs' | 'settings'>, vmid: number, spec: GadgetSpec, vmConfig?: Readonly<Record<string, string>>): Map<number, VolumePlan> {
  if (!spec.luns.some((l) => looksLikeVolumeId(l.image))) return new Map();
  const storages = (deps.settings.images.allowedStorages ?? []).length > 0 ? readStorageConfig(deps.fs) : new Map();
  return decideVolumes(deps.settings, vmid, spec, { storages, files: volumeFileInfos(deps.fs, storages, spec) }, vmConfig);
}

/** What planning the volume LUNs reads: storage.cfg and the inode of each file volume's known file. */
export interface VolumeFacts {
  storages: StorageConfig;
  /** file → its inode, for the file volumes whose file is known before PVE is asked (storage-dirs.ts) */
  files: ReadonlyMap<string, FileInfo>;
}

/** The inodes decideVolumes looks at: each volume LUN's file, where storage.cfg tells it and it exists. */
export function volumeFileInfos(fs: HostFs, storages: StorageConfig, spec: GadgetSpec): Map<string, FileInfo> {
  const files = new Map<string, FileInfo>();
  for (const lun of spec.luns.filter((l) => looksLikeVolumeId(l.image))) {
    const parsed = parseVolumeId(lun.image);
    const file = parsed.ok ? volumeFile(storages, formatVolumeId(parsed.value)) : undefined;
    if (file !== undefined && fs.exists(file)) files.set(file, fs.stat(file));
  }
  return files;
}

/** planVolumes' judgement from the gathered facts: pure. */
export function decideVolumes(settings: Settings, vmid: number, spec: GadgetSpec, facts: VolumeFacts, vmConfig?: Readonly<Record<string, string>>): Map<number, VolumePlan> {
  const plans = new Map<number, VolumePlan>();
  const allowedStorages = settings.images.allowedStorages ?? [];
  // allowed_storages is checked inside planVolume before the storage config is consulted
  const storages = allowedStorages.length > 0 ? facts.storages : new Map();
  for (const lun of spec.luns.filter((l) => looksLikeVolumeId(l.image))) {
    const key = lunImageKey(lun.index);
    const plan = planVolume({ key, image: lun.image, vmid, readonly: lun.readonly, node: settings.node, allowedStorages, vmConfig, storages });
    refuseLinkedFile(facts, plan, key);
    plans.set(lun.index, plan);
  }
  return plans;
}

/**
 * A file volume's file is known before PVE is asked (storage-dirs.ts): a second hard link is refused
 * now, before anything is activated or recorded. checkResolvedVolume checks the answer again.
 */
function refuseLinkedFile(facts: VolumeFacts, plan: VolumePlan, key: string): void {
  const file = plan.kind === 'file' ? volumeFile(facts.storages, plan.volid) : undefined;
  const info = file === undefined ? undefined : facts.files.get(file);
  if (file === undefined || info === undefined) return;
  const linked = hardLinkProblem(info);
  if (linked) throw new ImagePolicyError(`volume ${plan.volid} (${file}) refused: ${linked.why}`, { key, path: file, fix: linked.fix });
}

export function initialVolume(plan: VolumePlan): LunVolume {
  return { volid: plan.volid, storage: plan.id.storage, type: plan.type, kind: plan.kind, shared: plan.shared, state: 'activating' };
}

/**
 * Activates each planned volume and returns the spec with those LUNs' images replaced by the exported
 * realpath. `record` is called with the volumes so far before each activation and after each check.
 */
export async function activateVolumes(
  deps: StorageDeps,
  spec: GadgetSpec,
  plans: ReadonlyMap<number, VolumePlan>,
  inUse: readonly ImageUse[],
  record: (volumes: ReadonlyMap<number, LunVolume>) => void,
): Promise<GadgetSpec> {
  const volumes = new Map<number, LunVolume>();
  // this stick's own LUNs count too: two LUNs writing one volume would corrupt it just the same
  const uses = [...inUse];
  const luns = [];
  for (const lun of spec.luns) {
    const plan = plans.get(lun.index);
    if (!plan) {
      luns.push(lun);
      continue;
    }
    volumes.set(lun.index, initialVolume(plan));
    record(volumes);
    const answer = await activateVolume(deps.exec, plan.volid);
    if (answer.type !== undefined && answer.type !== plan.type) {
      throw new CommandError(`storage '${plan.id.storage}' is ${answer.type} for Proxmox but ${plan.type} in ${'/etc/pve/storage.cfg'} as read before`, {
        fix: 'the storage configuration changed during the start: start the VM again',
      });
    }
    const v: LunVolume = { ...initialVolume(plan), path: answer.path };
    if (plan.kind === 'rbd') {
      v.rbd = rbdDeviceOfPath(deps.fs, answer.path);
      volumes.set(lun.index, v);
      record(volumes);
      if (!v.rbd) {
        throw new CommandError(`volume ${plan.volid} was mapped to ${answer.path}, but no kernel RBD device is behind it`, {
          fix: 'check the mapping with: rbd showmapped',
        });
      }
    }
    const checked = checkResolvedVolume(deps.fs, plan, answer.path, { key: lunImageKey(lun.index), readonly: lun.readonly, inUse: uses, storageRoot: plan.root });
    uses.push({ image: checked.real, readonly: lun.readonly, by: `lun${lun.index} of this VM` });
    volumes.set(lun.index, { ...v, state: 'active', device: checked.real, bytes: checked.bytes });
    record(volumes);
    deps.log.info(`${lunImageKey(lun.index)}: ${plan.volid} (${plan.type}${plan.shared ? ', shared' : ''}) -> ${answer.path}${checked.real !== answer.path ? ` -> ${checked.real}` : ''}`);
    luns.push({ ...lun, image: checked.real });
  }
  return { ...spec, luns };
}

/** Undoes the activation of one volume; says what it did. Idempotent. */
export async function releaseVolume(deps: Pick<StorageDeps, 'fs' | 'exec'>, v: LunVolume): Promise<string> {
  if (v.kind === 'rbd' && v.rbd) {
    const r = unmapRbd(deps.fs, v.rbd);
    return r === 'unmapped' ? `unmapped /dev/rbd${v.rbd.id}` : r === 'gone' ? `/dev/rbd${v.rbd.id} was already unmapped` : `/dev/rbd${v.rbd.id} now maps another image: left alone`;
  }
  // directory-like storages: deactivate_volume does nothing there (Plugin.pm)
  if (v.kind === 'file') return 'nothing to deactivate';
  await deactivateVolume(deps.exec, v.volid);
  return 'deactivated';
}

/**
 * Releases every volume in `luns` (a record's); returns those it could not release, which the caller
 * keeps in the record for the next try.
 */
export async function releaseVolumes<L extends { index: number; volume?: LunVolume }>(
  deps: Pick<StorageDeps, 'fs' | 'exec' | 'log'>,
  luns: readonly L[],
): Promise<{ kept: L[]; failures: GadgetError[] }> {
  const kept: L[] = [];
  const failures: GadgetError[] = [];
  for (const lun of luns) {
    if (!lun.volume) continue;
    try {
      deps.log.info(`${lun.volume.volid}: ${await releaseVolume(deps, lun.volume)}`);
    } catch (err) {
      const e = err instanceof Error && 'toLine' in err ? (err as GadgetError) : new CommandError(`releasing ${lun.volume.volid} failed: ${String(err)}`);
      deps.log.warn(e.toLine());
      failures.push(e);
      kept.push(lun);
    }
  }
  return { kept, failures };
}
