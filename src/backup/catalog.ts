/**
 * Finding stick copies: in the dump directories of this node's backup storages (PVE::Storage's
 * directory-like plugins keep backups in `<path>/dump`), or one directory given by the admin. Only
 * files whose name is ours are read, through lstat (never a symlink), and each manifest strictly
 * (manifest.ts): a copy on a shared backup storage may have been written by another node.
 */
import * as fs from 'node:fs';
import type { HostFs } from '../ports/host-fs.js';
import { BackupError } from '../errors.js';
import { availableOn, readStorageConfig } from '../storage/storage-config.js';
import { parseManifest, type Manifest } from './manifest.js';
import { archiveNames, baseOfOurFile, manifestFileName, parseArchiveName, parseBase } from './names.js';

export interface StickBackup {
  dumpDir: string;
  base: string;
  /** vzdump's time in the name, YYYY_MM_DD-HH_MM_SS */
  time: string;
  /** the archive's file name, undefined when it is gone (pruned elsewhere, not yet by us) */
  archive?: string;
  manifest: Manifest;
}

/** `<path>/dump` of every enabled storage on this node that has `backup` content and a path. */
export function backupDumpDirs(hostFs: HostFs, node: string): string[] {
  const dirs: string[] = [];
  for (const def of readStorageConfig(hostFs).values()) {
    const content = (def.props.content ?? '').split(',').map((c) => c.trim());
    const path = def.props.path;
    if (!availableOn(def, node) || !content.includes('backup') || !path?.startsWith('/')) continue;
    dirs.push(`${path.replace(/\/+$/, '')}/dump`);
  }
  return [...new Set(dirs)].sort();
}

const isFile = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false })?.isFile() === true;

/** The stick copies of `vmid` in `dirs`, oldest first. Unreadable manifests are reported by `onBad`. */
export function listStickBackups(hostFs: HostFs, dirs: readonly string[], vmid: number, onBad: (path: string, err: unknown) => void = () => undefined): StickBackup[] {
  const out: StickBackup[] = [];
  for (const dir of dirs) {
    const real = hostFs.real(dir);
    if (!fs.lstatSync(real, { throwIfNoEntry: false })?.isDirectory()) continue;
    const names = new Set(fs.readdirSync(real));
    for (const name of names) {
      const base = baseOfOurFile(name);
      if (base === undefined || name !== manifestFileName(base) || parseBase(base)?.vmid !== vmid || !isFile(`${real}/${name}`)) continue;
      try {
        out.push(readBackup(hostFs, dir, base, names));
      } catch (err) {
        onBad(`${dir}/${name}`, err);
      }
    }
  }
  return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.dumpDir.localeCompare(b.dumpDir)));
}

function readBackup(hostFs: HostFs, dir: string, base: string, names?: ReadonlySet<string>): StickBackup {
  const path = `${dir}/${manifestFileName(base)}`;
  const real = hostFs.real(path);
  if (!isFile(real)) {
    throw new BackupError(`the backup ${base} has no stick copy in ${dir}`, {
      path,
      fix: 'only backups made on a directory storage with the pve-usb-gadget vzdump hook installed have one (pve-usb-gadget backup list <vmid>)',
    });
  }
  const manifest = parseManifest(fs.readFileSync(real, 'utf8'), path);
  if (manifest.base !== base) throw new BackupError(`manifest ${path} is for ${manifest.base}`, { path });
  const present = names ?? new Set(fs.readdirSync(hostFs.real(dir)));
  const info = parseBase(base) as { time: string };
  return { dumpDir: dir, base, time: info.time, archive: archiveNames(base).find((n) => present.has(n)), manifest };
}

/**
 * The copy `from` names: an archive (file name or path, with or without `.vma...`) or a time as vzdump
 * writes it (YYYY_MM_DD-HH_MM_SS) of `vmid`'s backups.
 */
export function findStickBackup(hostFs: HostFs, dirs: readonly string[], vmid: number, from: string): StickBackup {
  const fix = 'pick one from: pve-usb-gadget backup list <vmid>';
  if (/^\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}$/.test(from)) {
    const hits = listStickBackups(hostFs, dirs, vmid).filter((b) => b.time === from);
    if (hits.length === 0) throw new BackupError(`VM ${vmid} has no stick copy from ${from}`, { fix });
    if (hits.length > 1) throw new BackupError(`VM ${vmid} has stick copies from ${from} in ${hits.map((h) => h.dumpDir).join(' and ')}`, { fix: 'give the archive path instead' });
    return hits[0] as StickBackup;
  }
  const slash = from.lastIndexOf('/');
  const name = from.slice(slash + 1);
  const base = parseArchiveName(name)?.base ?? (parseBase(name) ? name : undefined);
  if (base === undefined) {
    throw new BackupError(`'${name.slice(0, 80)}' is not a vzdump QEMU archive name (vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst]) or a time YYYY_MM_DD-HH_MM_SS`, { fix });
  }
  if (slash >= 0) {
    const dir = from.slice(0, slash);
    if (!dir.startsWith('/') || dir.split('/').includes('..')) throw new BackupError(`archive path ${from.slice(0, 120)} must be absolute`, { fix });
    return readBackup(hostFs, dir, base);
  }
  const found = dirs.filter((d) => isFile(hostFs.real(`${d}/${manifestFileName(base)}`)));
  if (found.length === 0) {
    throw new BackupError(`the backup ${base} has no stick copy in ${dirs.join(', ') || 'any backup storage of this node'}`, {
      fix: 'only backups made on a directory storage with the pve-usb-gadget vzdump hook installed have one; or give the archive path',
    });
  }
  return readBackup(hostFs, found[0] as string, base);
}
