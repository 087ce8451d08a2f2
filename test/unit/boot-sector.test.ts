import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MAX_MARKER_LENGTH,
  SECTOR_SIZE,
  markerBootSector,
  markerDiskImage,
  writeMarkerDiskImage,
} from '../e2e/harness/boot-sector.js';

describe('markerBootSector', () => {
  const sector = markerBootSector('HELLO-MARKER');

  it('is one 512-byte sector ending in the 0x55 0xAA boot signature', () => {
    expect(sector.length).toBe(SECTOR_SIZE);
    expect(sector[510]).toBe(0x55);
    expect(sector[511]).toBe(0xaa);
  });

  it('holds the marker followed by CR LF and a NUL terminator', () => {
    const at = sector.indexOf('HELLO-MARKER\r\n\0', 0, 'ascii');
    expect(at).toBeGreaterThan(0);
  });

  it('points SI at the message: mov si, 0x7c00 + message offset', () => {
    const at = sector.indexOf('HELLO-MARKER', 0, 'ascii');
    const movSi = sector.indexOf(Buffer.from([0xbe]));
    expect(movSi).toBeGreaterThan(0);
    expect(sector.readUInt16LE(movSi + 1)).toBe(0x7c00 + at);
  });

  it('starts with cli and ends its code with the cli; hlt; jmp $-2 halt loop', () => {
    expect(sector[0]).toBe(0xfa);
    const at = sector.indexOf('HELLO-MARKER', 0, 'ascii');
    expect([...sector.subarray(at - 4, at)]).toEqual([0xfa, 0xf4, 0xeb, 0xfc]);
  });

  it('polls LSR bit 5 on port 0x3fd before writing to 0x3f8', () => {
    const poll = Buffer.from([0xba, 0xfd, 0x03, 0xec, 0xa8, 0x20, 0x74, 0xfb]);
    const write = Buffer.from([0xba, 0xf8, 0x03, 0xee]);
    const pollAt = sector.indexOf(poll);
    expect(pollAt).toBeGreaterThan(0);
    expect(sector.indexOf(write, pollAt)).toBeGreaterThan(pollAt);
  });

  it('has code that does not depend on the marker', () => {
    const other = markerBootSector('X'.repeat(MAX_MARKER_LENGTH));
    const at = sector.indexOf('HELLO-MARKER', 0, 'ascii');
    expect(other.subarray(0, at).equals(sector.subarray(0, at))).toBe(true);
    expect(other.indexOf(`${'X'.repeat(MAX_MARKER_LENGTH)}\r\n`, 0, 'ascii')).toBe(at);
    expect(other[510]).toBe(0x55);
  });

  it('rejects empty, too long and non-printable markers', () => {
    expect(() => markerBootSector('')).toThrow(RangeError);
    expect(() => markerBootSector('X'.repeat(MAX_MARKER_LENGTH + 1))).toThrow(RangeError);
    expect(() => markerBootSector('bad\nmarker')).toThrow(RangeError);
    expect(() => markerBootSector('caf\u00e9')).toThrow(RangeError);
  });
});

describe('markerDiskImage', () => {
  it('is sector 0 = the boot sector, the rest zero', () => {
    const image = markerDiskImage('DISK', 4 * SECTOR_SIZE);
    expect(image.length).toBe(4 * SECTOR_SIZE);
    expect(image.subarray(0, SECTOR_SIZE).equals(markerBootSector('DISK'))).toBe(true);
    expect(image.subarray(SECTOR_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('rejects sizes that are not a positive multiple of 512', () => {
    expect(() => markerDiskImage('DISK', 0)).toThrow(RangeError);
    expect(() => markerDiskImage('DISK', 1000)).toThrow(RangeError);
  });
});

describe('writeMarkerDiskImage', () => {
  it('writes a file of the full size whose first sector is the boot sector', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pvug-boot-sector-'));
    try {
      const path = join(dir, 'disk.img');
      await writeMarkerDiskImage(path, 'FILE', 1024 * 1024);
      expect((await stat(path)).size).toBe(1024 * 1024);
      const bytes = await readFile(path);
      expect(bytes.equals(markerDiskImage('FILE', 1024 * 1024))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
