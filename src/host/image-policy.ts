import type { FileInfo, HostFs } from '../ports/host-fs.js';
import { ImagePolicyError, errnoOf } from '../errors.js';
import type { Settings } from '../settings/types.js';
import { blockDeviceBytes } from '../storage/block-device.js';
import { judgePathInStorage, storageFoldersOf, type PathInStorage } from '../storage/path-volume.js';
import type { StorageConfig } from '../storage/storage-config.js';
import { inSnapshotStore, SNAPSHOT_STORE } from '../snapshot/names.js';
import { isAtOrUnder, isUnder } from '../values/paths.js';
import { hardLinkProblem } from './file-rules.js';
import type { ImageUse, VmDisk } from './image-uses.js';

export type { ImageUse } from './image-uses.js';

/** Places that hold the hypervisor's own state: never exported, whatever the allowed dirs say. */
const DENIED = ['/etc', '/root', '/boot', '/proc', '/sys', '/run', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/var/lib/pve-cluster', '/var/lib/pve-manager', '/var/lib/pve-firewall', '/var/log'];


/** The facts a path is judged against besides the settings (gathered by the caller, once). */
export interface ImageContext {
  /** the VM whose notes name the image */
  vmid: number;
  /** this node's name (a storage disabled here is judged as such) */
  node: string;
  /** storage.cfg: a path inside a storage's content folder is judged as that storage's volume */
  storages: StorageConfig;
  /** the drives of every VM config (vm-disks.ts), this VM's own included */
  vmDisks: readonly VmDisk[];
  /** images other gadgets (or this stick's other LUNs) export */
  inUse: readonly ImageUse[];
  /** this VM's config options, for the volume rules' own-disk check */
  vmConfig?: Readonly<Record<string, string>>;
}

/**
 * What the filesystem says of one notes `image` path, read once: its realpath (or why there is none),
 * the allowed dirs' realpaths, the storage folders it lies in, its inode and, for a block device, its
 * size from sysfs. judgeImage decides from this alone, so a caller can gather before deciding.
 */
export interface ImagePathFacts {
  image: string;
  /** the realpath, or the error realpath threw */
  real: { ok: true; path: string } | { ok: false; err: unknown };
  allowedReal: string[];
  folders: PathInStorage[];
  /** stat of the realpath, or what stat threw (rethrown by judgeImage where checkImage used to stat) */
  info?: { ok: true; value: FileInfo } | { ok: false; err: unknown };
  blockBytes?: number;
}

export function imagePathFacts(fs: HostFs, settings: Settings, image: string, storages: StorageConfig): ImagePathFacts {
  const allowedReal = settings.images.allowedDirs.map((d) => {
    try {
      return fs.realpath(d);
    } catch {
      return d;
    }
  });
  let realPath: string;
  try {
    realPath = fs.realpath(image);
  } catch (err) {
    return { image, real: { ok: false, err }, allowedReal, folders: [] };
  }
  let info: ImagePathFacts['info'];
  try {
    info = { ok: true, value: fs.stat(realPath) };
  } catch (err) {
    info = { ok: false, err };
  }
  const blockBytes = info.ok && info.value.kind === 'block' ? blockDeviceBytes(fs, realPath) : undefined;
  return { image, real: { ok: true, path: realPath }, allowedReal, folders: storageFoldersOf(fs, storages, realPath), info, blockBytes };
}

/**
 * Decide whether a notes `image` may be exported, and return its realpath. Notes are written by users
 * who are not root, so the path is resolved first (symlinks, `..`) and only then compared with the
 * directories the admin allowed. Every refusal names the rule. Reads the filesystem (imagePathFacts).
 */
export function checkImage(fs: HostFs, settings: Settings, key: string, image: string, readonly: boolean, ctx: ImageContext): string {
  return judgeImage(settings, key, readonly, ctx, imagePathFacts(fs, settings, image, ctx.storages));
}

/** checkImage's judgement from the gathered facts: pure. */
export function judgeImage(settings: Settings, key: string, readonly: boolean, ctx: ImageContext, facts: ImagePathFacts): string {
  const { image } = facts;
  if (!facts.real.ok) {
    const errno = errnoOf(facts.real.err);
    throw new ImagePolicyError(
      errno === 'ENOENT' ? `image ${image} does not exist` : `image ${image} cannot be resolved`,
      { key, path: image, errno, fix: 'create it (pve-usb-gadget image create) or fix the path in the notes' },
    );
  }
  const real = facts.real.path;
  const deny = (rule: string, fix: string): never => {
    throw new ImagePolicyError(`image ${image}${real !== image ? ` (-> ${real})` : ''} refused: ${rule}`, { key, path: real, fix });
  };
  // inside an allowed dir, never the dir itself
  if (!facts.allowedReal.some((d) => isUnder(real, d))) {
    deny(`not inside an allowed directory (${settings.images.allowedDirs.join(', ')})`, 'move the image into an allowed directory, or ask the admin to allow its directory in the settings ([images] allowed_dirs)');
  }
  if (DENIED.some((d) => isAtOrUnder(real, d))) {
    deny('it is a system location of the hypervisor', 'use an image under an allowed images directory');
  }
  // a stick snapshot is pve-usb-gadget's own copy (snapshot/names.ts): served, restored into or swapped
  // in as media, it would be changed behind its manifest and rolled back from damaged
  if (inSnapshotStore(real)) {
    deny(`it is inside a stick snapshot folder (${SNAPSHOT_STORE}), pve-usb-gadget's own copies`, 'use the image itself; to go back to a snapshot: pve-usb-gadget rollback <vmid> <name>');
  }
  for (const m of facts.folders) {
    const refusal = judgePathInStorage(m, { key, vmid: ctx.vmid, readonly, node: ctx.node, storages: ctx.storages, vmConfig: ctx.vmConfig });
    if (refusal) deny(refusal.why, refusal.fix);
  }
  if (!facts.info?.ok) throw facts.info?.err;
  const info = facts.info.value;
  if (info.kind === 'block') {
    if (!settings.images.allowBlockDevices) deny('block devices are not allowed', 'set [images] allow_block_devices = true for this host if intended');
  } else if (isAtOrUnder(real, '/dev')) {
    deny('device nodes are not images', 'use an image file');
  } else if (info.kind !== 'file') {
    deny(`it is a ${info.kind === 'directory' ? 'directory' : 'special file (FIFO, socket or device)'}, not an image`, 'point image at a regular file');
  }
  const linked = hardLinkProblem(info);
  if (linked) deny(linked.why, linked.fix);
  // stat reports 0 bytes for block devices: their size is in sysfs
  const size = info.kind === 'block' ? (facts.blockBytes ?? 0) : info.size;
  if (size < 512) deny(`it is ${size} bytes; an image needs at least one 512-byte block`, 'create the image with pve-usb-gadget image create');
  for (const disk of ctx.vmDisks) {
    if (disk.image !== real || (disk.cdrom && readonly)) continue;
    deny(
      `it is ${disk.vmid === ctx.vmid ? "this VM's" : `VM ${disk.vmid}'s`} ${disk.cdrom ? 'CD drive' : 'disk'} ${disk.key} (its config names it, running or not): QEMU and the USB stick would both use it${disk.cdrom ? ', and the stick would write it' : ''}`,
      disk.cdrom ? 'export it read-only (readonly = true or cdrom = true)' : 'give the USB stick an image of its own',
    );
  }
  for (const use of ctx.inUse) {
    if (use.image !== real) continue;
    if (!readonly || !use.readonly) {
      deny(`it is already exported by ${use.by}${use.readonly ? ' read-only' : ' read-write'}`, 'give each VM its own image, or export it read-only everywhere');
    }
  }
  return real;
}
