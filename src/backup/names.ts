/**
 * The names of what a stick backup leaves beside a vzdump archive. vzdump names a QEMU archive
 * `vzdump-qemu-<vmid>-YYYY_MM_DD-HH_MM_SS.vma[.zst|.gz|.lzo]` (pve-manager PVE/VZDump.pm
 * exec_backup_task: $bkname, $basename, $ext), and pve-storage recognises exactly that shape
 * (PVE/Storage.pm archive_info, $BACKUP_EXT_RE_2). Our files take the archive's base name (without
 * `.vma...`) and a suffix no Proxmox file uses, so prune and `backup list` can tell ours from theirs
 * by name alone:
 *
 *   <base>.usb-gadget-lun<N>.raw     the LUN's bytes, uncompressed, sparse where the image is zero
 *   <base>.usb-gadget.json           the manifest, written last: its presence means "complete"
 *   <base>.usb-gadget-lun<N>.raw.part-<pid>   a copy in progress (removed on failure, or by prune)
 */

import { VMID_PATTERN } from '../values/proxmox-ids.js';

export const OUR_MARK = '.usb-gadget';

const BASE = `vzdump-qemu-(${VMID_PATTERN})-(\\d{4})_(\\d{2})_(\\d{2})-(\\d{2})_(\\d{2})_(\\d{2})`;
const ARCHIVE = new RegExp(`^(${BASE})\\.vma(?:\\.(?:zst|gz|lzo))?$`);
const OURS = new RegExp(`^(${BASE})\\.usb-gadget(?:-lun(?:[0-9]|1[0-5])\\.raw(?:\\.part-[1-9][0-9]*)?|\\.json)$`);

export interface ArchiveName {
  /** e.g. vzdump-qemu-100-2026_12_04-18_00_00 */
  base: string;
  vmid: number;
  /** the time in the name, as written: 2026_12_04-18_00_00 (vzdump's local time) */
  time: string;
}

/** A standard QEMU vzdump archive file name (no directory), or undefined. */
export function parseArchiveName(name: string): ArchiveName | undefined {
  const m = ARCHIVE.exec(name);
  if (!m?.[1] || !m[2]) return undefined;
  return { base: m[1], vmid: Number(m[2]), time: `${m[3]}_${m[4]}_${m[5]}-${m[6]}_${m[7]}_${m[8]}` };
}

export const lunFileName = (base: string, lun: number): string => `${base}${OUR_MARK}-lun${lun}.raw`;
export const manifestFileName = (base: string): string => `${base}${OUR_MARK}.json`;
export const partFileName = (base: string, lun: number, pid: number): string => `${lunFileName(base, lun)}.part-${pid}`;

/** The archive base name of one of our files, or undefined when the name is not ours. */
export function baseOfOurFile(name: string): string | undefined {
  return OURS.exec(name)?.[1];
}

/** vmid and time of a base name (they are in the name, as vzdump wrote it). */
export function parseBase(base: string): { vmid: number; time: string } | undefined {
  const a = parseArchiveName(`${base}.vma`);
  return a && { vmid: a.vmid, time: a.time };
}

/**
 * The names vzdump uses for an archive of `base` while it is still being written (PVE/VZDump.pm
 * exec_backup_task: tmptar is the target with its last extension replaced by `.dat`, the tmpdir is
 * `<dumpdir>/<base>.tmp`). While one of these exists, the archive is in progress, not gone.
 */
export const inProgressNames = (base: string): string[] => [`${base}.tmp`, `${base}.vma.dat`, `${base}.dat`];

/** Every file name the archive of `base` may have once finished. */
export const archiveNames = (base: string): string[] => ['', '.zst', '.gz', '.lzo'].map((c) => `${base}.vma${c}`);
