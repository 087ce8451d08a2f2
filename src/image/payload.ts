/**
 * The tree of files to put on the stick: scanned once, checked for what FAT cannot hold, and cut into
 * mcopy batches. Symlinks and special files are refused: FAT has neither, and following a link from a
 * downloaded zip could copy a host file (the hook runs as root) into an image a VM reads.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { ImageError } from './errors.js';

export interface PayloadEntry {
  /** posix path relative to the payload root, e.g. "syslinux/menu.c32" */
  rel: string;
  abs: string;
  isDirectory: boolean;
  size: number;
}

export interface Payload {
  root: string;
  /** pre-order: every directory comes before what it contains */
  entries: PayloadEntry[];
  files: number;
  directories: number;
  bytes: number;
}

const FAT_FORBIDDEN = /["*/:<>?\\|]/;

/** Why FAT cannot hold this name, or undefined. Only printable ASCII: mtools runs under LC_ALL=C. */
export function badFatName(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return 'length must be 1..255 characters';
  if (!/^[\x20-\x7e]+$/.test(name)) return 'only printable ASCII names are supported';
  if (FAT_FORBIDDEN.test(name)) return 'FAT names cannot contain " * / : < > ? \\ |';
  if (/[ .]$/.test(name)) return 'FAT names cannot end with a space or a dot';
  return undefined;
}

export async function scanPayload(root: string): Promise<Payload> {
  const entries: PayloadEntry[] = [];
  let bytes = 0;
  let files = 0;
  let directories = 0;
  const walk = async (dirAbs: string, dirRel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(dirAbs)).sort();
    } catch (err) {
      throw new ImageError(`cannot read directory ${dirAbs}`, { path: dirAbs, errno: errnoOf(err), cause: err });
    }
    const seen = new Map<string, string>();
    for (const name of names) {
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const abs = path.join(dirAbs, name);
      const why = badFatName(name);
      if (why) throw new ImageError(`cannot put "${rel}" on a FAT filesystem: ${why}`, { path: abs, fix: 'rename or remove it' });
      const twin = seen.get(name.toUpperCase());
      if (twin !== undefined) {
        throw new ImageError(`"${rel}" and "${twin}" differ only in case, which FAT cannot hold`, {
          path: abs,
          fix: 'rename or remove one of them',
        });
      }
      seen.set(name.toUpperCase(), rel);
      const st = await lstat(abs);
      if (st.isDirectory()) {
        directories++;
        entries.push({ rel, abs, isDirectory: true, size: 0 });
        await walk(abs, rel);
      } else if (st.isFile()) {
        if (st.size > 0xffffffff) throw new ImageError(`"${rel}" is larger than 4 GiB, the FAT32 file size limit`, { path: abs });
        files++;
        bytes += st.size;
        entries.push({ rel, abs, isDirectory: false, size: st.size });
      } else {
        const kind = st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file or directory';
        throw new ImageError(`"${rel}" is ${kind}; only plain files and directories are copied`, {
          path: abs,
          fix: 'replace it with a plain copy (cp -rL) or remove it',
        });
      }
    }
  };
  await walk(root, '');
  return { root, entries, files, directories, bytes };
}

/**
 * Clusters the payload will take on a fresh FAT volume: file data rounded up to clusters, plus each
 * directory's entries (8.3 entry + long-name slots of 13 characters each, plus "." and "..").
 */
export function clustersNeeded(payload: Payload, clusterBytes: number): number {
  const dirEntryBytes = new Map<string, number>([['', 32]]); // root: the volume label entry
  for (const e of payload.entries) {
    const parent = path.posix.dirname(e.rel) === '.' ? '' : path.posix.dirname(e.rel);
    const name = path.posix.basename(e.rel);
    dirEntryBytes.set(parent, (dirEntryBytes.get(parent) ?? 0) + 32 * (1 + Math.ceil(name.length / 13)));
    if (e.isDirectory) dirEntryBytes.set(e.rel, (dirEntryBytes.get(e.rel) ?? 0) + 64);
  }
  let clusters = 0;
  for (const e of payload.entries) if (!e.isDirectory) clusters += Math.ceil(e.size / clusterBytes);
  for (const b of dirEntryBytes.values()) clusters += Math.max(1, Math.ceil(b / clusterBytes));
  return clusters;
}

export interface CopyBatch {
  /** posix directory inside the volume, "" for the root */
  targetDir: string;
  files: PayloadEntry[];
  bytes: number;
}

/** Files grouped by directory, at most `maxFiles` or about `maxBytes` per batch (for progress). */
export function copyBatches(payload: Payload, maxFiles = 64, maxBytes = 64 * 1024 * 1024): CopyBatch[] {
  const batches: CopyBatch[] = [];
  let current: CopyBatch | undefined;
  for (const e of payload.entries) {
    if (e.isDirectory) continue;
    const dir = path.posix.dirname(e.rel) === '.' ? '' : path.posix.dirname(e.rel);
    if (!current || current.targetDir !== dir || current.files.length >= maxFiles || current.bytes >= maxBytes) {
      current = { targetDir: dir, files: [], bytes: 0 };
      batches.push(current);
    }
    current.files.push(e);
    current.bytes += e.size;
  }
  return batches;
}
