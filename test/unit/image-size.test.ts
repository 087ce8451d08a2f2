import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/errors.js';
import { checkImageSize, formatSize, MIN_IMAGE_BYTES, parseSize } from '../../src/image/size.js';

describe('image sizes', () => {
  it('reads binary units', () => {
    expect(parseSize('64M')).toBe(64 * 1024 * 1024);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('4GiB')).toBe(4 * 1024 ** 3);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('1048576')).toBe(1048576);
  });

  it('rejects what is not a size', () => {
    for (const bad of ['', 'big', '-1G', '1X', '1 G B']) expect(() => parseSize(bad)).toThrow(ImageError);
  });

  it('names the 34 MiB minimum when the size is too small', () => {
    expect(MIN_IMAGE_BYTES).toBe(34 * 1024 * 1024);
    let caught: unknown;
    try {
      checkImageSize(33 * 1024 * 1024);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ImageError);
    expect((caught as ImageError).message).toMatch(/too small/);
    expect((caught as ImageError).fix).toContain('34 MiB');
    expect((caught as ImageError).key).toBe('size');
    expect(checkImageSize(34 * 1024 * 1024)).toBe(34 * 1024 * 1024);
  });

  it('wants whole MiB and an MBR-sized disk', () => {
    expect(() => checkImageSize(64 * 1024 * 1024 + 512)).toThrow(/whole number of MiB/);
    expect(() => checkImageSize(3 * 1024 ** 4)).toThrow(/too large/);
  });

  it('formats sizes for people', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(34 * 1024 * 1024)).toBe('34 MiB');
  });
});
