/**
 * The image policy for a volume, applied to the path Proxmox resolved it to. A storage listed in
 * [images] allowed_storages is the admin's consent for that storage's volumes, block devices included:
 * allowed_dirs and allow_block_devices govern absolute paths in the notes only. What still holds: the
 * path is what the storage type promises (a block device under /dev for LVM, ZFS and RBD; a regular file
 * inside the storage's directory for dir-like storages), it is at least one 512-byte block, and it is
 * not exported by another VM (read-only everywhere is fine).
 */
import type { HostFs } from '../ports/host-fs.js';
import { ImagePolicyError, errnoOf } from '../errors.js';
import { hardLinkProblem } from '../host/file-rules.js';
import type { ImageUse } from '../host/image-uses.js';
import { isUnder } from '../values/paths.js';
import { blockDeviceBytes } from './block-device.js';
import type { VolumePlan } from './volume-rules.js';


export interface ResolvedPath {
  /** realpath of what PVE::Storage returned */
  real: string;
  kind: 'file' | 'block';
  bytes: number;
}

/**
 * Checks the path PVE::Storage gave for `plan` and returns its realpath. `storageRoot` is the storage's
 * `path` from storage.cfg for directory-like storages.
 */
export function checkResolvedVolume(
  fs: HostFs,
  plan: VolumePlan,
  path: string,
  opts: { key: string; readonly: boolean; inUse: readonly ImageUse[]; storageRoot?: string },
): ResolvedPath {
  const { key } = opts;
  const deny = (why: string, fix: string, real = path): never => {
    throw new ImagePolicyError(`volume ${plan.volid} (${real}) refused: ${why}`, { key, path: real, fix });
  };
  if (!path.startsWith('/')) {
    deny('Proxmox gives QEMU a network address for it, not a local file or device', 'use a storage that gives a local device (for Ceph RBD the hook maps it with the kernel client)');
  }
  let real: string;
  try {
    real = fs.realpath(path);
  } catch (err) {
    throw new ImagePolicyError(`volume ${plan.volid} resolved to ${path}, which does not exist`, {
      key,
      path,
      errno: errnoOf(err),
      fix: `check it with: pvesm path ${plan.volid}`,
    });
  }
  const info = fs.stat(real);
  let bytes: number;
  if (plan.kind === 'file') {
    if (info.kind !== 'file') deny('it is not a regular file', 'use a disk image file', real);
    const linked = hardLinkProblem(info);
    if (linked) deny(linked.why, linked.fix, real);
    const root = opts.storageRoot ? safeRealpath(fs, opts.storageRoot) : undefined;
    if (!root || !isUnder(real, root)) {
      deny(`it is not inside the storage's directory (${opts.storageRoot ?? 'unknown'})`, 'the image file must not be a link out of its storage', real);
    }
    bytes = info.size;
  } else {
    if (info.kind !== 'block' || !isUnder(real, '/dev')) deny('it is not a block device under /dev', 'check the storage: pvesm path ' + plan.volid, real);
    const size = blockDeviceBytes(fs, real);
    if (size === undefined) deny('its size cannot be read from /sys/class/block', 'check the device', real);
    bytes = size as number;
  }
  if (bytes < 512) deny(`it is ${bytes} bytes; an image needs at least one 512-byte block`, 'resize the volume', real);
  for (const use of opts.inUse) {
    if (use.image !== real) continue;
    if (!opts.readonly || !use.readonly) {
      deny(`it is already exported by ${use.by}${use.readonly ? ' read-only' : ' read-write'}`, 'give each VM its own volume, or export it read-only everywhere', real);
    }
  }
  return { real, kind: info.kind === 'block' ? 'block' : 'file', bytes };
}

function safeRealpath(fs: HostFs, p: string): string | undefined {
  try {
    return fs.realpath(p);
  } catch {
    return undefined;
  }
}
