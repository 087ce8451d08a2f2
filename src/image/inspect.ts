/**
 * `image inspect`: what is in an image, read directly from its bytes (no tools, read-only): partition
 * table, filesystem, label, boot code, root files, and whether BIOS and UEFI firmware would boot it.
 */
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { ImageError } from './errors.js';
import { FatVolume, parseFatBootSector, type FatDirEntry, type FatType, type ReadAt } from './fat.js';
import { looksLikeSyslinuxMbr, parseMbr, partitionTypeName, PARTITION_TYPE_GPT_PROTECTIVE } from './mbr.js';
import { formatSize, SECTOR_BYTES } from './size.js';

const FAT_PARTITION_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef]);

export interface InspectedPartition {
  index: number;
  active: boolean;
  type: number;
  typeName: string;
  startLba: number;
  sectors: number;
}

export interface BootVerdict {
  bootable: boolean;
  /** what was found or is missing, one fact per line */
  reasons: string[];
}

export interface ImageInspection {
  file: string;
  sizeBytes: number;
  /** "mbr", "gpt" (protective MBR seen; not read further), "none" (FAT from sector 0) or "unknown" */
  partitionTable: 'mbr' | 'gpt' | 'none' | 'unknown';
  diskSignature?: string;
  partitions: InspectedPartition[];
  mbrBootCode: 'none' | 'syslinux' | 'other';
  filesystem?: {
    /** partition index, 0 when the filesystem starts at sector 0 */
    partition: number;
    offsetBytes: number;
    type: FatType;
    oemName: string;
    labelBootSector: string;
    /** the volume-label entry in the root directory (what most OSes show) */
    labelDirectory?: string;
    clusterBytes: number;
    clusters: number;
    hiddenSectors: number;
    bootSector: 'syslinux' | 'not-bootable-stub' | 'other';
  };
  rootFiles: { name: string; directory: boolean; size: number; hidden: boolean }[];
  bios: BootVerdict;
  uefi: BootVerdict;
  /** set when the root looks like an unRAID stick (bzimage + bzroot) */
  unraid?: { labelOk: boolean; uefiDisabled: boolean };
  /** on a volume labelled UNRAID (a boot stick or a licence-only stick): the key files in config/ */
  unraidKeyFiles?: string[];
}

const hex32 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function bootSectorKind(vbr: Buffer): 'syslinux' | 'not-bootable-stub' | 'other' {
  if (vbr.toString('latin1', 3, 11) === 'SYSLINUX') return 'syslinux';
  if (vbr.toString('latin1').includes('This is not a bootable disk')) return 'not-bootable-stub';
  return 'other';
}

async function find(vol: FatVolume, paths: string[]): Promise<{ path: string; entry: FatDirEntry } | undefined> {
  for (const p of paths) {
    const entry = await vol.lookup(p);
    if (entry && !entry.isDirectory) return { path: p, entry };
  }
  return undefined;
}

export async function inspectImage(file: string): Promise<ImageInspection> {
  const abs = path.resolve(file);
  let fh;
  try {
    fh = await open(abs, 'r');
  } catch (err) {
    throw new ImageError(`cannot open ${abs}`, { path: abs, errno: errnoOf(err), fix: 'check the path', cause: err });
  }
  try {
    const handle = fh;
    const readAt: ReadAt = async (offset, length) => {
      const b = Buffer.alloc(length);
      await handle.read(b, 0, length, offset);
      return b;
    };
    return await inspectWith(abs, (await stat(abs)).size, readAt);
  } finally {
    await fh.close();
  }
}

/** The inspection itself, over any byte source (tests use in-memory buffers). */
export async function inspectWith(file: string, sizeBytes: number, readAt: ReadAt): Promise<ImageInspection> {
  const sector0 = await readAt(0, SECTOR_BYTES);
  const mbr = parseMbr(sector0);
  const result: ImageInspection = {
    file,
    sizeBytes,
    partitionTable: 'unknown',
    partitions: [],
    mbrBootCode: 'none',
    rootFiles: [],
    bios: { bootable: false, reasons: [] },
    uefi: { bootable: false, reasons: [] },
  };
  let fsOffset: number | undefined;
  let fsPartition = 0;
  if (parseFatBootSector(sector0)) {
    result.partitionTable = 'none';
    fsOffset = 0;
  } else if (mbr.valid) {
    result.partitions = mbr.partitions.map((p) => ({ ...p, typeName: partitionTypeName(p.type) }));
    result.partitionTable = mbr.partitions.some((p) => p.type === PARTITION_TYPE_GPT_PROTECTIVE) ? 'gpt' : 'mbr';
    result.diskSignature = hex32(mbr.diskSignature);
    result.mbrBootCode = !mbr.hasBootCode ? 'none' : looksLikeSyslinuxMbr(sector0) ? 'syslinux' : 'other';
    const fatPart = mbr.partitions.find((p) => p.active && FAT_PARTITION_TYPES.has(p.type)) ?? mbr.partitions.find((p) => FAT_PARTITION_TYPES.has(p.type));
    if (fatPart) {
      fsOffset = fatPart.startLba * SECTOR_BYTES;
      fsPartition = fatPart.index;
    }
  }
  const bios = result.bios.reasons;
  const uefi = result.uefi.reasons;
  const vol = fsOffset === undefined ? undefined : await FatVolume.open(readAt, fsOffset);
  if (!vol || fsOffset === undefined) {
    const why = result.partitionTable === 'gpt' ? 'GPT disks are not read by inspect' : 'no FAT filesystem found';
    bios.push(why);
    uefi.push(why);
    return result;
  }
  const root = await vol.rootEntries();
  const labelEntry = root.find((e) => e.isVolumeLabel);
  result.filesystem = {
    partition: fsPartition,
    offsetBytes: fsOffset,
    type: vol.boot.type,
    oemName: vol.boot.oemName,
    labelBootSector: vol.boot.label,
    labelDirectory: labelEntry?.name,
    clusterBytes: vol.clusterBytes,
    clusters: vol.boot.clusters,
    hiddenSectors: vol.boot.hiddenSectors,
    bootSector: bootSectorKind(await readAt(fsOffset, SECTOR_BYTES)),
  };
  result.rootFiles = root
    .filter((e) => !e.isVolumeLabel)
    .map((e) => ({ name: e.name, directory: e.isDirectory, size: e.size, hidden: e.hidden }));

  // BIOS: firmware → MBR code → active partition → volume boot record → ldlinux.sys
  let biosOk = true;
  const need = (ok: boolean, yes: string, no: string) => {
    bios.push(ok ? yes : no);
    biosOk &&= ok;
  };
  if (result.partitionTable === 'mbr') {
    need(result.mbrBootCode !== 'none', `MBR boot code present (${result.mbrBootCode})`, 'no MBR boot code (bytes 0..439 are zero)');
    need(mbr.partitions.some((p) => p.active && p.index === fsPartition), `partition ${fsPartition} is active`, `partition ${fsPartition} is not marked active`);
  }
  const fsBoot = result.filesystem.bootSector;
  need(fsBoot !== 'not-bootable-stub', `volume boot record: ${fsBoot}`, 'volume boot record is mkfs.fat\'s "not a bootable disk" stub');
  if (fsBoot === 'syslinux') {
    const ldlinux = await find(vol, ['ldlinux.sys', 'syslinux/ldlinux.sys', 'boot/syslinux/ldlinux.sys']);
    need(ldlinux !== undefined, `syslinux loader ${ldlinux?.path ?? ''} present`, 'ldlinux.sys missing');
    const c32 = await find(vol, ['ldlinux.c32', 'syslinux/ldlinux.c32', 'boot/syslinux/ldlinux.c32']);
    need(c32 !== undefined, `${c32?.path ?? ''} present`, 'ldlinux.c32 missing');
    const cfg = await find(vol, ['boot/syslinux/syslinux.cfg', 'syslinux/syslinux.cfg', 'syslinux.cfg']);
    need(cfg !== undefined, `${cfg?.path ?? ''} present`, 'syslinux.cfg missing');
  }
  result.bios.bootable = biosOk;

  const efi = await find(vol, ['EFI/BOOT/BOOTX64.EFI']);
  result.uefi.bootable = efi !== undefined;
  uefi.push(efi ? 'EFI/BOOT/BOOTX64.EFI present' : 'EFI/BOOT/BOOTX64.EFI missing');
  const efiDash = root.find((e) => e.isDirectory && e.name.toUpperCase() === 'EFI-');
  if (efiDash) uefi.push('EFI- folder present: unRAID ships UEFI boot disabled; rename EFI- to EFI to allow it');

  const volumeLabel = labelEntry?.name ?? vol.boot.label;
  if (volumeLabel === 'UNRAID') {
    const config = await vol.lookup('config');
    const entries = config?.isDirectory ? await vol.list(config) : [];
    result.unraidKeyFiles = entries.filter((e) => !e.isDirectory && /\.key$/i.test(e.name)).map((e) => `config/${e.name}`);
  }
  const names = new Set(root.map((e) => e.name.toLowerCase()));
  if (names.has('bzimage') && names.has('bzroot')) {
    const label = labelEntry?.name ?? vol.boot.label;
    result.unraid = { labelOk: label === 'UNRAID', uefiDisabled: efiDash !== undefined && !efi };
  }
  return result;
}

export function formatInspection(i: ImageInspection): string[] {
  const out: string[] = [`${i.file}: ${formatSize(i.sizeBytes)}`];
  out.push(`partition table: ${i.partitionTable}${i.diskSignature ? ` (disk signature ${i.diskSignature})` : ''}, MBR boot code: ${i.mbrBootCode}`);
  for (const p of i.partitions) {
    out.push(
      `  partition ${p.index}: ${p.typeName} (0x${p.type.toString(16).padStart(2, '0')})${p.active ? ' active' : ''}, start sector ${p.startLba} (${formatSize(p.startLba * SECTOR_BYTES)}), ${formatSize(p.sectors * SECTOR_BYTES)}`,
    );
  }
  const f = i.filesystem;
  if (f) {
    out.push(
      `filesystem: ${f.type} at ${formatSize(f.offsetBytes)}, label "${f.labelDirectory ?? f.labelBootSector}"${f.labelDirectory !== undefined && f.labelDirectory !== f.labelBootSector ? ` (boot sector says "${f.labelBootSector}")` : ''}, ${f.clusters} clusters of ${formatSize(f.clusterBytes)}, boot sector: ${f.bootSector}`,
    );
    out.push(`root: ${i.rootFiles.map((e) => `${e.name}${e.directory ? '/' : ''}`).join('  ') || '(empty)'}`);
  }
  out.push(`BIOS boot: ${i.bios.bootable ? 'yes' : 'no'} (${i.bios.reasons.join('; ')})`);
  out.push(`UEFI boot: ${i.uefi.bootable ? 'yes' : 'no'} (${i.uefi.reasons.join('; ')})`);
  if (i.unraidKeyFiles) out.push(`unRAID licence: ${i.unraidKeyFiles.length > 0 ? `key file ${i.unraidKeyFiles.join(', ')}` : 'no key file in config/ (a trial, or a key copied later)'}`);
  if (i.unraid) out.push(`unRAID: label ${i.unraid.labelOk ? 'UNRAID ok' : 'is not UNRAID (unRAID will not find its flash)'}${i.unraid.uefiDisabled ? ', UEFI disabled (EFI-)' : ''}`);
  return out;
}
