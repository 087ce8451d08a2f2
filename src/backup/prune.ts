/**
 * Our side of vzdump's pruning. vzdump removes an archive with its `.log` and `.notes` only
 * (pve-storage PVE/Storage.pm archive_remove / archive_auxiliaries_remove), so at job-end we remove our
 * files whose archive is gone. Only names that are ours (names.ts), only directly in the dump
 * directory, only regular files (lstat: a symlink is never followed, never removed), and never for an
 * archive still being written (its `.tmp` dir or `.dat` file exists) or a copy a backup is working on.
 */
import * as fs from 'node:fs';
import type { HostFs } from '../ports/host-fs.js';
import { archiveNames, baseOfOurFile, inProgressNames } from './names.js';

export interface PruneResult {
  removed: string[];
  kept: number;
}

export function pruneOrphans(hostFs: HostFs, dumpDir: string, activeBases: ReadonlySet<string>): PruneResult {
  const dir = hostFs.real(dumpDir);
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return { removed: [], kept: 0 };
  const names = new Set(fs.readdirSync(dir));
  const removed: string[] = [];
  let kept = 0;
  for (const name of [...names].sort()) {
    const base = baseOfOurFile(name);
    if (base === undefined) continue;
    const alive = archiveNames(base).some((n) => names.has(n)) || inProgressNames(base).some((n) => names.has(n)) || activeBases.has(base);
    if (alive) {
      kept++;
      continue;
    }
    const path = `${dir}/${name}`;
    if (!fs.lstatSync(path, { throwIfNoEntry: false })?.isFile()) continue;
    fs.rmSync(path, { force: true });
    removed.push(name);
  }
  return { removed, kept };
}

/** Every file of ours for one archive base (an aborted backup's leftovers). */
export function removeBase(hostFs: HostFs, dumpDir: string, base: string): string[] {
  const dir = hostFs.real(dumpDir);
  const out: string[] = [];
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (baseOfOurFile(name) !== base) continue;
    if (!fs.lstatSync(`${dir}/${name}`).isFile()) continue;
    fs.rmSync(`${dir}/${name}`, { force: true });
    out.push(name);
  }
  return out;
}
