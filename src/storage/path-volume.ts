/**
 * An absolute `image =` path that lies in a content folder of a directory-like storage IS that storage's
 * volume, and is judged by the volume rules (volume-rules.ts), whether or not the storage is in
 * allowed_storages: otherwise an admin who widens allowed_dirs (to /var/lib/vz, say, to reach the ISOs)
 * would let one VM's notes name another VM's disk file by its path. So: disk images only of this VM
 * (images/<vmid>/ is the owner's folder, as Proxmox decides ownership), no template base volumes, raw
 * only, ISOs read-only, and no backups, container templates or volumes, snippets or import sources.
 * Paths elsewhere in the storage's directory (e.g. /var/lib/vz/usb-gadget) are not volumes.
 */
import type { HostFs } from '../ports/host-fs.js';
import { isUnder } from '../values/paths.js';
import type { StorageConfig, StorageDefinition } from './storage-config.js';
import { contentDirectories, type ContentType } from './storage-dirs.js';
import { formatVolumeId, parseVolumeId } from './volume-id.js';
import { planVolume, VolumeRefusedError } from './volume-rules.js';

export interface PathInStorage {
  storage: StorageDefinition;
  content: ContentType;
  /** the content folder, as its realpath */
  dir: string;
  /** the path below `dir` ("101/vm-101-disk-0.raw") */
  rel: string;
}

export interface PathRefusal {
  why: string;
  fix: string;
}


/**
 * The storage content folders `real` (a realpath) lies in. Folders are compared by their realpath, so a
 * storage reached through a symlink (or a bind mount's link) is still recognised.
 */
export function storageFoldersOf(fs: HostFs, storages: StorageConfig, real: string): PathInStorage[] {
  const out: PathInStorage[] = [];
  for (const storage of storages.values()) {
    for (const { content, dir } of contentDirectories(storage)) {
      let realDir = dir;
      try {
        realDir = fs.realpath(dir);
      } catch {
        // a folder that does not exist holds nothing; compare with its name anyway (costs nothing)
      }
      for (const d of new Set([realDir, dir])) {
        if (isUnder(real, d)) out.push({ storage, content, dir: d, rel: real.slice(d.length).replace(/^\/+/, '') });
      }
    }
  }
  return out;
}

/** The volume name Proxmox would give the file at `rel` below the images folder, if any. */
function imagesVolname(type: string, rel: string): string | undefined {
  const segs = rel.split('/');
  if (segs.length === 2) return rel;
  // btrfs keeps a raw disk as a subvolume: images/<vmid>/vm-<vmid>-disk-0/disk.raw is <vmid>/vm-<vmid>-disk-0.raw
  if (type === 'btrfs' && segs.length === 3 && segs[2] === 'disk.raw') return `${segs[0]}/${segs[1]}.raw`;
  return undefined;
}

/** Judges one storage folder match; undefined when it passes. */
export function judgePathInStorage(
  m: PathInStorage,
  req: { key: string; vmid: number; readonly: boolean; node: string; storages: StorageConfig; vmConfig?: Readonly<Record<string, string>> },
): PathRefusal | undefined {
  const { storage } = m;
  const where = `storage '${storage.id}' (${m.dir})`;
  if (m.content !== 'images' && m.content !== 'iso') {
    return {
      why: `it is ${m.content} content of ${where}, not a disk or ISO image`,
      fix: 'use a disk image of this VM or an ISO image, or keep the image outside the storage folders Proxmox manages',
    };
  }
  let volname: string;
  if (m.content === 'iso') {
    volname = `iso/${m.rel}`;
  } else {
    const owner = m.rel.split('/')[0] ?? '';
    if (!/^[1-9]\d*$/.test(owner)) {
      return { why: `it is in the disk image folder of ${where} but in no VM's folder there`, fix: `use a disk image of this VM (${m.dir}/${req.vmid}/...)` };
    }
    if (Number(owner) !== req.vmid) {
      return {
        why: `it is in VM ${owner}'s folder of ${where}; a VM may only use its own volumes`,
        fix: `allocate one for VM ${req.vmid}, e.g. pvesm alloc ${storage.id} ${req.vmid} vm-${req.vmid}-usb-stick 8G --format raw`,
      };
    }
    const v = imagesVolname(storage.type, m.rel);
    if (v === undefined) return { why: `it is inside VM ${owner}'s folder of ${where} but is not one of its volumes`, fix: 'use the volume file itself' };
    volname = v;
  }
  const volid = formatVolumeId({ storage: storage.id, volname });
  if (!parseVolumeId(volid).ok) {
    return { why: `it is inside ${where} but its name is not a volume name Proxmox would give`, fix: 'use the volume as Proxmox names it (pvesm list)' };
  }
  try {
    planVolume({ key: req.key, image: volid, vmid: req.vmid, readonly: req.readonly, node: req.node, allowedStorages: [storage.id], storages: req.storages, vmConfig: req.vmConfig });
  } catch (err) {
    if (err instanceof VolumeRefusedError) return { why: `it is the volume ${volid}: ${err.why}`, fix: err.fix ?? 'use another image' };
    throw err;
  }
  return undefined;
}
