/**
 * Where the volumes of a directory-like storage live as files (PVE::Storage::Plugin get_subdir): under
 * the storage's `path`, one folder per content type, which `content-dirs` (PVE 8) may rename. Both forms
 * of `image =` need this: a volume id is resolved to its file, and an absolute path inside one of these
 * folders is judged as the volume it is (image-policy.ts), whatever allowed_storages says.
 */
import type { StorageConfig, StorageDefinition } from './storage-config.js';

/** Storage types whose volumes are files in the Plugin.pm layout below `path`. */
export const FILE_LAYOUT_TYPES = ['dir', 'nfs', 'cifs', 'cephfs', 'glusterfs', 'btrfs'];

/** Content type → its folder below `path` (Plugin.pm $vtype_subdirs). */
const DEFAULT_SUBDIRS = {
  images: 'images',
  rootdir: 'private',
  iso: 'template/iso',
  vztmpl: 'template/cache',
  backup: 'dump',
  snippets: 'snippets',
  import: 'import',
} as const;

export type ContentType = keyof typeof DEFAULT_SUBDIRS;
const CONTENT_TYPES = Object.keys(DEFAULT_SUBDIRS) as ContentType[];

/**
 * The storage's directory: `path`, or for the network types PVE mounts itself the mount point it uses
 * when none is written (/mnt/pve/<id>). Undefined for storages whose volumes are not files.
 */
export function storageDirectory(def: StorageDefinition): string | undefined {
  if (!FILE_LAYOUT_TYPES.includes(def.type)) return undefined;
  const path = def.props.path ?? (def.type === 'dir' || def.type === 'btrfs' ? undefined : `/mnt/pve/${def.id}`);
  return path?.replace(/\/+$/, '') || undefined;
}

/** `content-dirs iso=my/isos,backup=bak` → overrides (relative to `path`, as Plugin.pm joins them). */
function contentDirOverrides(def: StorageDefinition): Partial<Record<ContentType, string>> {
  const out: Partial<Record<ContentType, string>> = {};
  for (const part of (def.props['content-dirs'] ?? '').split(/[,;]/)) {
    const m = /^\s*([a-z]+)=(.+?)\s*$/.exec(part);
    if (m?.[2] && (CONTENT_TYPES as string[]).includes(m[1] ?? '')) out[m[1] as ContentType] = m[2].replace(/^\/+|\/+$/g, '');
  }
  return out;
}

/** The folder holding `content` volumes of a file-layout storage. */
export function contentDirectory(def: StorageDefinition, content: ContentType): string | undefined {
  const base = storageDirectory(def);
  if (base === undefined) return undefined;
  const sub = contentDirOverrides(def)[content] ?? DEFAULT_SUBDIRS[content];
  return sub === '' ? base : `${base}/${sub}`;
}

/** Every content folder of a storage, for matching a path against them. */
export function contentDirectories(def: StorageDefinition): { content: ContentType; dir: string }[] {
  return CONTENT_TYPES.flatMap((content) => {
    const dir = contentDirectory(def, content);
    return dir === undefined ? [] : [{ content, dir }];
  });
}

/**
 * The file a volume of a file-layout storage is (dir storage `100/vm-100-disk-0.raw` →
 * <path>/images/100/vm-100-disk-0.raw; a linked clone's `<base vmid>/<base>/<vmid>/<name>` → its own
 * file; `iso/x.iso` → <path>/template/iso/x.iso), when that can be known without asking PVE.
 */
export function volumeFile(storages: StorageConfig, volid: string): string | undefined {
  const m = /^([A-Za-z][\w.-]*):(.+)$/.exec(volid);
  const def = m?.[1] ? storages.get(m[1]) : undefined;
  const vol = m?.[2];
  if (!def || !vol) return undefined;
  let v = /^(?:\d+\/[^/]+\/)?(\d+\/[^/]+)$/.exec(vol);
  if (v?.[1]) {
    const images = contentDirectory(def, 'images');
    // btrfs keeps a raw disk as a subvolume: <vmid>/vm-<vmid>-disk-0.raw is <vmid>/vm-<vmid>-disk-0/disk.raw
    const file = def.type === 'btrfs' && v[1].endsWith('.raw') ? `${v[1].slice(0, -4)}/disk.raw` : v[1];
    return images && `${images}/${file}`;
  }
  v = /^iso\/([^/]+)$/.exec(vol);
  if (v?.[1]) {
    const iso = contentDirectory(def, 'iso');
    return iso && `${iso}/${v[1]}`;
  }
  return undefined;
}
