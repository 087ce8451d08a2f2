import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImage, type CreateImageDeps, type CreateImageResult } from '../../src/image/create.js';
import { ImageError } from '../../src/image/errors.js';
import { inspectImage } from '../../src/image/inspect.js';
import { silentProgress } from '../../src/image/progress.js';
import { checkUnraidZip, elfFacts } from '../../src/image/unraid.js';
import { badZipMember } from '../../src/image/zip.js';
import { buildFakeUnraidZip, DEBIAN_BIOS, DEBIAN_MBR } from '../image/fake-unraid.js';
import { readFromImage, recordingExec, requireHostTools, tool } from '../image/host-tools.js';

const MiB = 1024 * 1024;
let work: string;

beforeAll(() => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-unraid-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(zip: string, file: string, extra: Partial<Parameters<typeof createImage>[0]> = {}) {
  const rec = recordingExec();
  const log: string[] = [];
  const deps: CreateImageDeps = { exec: rec.exec, progress: silentProgress, log: (l) => log.push(l) };
  const result = createImage({ file, sizeBytes: 64 * MiB, fromZip: zip, unraid: {}, ...extra }, deps);
  return { result, calls: rec.calls, log };
}

const mtype = (img: string, p: string) => tool('mtype', ['-i', `${img}@@1M`, `::/${p}`]);
/** Names (hidden ones too) in a directory of the image; directories end with "/". */
const mdirNames = (img: string, dir = '') => tool('mdir', ['-i', `${img}@@1M`, '-a', '-b', `::/${dir}`]).split('\n').filter(Boolean);

describe('unRAID image from a release zip with its own Linux syslinux', () => {
  let img: string;
  let r: CreateImageResult;
  let calls: string[][];
  let bytes: Buffer;
  beforeAll(async () => {
    const zip = buildFakeUnraidZip(work, 'release');
    const dir = path.join(work, 'out');
    mkdirSync(dir);
    img = path.join(dir, 'unraid.img');
    const x = run(zip, img, { unraid: { network: { staticIp: '192.168.7.20/24', gateway: '192.168.7.1', dns: '192.168.7.1,9.9.9.9' } } });
    r = await x.result;
    calls = x.calls;
    bytes = readFileSync(img);
  });

  it('labels the volume UNRAID', () => {
    expect(r.layout.filesystem.label).toBe('UNRAID');
    expect(bytes.toString('latin1', MiB + 71, MiB + 82)).toBe('UNRAID     ');
    expect(tool('mdir', ['-i', `${img}@@1M`, '::/'])).toContain('Volume in drive : is UNRAID');
  });

  it('renames EFI- to EFI and keeps the EFI loader', () => {
    const root = mdirNames(img);
    expect(root).toContain('::/EFI/');
    expect(root).not.toContain('::/EFI-/');
    expect(mdirNames(img, 'EFI/boot')).toContain('::/EFI/boot/bootx64.efi');
  });

  it('runs the release\'s own installer at the partition offset, without root tools', () => {
    expect(r.bootloader?.source).toBe('release');
    const install = calls.find((c) => c[0]?.endsWith('/syslinux/syslinux_linux'));
    expect(install?.slice(1)).toEqual(['--offset', String(MiB), '--install', expect.stringMatching(/\.unraid\.img\.tmp-/)]);
    expect(calls.some((c) => /\b(mount|losetup|sudo)$/.test(c[0] ?? ''))).toBe(false);
  });

  it('has ldlinux.sys and ldlinux.c32 at the root and a syslinux volume boot record', () => {
    const root = mdirNames(img);
    expect(root).toContain('::/ldlinux.sys');
    expect(root).toContain('::/ldlinux.c32');
    // the installer writes its own ldlinux.c32 (same build as ldlinux.sys) over the copied one
    expect(readFromImage(img, 'ldlinux.c32').length).toBeGreaterThan(100_000);
    expect(readFromImage(img, 'ldlinux.sys').length).toBeGreaterThan(10_000);
    expect(bytes.toString('latin1', MiB + 3, MiB + 11)).toBe('SYSLINUX');
  });

  it('writes the 440 bytes of mbr.bin and keeps disk signature and partition table', () => {
    expect(bytes.subarray(0, 440).equals(readFileSync(DEBIAN_MBR).subarray(0, 440))).toBe(true);
    expect(bytes.readUInt32LE(440)).not.toBe(0); // unRAID's 447-byte file would have zeroed it
    expect(bytes[446]).toBe(0x80);
    expect(bytes[450]).toBe(0x0c);
    expect(bytes.readUInt32LE(454)).toBe(2048);
    expect(tool('sfdisk', ['-d', img])).toMatch(/start=\s*2048, size=\s*129024, type=c, bootable/);
  });

  it('writes the static network settings into config/network.cfg', () => {
    const cfg = mtype(img, 'config/network.cfg');
    expect(cfg).toContain('USE_DHCP="no"\r\n');
    expect(cfg).toContain('IPADDR="192.168.7.20"\r\n');
    expect(cfg).toContain('NETMASK="255.255.255.0"\r\n');
    expect(cfg).toContain('GATEWAY="192.168.7.1"\r\n');
    expect(cfg).toContain('DNS_SERVER1="192.168.7.1"\r\n');
    expect(cfg).toContain('DNS_SERVER2="9.9.9.9"\r\n');
    expect(cfg).toContain('BRIDGING="yes"\r\n');
  });

  it('passes fsck.fat and inspect says BIOS and UEFI would boot it', async () => {
    const part = path.join(work, 'unraid-part.img');
    const fs = await import('node:fs');
    fs.writeFileSync(part, bytes.subarray(MiB));
    expect(tool('fsck.fat', ['-n', part])).toMatch(/files, \d+\/\d+ clusters/);
    fs.rmSync(part);
    const i = await inspectImage(img);
    expect(i.mbrBootCode).toBe('syslinux');
    expect(i.filesystem?.bootSector).toBe('syslinux');
    expect(i.bios.bootable).toBe(true);
    expect(i.uefi.bootable).toBe(true);
    expect(i.unraid).toEqual({ labelOk: true, uefiDisabled: false });
  });

  it('leaves only the image in the directory (no staging, no temp file)', () => {
    expect(readdirSync(path.dirname(img))).toEqual(['unraid.img']);
  });
});

describe('unRAID fallbacks and refusals', () => {
  it('falls back to Debian\'s syslinux loudly when the release has no Linux installer', async () => {
    const zip = buildFakeUnraidZip(work, 'foreign', { installer: 'foreign' });
    const img = path.join(work, 'fallback.img');
    const x = run(zip, img);
    const r = await x.result;
    expect(r.bootloader).toEqual({ source: 'debian', installer: '/usr/bin/syslinux' });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/no Linux x86-64 mtools syslinux installer/);
    expect(x.log.some((l) => l.startsWith('!!! WARNING'))).toBe(true);
    // modules replaced by Debian's so they match the Debian ldlinux.sys
    expect(readFromImage(img, 'syslinux/menu.c32').equals(readFileSync(path.join(DEBIAN_BIOS, 'menu.c32')))).toBe(true);
    expect((await inspectImage(img)).bios.bootable).toBe(true);
  });

  it('keeps EFI- when UEFI boot is not wanted', async () => {
    const zip = buildFakeUnraidZip(work, 'noefi');
    const img = path.join(work, 'noefi.img');
    await run(zip, img, { unraid: { uefi: false } }).result;
    expect(mdirNames(img)).toContain('::/EFI-/');
    const i = await inspectImage(img);
    expect(i.uefi.bootable).toBe(false);
    expect(i.unraid?.uefiDisabled).toBe(true);
  });

  it('refuses a zip that is not an unRAID release, naming what is missing, and writes nothing', async () => {
    const zip = buildFakeUnraidZip(work, 'partial', { omit: ['bzroot', 'syslinux/mbr.bin'] });
    const dir = mkdtempSync(path.join(work, 'refuse-'));
    await expect(run(zip, path.join(dir, 'x.img')).result).rejects.toMatchObject({
      name: 'ImageError',
      message: expect.stringMatching(/does not look like an unRAID release: missing bzroot, syslinux\/mbr\.bin/),
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('says so when the release is wrapped in a folder', () => {
    const zip = buildFakeUnraidZip(work, 'nested', { nestUnder: 'unRAIDServer-7.0.0' });
    const names = tool('unzip', ['-Z1', zip]).split('\n').filter(Boolean);
    expect(() => checkUnraidZip(zip, names)).toThrow(/inside "unRAIDServer-7\.0\.0\/"/);
  });

  it('refuses a zip holding a symlink, leaving nothing behind', async () => {
    const zip = buildFakeUnraidZip(work, 'evil', { withSymlink: true });
    const dir = mkdtempSync(path.join(work, 'evil-'));
    await expect(run(zip, path.join(dir, 'x.img')).result).rejects.toThrow(/config\/evil" is a symbolic link/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a file that is not a zip', async () => {
    const dir = mkdtempSync(path.join(work, 'notzip-'));
    const fake = path.join(dir, 'fake.zip');
    (await import('node:fs')).writeFileSync(fake, 'PK? no');
    await expect(run(fake, path.join(dir, 'x.img')).result).rejects.toThrow(/not a readable zip archive/);
    expect(readdirSync(dir)).toEqual(['fake.zip']);
  });

  it('insists on the UNRAID label and on valid network settings', async () => {
    const zip = buildFakeUnraidZip(work, 'label');
    await expect(run(zip, path.join(work, 'l.img'), { label: 'OTHER' }).result).rejects.toMatchObject({ key: 'label' });
    await expect(
      run(zip, path.join(work, 'n.img'), { unraid: { network: { staticIp: '192.168.1.5', gateway: '192.168.1.1' } } }).result,
    ).rejects.toBeInstanceOf(ImageError);
  });

  it('rejects unsafe member names and recognises installer binaries', () => {
    expect(badZipMember('../etc/passwd')).toBeDefined();
    expect(badZipMember('/abs')).toBeDefined();
    expect(badZipMember('a\\b')).toBeDefined();
    expect(badZipMember('syslinux/mbr.bin')).toBeUndefined();
    expect(elfFacts(readFileSync('/usr/bin/syslinux'))).toEqual({ elf: true, x86_64: process.arch === 'x64', mtoolsVariant: true });
    expect(elfFacts(readFileSync('/bin/true')).mtoolsVariant).toBe(false);
    expect(elfFacts(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0, 0, 0, 0])).elf).toBe(false);
  });
});
