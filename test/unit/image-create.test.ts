import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage, type CreateImageDeps } from '../../src/image/create.js';
import { ImageError } from '../../src/image/errors.js';
import { inspectImage } from '../../src/image/inspect.js';
import { silentProgress } from '../../src/image/progress.js';
import { recordingExec, requireHostTools, tool } from '../image/host-tools.js';

const MiB = 1024 * 1024;
let work: string;
let src: string;
const deps = (): CreateImageDeps => ({ exec: recordingExec().exec, progress: silentProgress, log: () => {} });

beforeAll(() => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-image-'));
  src = path.join(work, 'src');
  mkdirSync(path.join(src, 'EFI', 'BOOT'), { recursive: true });
  mkdirSync(path.join(src, 'docs', 'a long directory name'), { recursive: true });
  writeFileSync(path.join(src, 'hello.txt'), 'hello\n');
  writeFileSync(path.join(src, 'EFI', 'BOOT', 'BOOTX64.EFI'), Buffer.alloc(3000, 1));
  writeFileSync(path.join(src, 'docs', 'a long directory name', 'Mixed Case Name.json'), '{"x":1}');
  writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(700_000, 9));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What is left in a directory besides `keep` (temp files must never be). */
const leftovers = (dir: string, keep: string[] = []) => readdirSync(dir).filter((n) => !keep.includes(n));

describe('createImage (plain)', () => {
  let img: string;
  let bytes: Buffer;
  beforeAll(async () => {
    const dir = path.join(work, 'plain');
    mkdirSync(dir);
    img = path.join(dir, 'stick.img');
    const r = await createImage({ file: img, sizeBytes: 64 * MiB, label: 'myStick', fromDir: src }, deps());
    expect(r.file).toBe(img);
    expect(r.files).toBe(4);
    expect(r.notes).toEqual(['[usb-gadget]', `image = ${img}`]);
    expect(r.layout.partition).toEqual({ index: 1, startLba: 2048, sectors: 64 * 2048 - 2048, type: 0x0c, active: true });
    expect(r.layout.filesystem.label).toBe('MYSTICK');
    bytes = readFileSync(img);
  });

  it('is a sparse 0600 file of the full size, and nothing else was left in the directory', () => {
    const st = statSync(img);
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks * 512).toBeLessThan(16 * MiB);
    expect(st.mode & 0o777).toBe(0o600);
    expect(leftovers(path.dirname(img), ['stick.img'])).toEqual([]);
  });

  it('has one active FAT32-LBA partition from sector 2048 to the end', () => {
    expect(bytes[446]).toBe(0x80);
    expect(bytes[446 + 4]).toBe(0x0c);
    expect(bytes.readUInt32LE(446 + 8)).toBe(2048);
    expect(bytes.readUInt32LE(446 + 12)).toBe(64 * 2048 - 2048);
    expect(bytes.subarray(462, 510).every((b) => b === 0)).toBe(true);
    expect(bytes.readUInt16BE(510)).toBe(0x55aa);
  });

  it('has a FAT32 boot sector at 1 MiB with hidden sectors, size and label', () => {
    const vbr = bytes.subarray(MiB, MiB + 512);
    expect(vbr.readUInt16LE(11)).toBe(512); // bytes per sector
    expect(vbr.readUInt16LE(17)).toBe(0); // no fixed root directory: FAT32
    expect(vbr.readUInt16LE(22)).toBe(0); // 16-bit FAT size unused on FAT32
    expect(vbr.readUInt32LE(28)).toBe(2048); // hidden sectors = partition start
    expect(vbr.readUInt32LE(32)).toBe(64 * 2048 - 2048); // total sectors = partition size
    expect(vbr.readUInt32LE(44)).toBe(2); // root directory cluster
    expect(vbr[66]).toBe(0x29); // extended boot signature
    expect(vbr.toString('latin1', 71, 82)).toBe('MYSTICK    ');
    expect(vbr.toString('latin1', 82, 90)).toBe('FAT32   ');
    expect(vbr.readUInt16BE(510)).toBe(0x55aa);
  });

  it('has the label as a volume-label entry in the root directory', () => {
    const vbr = bytes.subarray(MiB, MiB + 512);
    const reserved = vbr.readUInt16LE(14);
    const fatSectors = vbr.readUInt32LE(36);
    const rootStart = MiB + (reserved + vbr[16]! * fatSectors) * 512; // cluster 2 = start of data
    const entries = Array.from({ length: 16 }, (_, i) => bytes.subarray(rootStart + i * 32, rootStart + i * 32 + 32));
    const label = entries.find((e) => e[11] === 0x08);
    expect(label?.toString('latin1', 0, 11)).toBe('MYSTICK    ');
  });

  it('is accepted by sfdisk', () => {
    const dump = tool('sfdisk', ['-d', img]);
    expect(dump).toContain('label: dos');
    expect(dump).toMatch(/start=\s*2048, size=\s*129024, type=c, bootable/);
  });

  it('passes fsck.fat on the partition', () => {
    const part = path.join(work, 'partition.img');
    writeFileSync(part, bytes.subarray(MiB));
    const out = tool('fsck.fat', ['-n', part]);
    expect(out).toMatch(/\d+ files, \d+\/\d+ clusters/);
    rmSync(part);
  });

  it('lists and reads back with mtools, long names included', () => {
    const dir = tool('mdir', ['-i', `${img}@@1M`, '-b', '-/', '::/']);
    expect(dir).toContain('::/hello.txt');
    expect(dir).toContain('::/EFI/BOOT/BOOTX64.EFI');
    expect(dir).toContain('::/docs/a long directory name/Mixed Case Name.json');
    expect(tool('mtype', ['-i', `${img}@@1M`, '::/docs/a long directory name/Mixed Case Name.json'])).toBe('{"x":1}');
    expect(tool('mdir', ['-i', `${img}@@1M`, '::/'])).toContain('Volume in drive : is MYSTICK');
  });

  it('is described by inspect: FAT32, label, files, UEFI yes, BIOS no', async () => {
    const i = await inspectImage(img);
    expect(i.partitionTable).toBe('mbr');
    expect(i.filesystem).toMatchObject({ type: 'FAT32', labelBootSector: 'MYSTICK', labelDirectory: 'MYSTICK', hiddenSectors: 2048, bootSector: 'not-bootable-stub' });
    expect(i.rootFiles.map((f) => f.name).sort()).toEqual(['EFI', 'big.bin', 'docs', 'hello.txt']);
    expect(i.uefi.bootable).toBe(true);
    expect(i.bios.bootable).toBe(false);
    expect(i.bios.reasons.join(' ')).toMatch(/no MBR boot code/);
  });
});

describe('createImage (limits and refusals)', () => {
  it('makes the 34 MiB minimum as a real FAT32', async () => {
    const img = path.join(work, 'min.img');
    const r = await createImage({ file: img, sizeBytes: 34 * MiB }, deps());
    expect(r.layout.filesystem.clusters).toBeGreaterThanOrEqual(65525);
    expect((await inspectImage(img)).filesystem?.type).toBe('FAT32');
    expect(r.layout.filesystem.label).toBe('USBSTICK');
  });

  it('refuses 33 MiB, naming the minimum, and writes nothing', async () => {
    const dir = mkdtempSync(path.join(work, 'small-'));
    await expect(createImage({ file: path.join(dir, 'x.img'), sizeBytes: 33 * MiB }, deps())).rejects.toMatchObject({
      name: 'ImageError',
      fix: expect.stringContaining('34 MiB'),
    });
    expect(leftovers(dir)).toEqual([]);
  });

  it('refuses an existing file without force, and replaces it with force', async () => {
    const dir = mkdtempSync(path.join(work, 'exists-'));
    const img = path.join(dir, 'x.img');
    writeFileSync(img, 'precious');
    await expect(createImage({ file: img, sizeBytes: 34 * MiB }, deps())).rejects.toMatchObject({ name: 'ImageError', errno: 'EEXIST' });
    expect(readFileSync(img, 'utf8')).toBe('precious');
    await createImage({ file: img, sizeBytes: 34 * MiB, force: true }, deps());
    expect(statSync(img).size).toBe(34 * MiB);
    expect(leftovers(dir, ['x.img'])).toEqual([]);
  });

  it('never replaces a directory or other non-file, even with force', async () => {
    const dir = mkdtempSync(path.join(work, 'nonfile-'));
    await expect(createImage({ file: dir, sizeBytes: 34 * MiB, force: true }, deps())).rejects.toThrow(/not a regular file/);
  });

  it('says when the path cannot be written', async () => {
    await expect(createImage({ file: path.join(work, 'no', 'such', 'dir', 'x.img'), sizeBytes: 34 * MiB }, deps())).rejects.toMatchObject({
      name: 'ImageError',
      errno: 'ENOENT',
      message: expect.stringContaining('cannot write an image into'),
    });
    const file = path.join(work, 'a-file');
    writeFileSync(file, '');
    await expect(createImage({ file: path.join(file, 'x.img'), sizeBytes: 34 * MiB }, deps())).rejects.toMatchObject({ errno: 'ENOTDIR' });
  });

  it('refuses files that do not fit, with the size to use, leaving nothing behind', async () => {
    const dir = mkdtempSync(path.join(work, 'full-'));
    const bigSrc = path.join(work, 'bigsrc');
    mkdirSync(bigSrc);
    writeFileSync(path.join(bigSrc, 'huge.bin'), Buffer.alloc(40 * MiB));
    const err = await createImage({ file: path.join(dir, 'x.img'), sizeBytes: 34 * MiB, fromDir: bigSrc }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).key).toBe('size');
    expect((err as ImageError).fix).toMatch(/at least \d+ MiB/);
    expect(leftovers(dir)).toEqual([]);
    // smaller than the partition, larger than its clusters: caught after formatting, still no file
    writeFileSync(path.join(bigSrc, 'huge.bin'), Buffer.alloc(32.6 * MiB));
    const err2 = await createImage({ file: path.join(dir, 'x.img'), sizeBytes: 34 * MiB, fromDir: bigSrc }, deps()).catch((e: unknown) => e);
    expect((err2 as ImageError).message).toMatch(/need .* on FAT32/);
    expect(leftovers(dir)).toEqual([]);
    rmSync(bigSrc, { recursive: true });
  });

  it('refuses symlinks and names FAT cannot hold', async () => {
    const dir = mkdtempSync(path.join(work, 'links-'));
    const s = path.join(work, 'linksrc');
    mkdirSync(s);
    symlinkSync('/etc/hostname', path.join(s, 'host'));
    await expect(createImage({ file: path.join(dir, 'x.img'), sizeBytes: 34 * MiB, fromDir: s }, deps())).rejects.toThrow(/symbolic link/);
    rmSync(path.join(s, 'host'));
    writeFileSync(path.join(s, 'what?.txt'), '');
    await expect(createImage({ file: path.join(dir, 'x.img'), sizeBytes: 34 * MiB, fromDir: s }, deps())).rejects.toThrow(/cannot contain/);
    expect(leftovers(dir)).toEqual([]);
  });

  it('checks the label', async () => {
    await expect(createImage({ file: path.join(work, 'l.img'), sizeBytes: 34 * MiB, label: 'much too long label' }, deps())).rejects.toMatchObject({ key: 'label' });
  });

  it('names the packages when tools are missing', async () => {
    await expect(createImage({ file: path.join(work, 't.img'), sizeBytes: 34 * MiB }, { ...deps(), searchPath: '/nonexistent' })).rejects.toMatchObject({
      name: 'ImageError',
      message: expect.stringContaining('mkfs.fat'),
      fix: 'apt-get install -y dosfstools mtools',
    });
  });
});
