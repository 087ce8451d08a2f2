/**
 * A volume id (storage:volume) inserted at runtime: the same rules as a notes image at pre-start
 * (storage/volume-rules.ts: allowed_storages, this VM's own volumes, none of its disks), activated
 * through PVE::Storage with the record naming it in `spareVolumes` first, so a kill leaves it for
 * teardown to release. settle.ts moves it to its LUN once configfs serves it.
 */
import { CommandError } from '../errors.js';
import type { ImageUse } from '../host/image-policy.js';
import type { GadgetRecord } from '../state/record.js';
import { activateVolume } from '../storage/pve-lib.js';
import { rbdDeviceOfPath } from '../storage/rbd-sysfs.js';
import { initialVolume, type LunVolume, type StorageDeps } from '../storage/resolve.js';
import { readStorageConfig } from '../storage/storage-config.js';
import { checkResolvedVolume } from '../storage/volume-policy.js';
import { planVolume } from '../storage/volume-rules.js';

export async function activateForMedia(
  deps: StorageDeps & { state: { write(r: GadgetRecord): void } },
  vmid: number,
  record: GadgetRecord,
  req: { key: string; volid: string; readonly: boolean; inUse: readonly ImageUse[]; vmConfig?: Readonly<Record<string, string>> },
): Promise<{ record: GadgetRecord; volume: LunVolume; device: string }> {
  const allowedStorages = deps.settings.images.allowedStorages ?? [];
  const storages = allowedStorages.length > 0 ? readStorageConfig(deps.fs) : new Map();
  const plan = planVolume({ key: req.key, image: req.volid, vmid, readonly: req.readonly, node: deps.settings.node, allowedStorages, storages, vmConfig: req.vmConfig });
  const others = record.spareVolumes ?? [];
  const put = (v: LunVolume): GadgetRecord => {
    const next = { ...record, spareVolumes: [...others, v] };
    deps.state.write(next);
    return next;
  };
  let current = put(initialVolume(plan));
  const answer = await activateVolume(deps.exec, plan.volid);
  let v: LunVolume = { ...initialVolume(plan), path: answer.path };
  if (plan.kind === 'rbd') {
    v.rbd = rbdDeviceOfPath(deps.fs, answer.path);
    current = put(v);
    if (!v.rbd) throw new CommandError(`volume ${plan.volid} was mapped to ${answer.path}, but no kernel RBD device is behind it`, { fix: 'check the mapping with: rbd showmapped' });
  }
  current = put(v);
  const checked = checkResolvedVolume(deps.fs, plan, answer.path, { key: req.key, readonly: req.readonly, inUse: req.inUse, storageRoot: plan.root });
  v = { ...v, state: 'active', device: checked.real, bytes: checked.bytes };
  current = put(v);
  return { record: current, volume: v, device: checked.real };
}
