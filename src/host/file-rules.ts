import type { FileInfo } from '../ports/host-fs.js';

/**
 * Why a regular file with more than one hard link is never exported, as a path or as a volume: every
 * check on the path (allowed dirs, storage folders, ownership) judges one name of the inode, and its
 * other names may be anywhere on the same filesystem, e.g. another VM's disk or a file in /etc. A hard
 * link is made by whoever can write the directory, no root needed, so this is the only safe answer.
 */
export function hardLinkProblem(info: FileInfo): { why: string; fix: string } | undefined {
  if (info.kind !== 'file' || info.nlink <= 1) return undefined;
  return {
    why: `it has ${info.nlink} hard links: its other names may be anywhere on the filesystem (another VM's disk, a system file), so no check on this name can vouch for the data`,
    fix: 'copy it to a file of its own (cp --sparse=always) and use that, or remove the other links',
  };
}
