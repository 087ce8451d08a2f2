// `image create --unraid-licence [--key-file]`: a licence-only stick for unRAID 7.3+ internal boot, made
// with the real Debian tools and checked with inspect, mtools and fsck.fat.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageCreateCommand, type ImageCommandDeps } from '../../src/image/commands.js';
import { ImageError } from '../../src/image/errors.js';
import { formatInspection, inspectImage } from '../../src/image/inspect.js';
import { silentProgress } from '../../src/image/progress.js';
import { recordingExec, requireHostTools, tool } from '../image/host-tools.js';

const MiB = 1024 * 1024;
const KEY = Buffer.from('-----BEGIN UNRAID KEY-----\nnot a real key, just bytes\n-----END UNRAID KEY-----\n');
let work: string;
let printed: string[];
const deps = (): ImageCommandDeps => ({ exec: recordingExec().exec, fetch: (() => Promise.reject(new Error('no network'))) as unknown as ImageCommandDeps['fetch'], progress: silentProgress, print: (l) => printed.push(l) });

beforeAll(() => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-licence-'));
  writeFileSync(path.join(work, 'Pro.key'), KEY);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('image create --unraid-licence', () => {
  it('makes a 64 MiB sparse FAT32 stick labelled UNRAID with the key in config/, as inspect sees it', async () => {
    printed = [];
    const dir = mkdtempSync(path.join(work, 'with-key-'));
    const img = path.join(dir, 'licence.img');
    await imageCreateCommand({ file: img, unraidLicence: true, keyFile: path.join(work, 'Pro.key') }, deps());
    expect(statSync(img).size).toBe(64 * MiB);
    expect(readdirSync(dir)).toEqual(['licence.img']);
    const i = await inspectImage(img);
    expect(i.partitionTable).toBe('mbr');
    expect(i.filesystem).toMatchObject({ type: 'FAT32', labelBootSector: 'UNRAID', labelDirectory: 'UNRAID' });
    expect(i.rootFiles.map((f) => f.name)).toEqual(['config']);
    expect(i.unraidKeyFiles).toEqual(['config/Pro.key']);
    expect(formatInspection(i)).toContain('unRAID licence: key file config/Pro.key');
    // the bytes are the user's own, unchanged; fsck.fat agrees with the filesystem
    expect(tool('mtype', ['-i', `${img}@@1M`, '::/config/Pro.key'])).toBe(KEY.toString());
    const part = path.join(work, 'part.img');
    writeFileSync(part, readFileSync(img).subarray(MiB));
    expect(tool('fsck.fat', ['-n', part])).toMatch(/\d+ files, \d+\/\d+ clusters/);
    rmSync(part);
    expect(printed).toContain('  key file: config/Pro.key');
    expect(printed.join('\n')).toMatch(/enable <vmid> --image <this file> writes vendor_id, product_id and serial/);
  });

  it('without a key file: an empty config/, and inspect says there is no key', async () => {
    printed = [];
    const img = path.join(work, 'trial.img');
    await imageCreateCommand({ file: img, unraidLicence: true, size: '34M' }, deps());
    const i = await inspectImage(img);
    expect(i.filesystem?.labelDirectory).toBe('UNRAID');
    expect(i.unraidKeyFiles).toEqual([]);
    expect(formatInspection(i).join('\n')).toContain('unRAID licence: no key file in config/');
  });

  it('refuses what is not a key file, boot-stick options and another label, leaving nothing behind', async () => {
    const dir = mkdtempSync(path.join(work, 'refused-'));
    const img = path.join(dir, 'x.img');
    const refuse = async (o: Parameters<typeof imageCreateCommand>[0], re: RegExp, key?: string) => {
      const err = await imageCreateCommand(o, deps()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).toLine()).toMatch(re);
      if (key) expect((err as ImageError).key).toBe(key);
    };
    writeFileSync(path.join(work, 'notes.txt'), 'x');
    writeFileSync(path.join(work, 'Empty.key'), '');
    writeFileSync(path.join(work, 'Huge.key'), Buffer.alloc(65 * 1024));
    mkdirSync(path.join(work, 'Dir.key'));
    symlinkSync(path.join(work, 'Pro.key'), path.join(work, 'Link.key'));
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'notes.txt') }, /not an unRAID key file name.*e\.g\. Pro\.key/, 'key-file');
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'Empty.key') }, /has 0 bytes/, 'key-file');
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'Huge.key') }, /has 66560 bytes/, 'key-file');
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'Dir.key') }, /not a regular file/, 'key-file');
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'Link.key') }, /not a regular file/, 'key-file');
    await refuse({ file: img, unraidLicence: true, keyFile: path.join(work, 'Missing.key') }, /cannot read the key file/, 'key-file');
    await refuse({ file: img, unraidLicence: true, unraid: true }, /--unraid belong to a boot stick/);
    await refuse({ file: img, unraidLicence: true, fromDir: work, unraidVersion: '7.1.4' }, /--unraid-version, --from-dir belong to a boot stick/);
    await refuse({ file: img, unraidLicence: true, label: 'LICENCE' }, /by the label UNRAID/, 'label');
    await refuse({ file: img, keyFile: path.join(work, 'Pro.key') }, /--key-file goes with --unraid-licence/, 'key-file');
    expect(readdirSync(dir)).toEqual([]);
  });
});
