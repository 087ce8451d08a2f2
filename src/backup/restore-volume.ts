/**
 * `restore ... --to storage:volume` (or the volume the manifest names): a stick copy written onto a
 * Proxmox volume. The volume passes the rules a notes volume passes at pre-start (volume-rules.ts:
 * allowed_storages, the storage enabled on this node, raw, THIS VM's own volume, none of its disks);
 * no live stick of any VM may serve it. The copy is verified against its manifest before anything is
 * activated; the volume is activated (or mapped) through PVE::Storage like at pre-start, the resolved
 * device or file passes the volume image policy, the copy must fit (copy size <= volume size), and the
 * bytes are written in place (a device cannot be replaced by a rename; a file volume keeps its inode
 * and its size), the rest of the volume zeroed, then read back and verified. What was activated is
 * released again, as post-stop would (storage/resolve.ts releaseVolume).
 * Unlike a restore to a file this is not atomic: a failure while writing leaves the volume partly
 * written, and says so; the checks before the first write make that an I/O error only.
 */
import { BackupError, CommandError, GadgetError } from '../errors.js';
import { exportedImages } from '../host/conflicts.js';
import type { ImageUse } from '../host/image-uses.js';
import type { VmSource } from '../hook/vm-source.js';
import type { Exec } from '../ports/exec.js';
import type { HostFs } from '../ports/host-fs.js';
import type { Log } from '../ports/log.js';
import type { Settings } from '../settings/types.js';
import type { StateStore } from '../state/record.js';
import { activateVolume } from '../storage/pve-lib.js';
import { rbdDeviceOfPath } from '../storage/rbd-sysfs.js';
import { initialVolume, releaseVolume, type LunVolume } from '../storage/resolve.js';
import { readStorageConfig } from '../storage/storage-config.js';
import { checkResolvedVolume } from '../storage/volume-policy.js';
import { planVolume } from '../storage/volume-rules.js';
import { ChecksumMismatch, hashFile, writeInPlace, type CopyResult } from './copy-file.js';

export interface VolumeRestoreDeps {
  fs: HostFs;
  settings: Settings;
  state: Pick<StateStore, 'list'>;
  vms: VmSource;
  exec: Exec;
  log: Log;
}

export interface VolumeRestore {
  vmid: number;
  volid: string;
  /** the copy: host-absolute path, and what its manifest says it holds */
  copy: string;
  expect: CopyResult;
}

const KEY = '--to';

/** Writes the copy onto the volume; returns the device (or file) written and the volume's size. */
export async function restoreToVolume(deps: VolumeRestoreDeps, req: VolumeRestore): Promise<{ device: string; bytes: number }> {
  const vm = await deps.vms.read(req.vmid);
  const allowedStorages = deps.settings.images.allowedStorages ?? [];
  const storages = allowedStorages.length > 0 ? readStorageConfig(deps.fs) : new Map();
  const plan = planVolume({ key: KEY, image: req.volid, vmid: req.vmid, readonly: false, node: deps.settings.node, allowedStorages, storages, vmConfig: vm.config });
  const fixLive = 'stop that VM (or pve-usb-gadget down <vmid>) first';
  for (const r of deps.state.list()) {
    if ([...r.luns.map((l) => l.volume), ...(r.spareVolumes ?? [])].some((v) => v?.volid === plan.volid)) {
      throw new BackupError(`volume ${plan.volid} is served by the live stick of VM ${r.vmid}`, { key: KEY, fix: fixLive });
    }
  }
  // a damaged copy is refused before the volume is even activated
  const got = hashFile(deps.fs.real(req.copy));
  if (got.size !== req.expect.size || got.sha256 !== req.expect.sha256) {
    throw new BackupError(`the stick copy ${req.copy} does not match its manifest (${new ChecksumMismatch(req.expect, got).message}); nothing was written`, {
      path: req.copy,
      fix: 'the copy is damaged: restore from another backup',
    });
  }

  const answer = await activateVolume(deps.exec, plan.volid);
  const v: LunVolume = { ...initialVolume(plan), path: answer.path };
  try {
    if (plan.kind === 'rbd') {
      v.rbd = rbdDeviceOfPath(deps.fs, answer.path);
      if (!v.rbd) throw new CommandError(`volume ${plan.volid} was mapped to ${answer.path}, but no kernel RBD device is behind it`, { fix: 'check the mapping with: rbd showmapped' });
    }
    // configfs is the ground truth for what is served (a gadget whose record is gone still exports), the
    // records for what is about to be
    const inUse: ImageUse[] = [...exportedImages(deps.fs, ''), ...deps.state.list().flatMap((r) => r.luns.map((l) => ({ image: l.image, readonly: l.readonly, by: `the live stick of VM ${r.vmid}` })))];
    const checked = checkResolvedVolume(deps.fs, plan, answer.path, { key: KEY, readonly: false, inUse, storageRoot: plan.root });
    if (req.expect.size > checked.bytes) {
      throw new BackupError(`the stick copy is ${req.expect.size} bytes, volume ${plan.volid} (${checked.real}) only ${checked.bytes}; nothing was written`, {
        key: KEY,
        path: checked.real,
        fix: `grow the volume to at least ${req.expect.size} bytes, or restore to a larger volume or an image file with --to`,
      });
    }
    try {
      writeInPlace(deps.fs.real(req.copy), deps.fs.real(checked.real), checked.bytes, req.expect);
    } catch (err) {
      const what = err instanceof ChecksumMismatch ? `reads back differently (${err.message})` : `could not be written: ${err instanceof Error ? err.message : String(err)}`;
      throw new BackupError(`volume ${plan.volid} (${checked.real}) ${what}; it is partly written`, {
        path: checked.real,
        cause: err,
        fix: 'check the storage, then run the same restore again',
      });
    }
    return { device: checked.real, bytes: checked.bytes };
  } finally {
    await release(deps, v);
  }
}

/** Undoes the activation; a failure is said, never thrown over the restore's own outcome. */
async function release(deps: VolumeRestoreDeps, v: LunVolume): Promise<void> {
  try {
    deps.log.info(`${v.volid}: ${await releaseVolume(deps, v)}`);
  } catch (err) {
    const line = err instanceof GadgetError ? err.toLine() : String(err);
    deps.log.warn(`${v.volid} was left active: ${line} (deactivate it by hand: lvchange -an <vg>/<lv>, or rbd unmap <device>)`);
  }
}
