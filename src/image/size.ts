import { ImageError } from './errors.js';

export const SECTOR_BYTES = 512;
export const MIB = 1024 * 1024;
/** The partition starts at 1 MiB (sector 2048), the alignment every current partitioner uses. */
export const PARTITION_START_LBA = 2048;
export const PARTITION_OFFSET_BYTES = PARTITION_START_LBA * SECTOR_BYTES;
/**
 * FAT32 is defined by its cluster count (at least 65,525), not by a flag. With the 512-byte clusters
 * mkfs.fat picks for small volumes, that needs about 32.5 MiB of partition; measured with mkfs.fat 4.2:
 * a 33 MiB image gives too few clusters, 34 MiB (1 MiB offset + 33 MiB partition = 66,512 clusters) is
 * the smallest whole-MiB image that is a real FAT32.
 */
export const MIN_IMAGE_BYTES = 34 * MIB;
/** FAT32 with 512-byte sectors tops out at 2 TiB (32-bit sector count); MBR likewise. */
export const MAX_IMAGE_BYTES = 2 * 1024 * 1024 * MIB - MIB;

const UNITS: Record<string, number> = { '': 1, K: 1024, M: MIB, G: 1024 * MIB, T: 1024 * 1024 * MIB };

/** "512M", "2G", "2GiB", "1048576" → bytes (binary units). Throws ImageError on anything else. */
export function parseSize(text: string, key = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) {
    throw new ImageError(`cannot read size "${text}"`, { key, fix: 'give a size like 512M, 2G or 4GiB' });
  }
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  if (!Number.isSafeInteger(Math.round(bytes))) {
    throw new ImageError(`size "${text}" is out of range`, { key, fix: 'give a size like 512M, 2G or 4GiB' });
  }
  return Math.round(bytes);
}

/** 1536 → "1.5 KiB"; used in messages and progress lines. */
export function formatSize(bytes: number): string {
  const steps: [number, string][] = [[1024 * 1024 * MIB, 'TiB'], [1024 * MIB, 'GiB'], [MIB, 'MiB'], [1024, 'KiB']];
  for (const [unit, name] of steps) {
    if (bytes >= unit) {
      const v = bytes / unit;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} B`;
}

/** Checks an image size and returns it; the message names the minimum so the operator can act. */
export function checkImageSize(sizeBytes: number): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_IMAGE_BYTES) {
    throw new ImageError(
      `image size ${formatSize(sizeBytes)} is too small: FAT32 needs at least 65,525 clusters (about 33 MiB) plus the 1 MiB partition offset`,
      { key: 'size', fix: `give a size of at least ${formatSize(MIN_IMAGE_BYTES)} (e.g. --size 64M)` },
    );
  }
  if (sizeBytes > MAX_IMAGE_BYTES) {
    throw new ImageError(`image size ${formatSize(sizeBytes)} is too large for an MBR disk`, {
      key: 'size',
      fix: 'give a size below 2 TiB',
    });
  }
  if (sizeBytes % MIB !== 0) {
    throw new ImageError(`image size ${sizeBytes} bytes is not a whole number of MiB`, {
      key: 'size',
      fix: `use ${Math.ceil(sizeBytes / MIB)}M`,
    });
  }
  return sizeBytes;
}
