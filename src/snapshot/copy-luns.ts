/**
 * Copying the LUN images into their snapshot folders, as `lun<N>.raw.part-<pid>` (renamed by take.ts
 * once all are done). The folder is beside the image, on its filesystem, so a reflink clone
 * (`cp --reflink=always`: btrfs, XFS, ZFS block cloning) is the copy itself: atomic, instant, and
 * sharing blocks until the guest writes. Without reflinks the bytes are copied (backup/copy-file.ts:
 * sparse, 0600, never through a symlink). Either way the SHA-256 the manifest keeps is of the copy.
 */
import * as fs from 'node:fs';
import type { HostFs } from '../ports/host-fs.js';
import type { Cloner } from '../backup/capture.js';
import { copyWithHash, hashFile, type CopyResult } from '../backup/copy-file.js';
import { lunPartFile } from './names.js';

export interface LunCopy {
  index: number;
  /** the image's realpath (host-absolute) */
  real: string;
  /** the snapshot folder beside it (host-absolute) */
  folder: string;
}

export const partPath = (hostFs: HostFs, c: LunCopy, pid: number): string => hostFs.real(`${c.folder}/${lunPartFile(c.index, pid)}`);

/**
 * Reflinks every LUN into its part file; true when all could. When one cannot, the parts made so far
 * are removed and nothing is left: the caller copies the bytes instead (then the guest must be paused).
 */
export async function reflinkAll(hostFs: HostFs, cloner: Cloner, copies: readonly LunCopy[], pid: number): Promise<boolean> {
  const made: string[] = [];
  for (const c of copies) {
    const part = partPath(hostFs, c, pid);
    made.push(part);
    if (!(await cloner.reflink(hostFs.real(c.real), part))) {
      for (const p of made) fs.rmSync(p, { force: true });
      return false;
    }
    fs.chmodSync(part, 0o600);
  }
  return true;
}

/** Byte copies of every LUN into its part file (the guest is down or paused meanwhile). */
export function copyAll(hostFs: HostFs, copies: readonly LunCopy[], pid: number): Map<number, CopyResult> {
  const out = new Map<number, CopyResult>();
  for (const c of copies) out.set(c.index, copyWithHash(hostFs.real(c.real), partPath(hostFs, c, pid)));
  return out;
}

/** size and SHA-256 of reflinked parts: read after the guest runs again, the clone no longer changes */
export function hashAll(hostFs: HostFs, copies: readonly LunCopy[], pid: number): Map<number, CopyResult> {
  return new Map(copies.map((c) => [c.index, hashFile(partPath(hostFs, c, pid))]));
}
