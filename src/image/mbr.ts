/**
 * The classic MBR: 440 bytes of boot code, a 4-byte disk signature, four 16-byte partition entries at
 * 446, and 0x55 0xAA at 510. Pure functions over Buffers.
 */
import { SECTOR_BYTES } from './size.js';

export const BOOT_CODE_BYTES = 440;
const SIGNATURE_OFFSET = 440;
const TABLE_OFFSET = 446;
const ENTRY_BYTES = 16;

export const PARTITION_TYPE_FAT32_LBA = 0x0c;
export const PARTITION_TYPE_GPT_PROTECTIVE = 0xee;

const TYPE_NAMES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x06: 'FAT16',
  0x07: 'NTFS/exFAT',
  0x0b: 'FAT32 (CHS)',
  0x0c: 'FAT32 (LBA)',
  0x0e: 'FAT16 (LBA)',
  0x0f: 'extended (LBA)',
  0x05: 'extended',
  0x83: 'Linux',
  0xee: 'GPT protective',
  0xef: 'EFI system',
};

export function partitionTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `0x${type.toString(16).padStart(2, '0')}`;
}

export interface MbrPartition {
  /** 1..4 */
  index: number;
  active: boolean;
  type: number;
  startLba: number;
  sectors: number;
}

export interface Mbr {
  diskSignature: number;
  partitions: MbrPartition[];
  /** the 0x55AA marker is present */
  valid: boolean;
  /** bytes 0..439 hold something other than zeros */
  hasBootCode: boolean;
}

/**
 * CHS as BIOSes expect it, with the 255-head / 63-sector geometry every tool assumes for LBA disks;
 * addresses past cylinder 1023 get the conventional "use LBA" value 1023/254/63.
 */
export function lbaToChs(lba: number): [number, number, number] {
  const heads = 255;
  const sectorsPerTrack = 63;
  const cylinder = Math.floor(lba / (heads * sectorsPerTrack));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / sectorsPerTrack) % heads;
  const sector = (lba % sectorsPerTrack) + 1;
  return [head, sector | ((cylinder >> 8) << 6), cylinder & 0xff];
}

/**
 * A fresh MBR sector with one partition entry. Boot code stays zero: the unRAID path writes the
 * release's own mbr.bin over bytes 0..439 afterwards.
 */
export function buildMbr(opts: { diskSignature: number; partition: Omit<MbrPartition, 'index'> }): Buffer {
  const { partition } = opts;
  if (partition.startLba < 1 || partition.sectors < 1 || partition.startLba + partition.sectors > 0xffffffff) {
    throw new RangeError('partition does not fit an MBR');
  }
  const mbr = Buffer.alloc(SECTOR_BYTES);
  mbr.writeUInt32LE(opts.diskSignature >>> 0, SIGNATURE_OFFSET);
  const e = TABLE_OFFSET;
  mbr[e] = partition.active ? 0x80 : 0x00;
  Buffer.from(lbaToChs(partition.startLba)).copy(mbr, e + 1);
  mbr[e + 4] = partition.type;
  Buffer.from(lbaToChs(partition.startLba + partition.sectors - 1)).copy(mbr, e + 5);
  mbr.writeUInt32LE(partition.startLba, e + 8);
  mbr.writeUInt32LE(partition.sectors, e + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/** Copies the first 440 bytes of `bootCode` into `mbr`, leaving signature and table untouched. */
export function withBootCode(mbr: Buffer, bootCode: Buffer): Buffer {
  const out = Buffer.from(mbr);
  bootCode.copy(out, 0, 0, Math.min(BOOT_CODE_BYTES, bootCode.length));
  return out;
}

export function parseMbr(sector: Buffer): Mbr {
  const valid = sector.length >= SECTOR_BYTES && sector[510] === 0x55 && sector[511] === 0xaa;
  const partitions: MbrPartition[] = [];
  if (valid) {
    for (let i = 0; i < 4; i++) {
      const e = TABLE_OFFSET + i * ENTRY_BYTES;
      const type = sector[e + 4] ?? 0;
      const sectors = sector.readUInt32LE(e + 12);
      if (type === 0 || sectors === 0) continue;
      partitions.push({
        index: i + 1,
        active: sector[e] === 0x80,
        type,
        startLba: sector.readUInt32LE(e + 8),
        sectors,
      });
    }
  }
  return {
    diskSignature: valid ? sector.readUInt32LE(SIGNATURE_OFFSET) : 0,
    partitions,
    valid,
    hasBootCode: sector.subarray(0, BOOT_CODE_BYTES).some((b) => b !== 0),
  };
}

/** Syslinux's mbr.bin (and unRAID's copy of it) prints these when it cannot boot. */
export function looksLikeSyslinuxMbr(sector: Buffer): boolean {
  const code = sector.subarray(0, BOOT_CODE_BYTES).toString('latin1');
  return code.includes('Missing operating system') && code.includes('Multiple active partitions');
}
