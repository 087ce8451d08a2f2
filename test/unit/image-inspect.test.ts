import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDirectory } from '../../src/image/fat.js';
import { formatInspection, inspectImage, inspectWith } from '../../src/image/inspect.js';
import { buildMbr } from '../../src/image/mbr.js';
import { requireHostTools } from '../image/host-tools.js';

let work: string;
beforeAll(() => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-inspect-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const memory = (buf: Buffer) => async (offset: number, length: number) => {
  const out = Buffer.alloc(length);
  buf.copy(out, 0, offset, Math.min(buf.length, offset + length));
  return out;
};

describe('inspect', () => {
  it('reads a FAT filesystem that starts at sector 0 (no partition table)', async () => {
    const file = path.join(work, 'floppy.img');
    execFileSync('/usr/sbin/mkfs.fat', ['-C', '-F', '16', '-n', 'FLOPPY', file, String(16 * 1024)], { stdio: 'ignore' });
    execFileSync('mcopy', ['-i', file, '/etc/hostname', '::/HOSTNAME.TXT']);
    const i = await inspectImage(file);
    expect(i.partitionTable).toBe('none');
    expect(i.filesystem).toMatchObject({ partition: 0, offsetBytes: 0, type: 'FAT16', labelBootSector: 'FLOPPY' });
    expect(i.rootFiles.map((f) => f.name)).toContain('HOSTNAME.TXT');
    expect(i.bios.bootable).toBe(false);
  });

  it('says when there is no filesystem, without throwing', async () => {
    const i = await inspectWith('zeros', 4 << 20, memory(Buffer.alloc(4 << 20)));
    expect(i.partitionTable).toBe('unknown');
    expect(i.filesystem).toBeUndefined();
    expect(i.bios).toEqual({ bootable: false, reasons: ['no FAT filesystem found'] });
    expect(formatInspection(i).join('\n')).toContain('BIOS boot: no');
  });

  it('recognises a GPT disk by its protective MBR and does not read further', async () => {
    const disk = Buffer.alloc(1 << 20);
    buildMbr({ diskSignature: 0, partition: { active: false, type: 0xee, startLba: 1, sectors: 2047 } }).copy(disk);
    const i = await inspectWith('gpt', disk.length, memory(disk));
    expect(i.partitionTable).toBe('gpt');
    expect(i.partitions[0]?.typeName).toBe('GPT protective');
    expect(i.uefi.reasons[0]).toMatch(/GPT/);
  });

  it('reports a missing file as an ImageError', async () => {
    await expect(inspectImage(path.join(work, 'nope.img'))).rejects.toMatchObject({ name: 'ImageError', errno: 'ENOENT' });
  });
});

describe('FAT directory parsing', () => {
  it('joins long-name slots, honours lower-case flags and skips deleted entries', () => {
    const short = (name: string, attr: number, nt = 0) => {
      const e = Buffer.alloc(32);
      e.write(name, 0, 11, 'latin1');
      e[11] = attr;
      e[12] = nt;
      return e;
    };
    const sfn = short('LONGFI~1TXT', 0x20);
    let sum = 0;
    for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + sfn[i]!) & 0xff;
    const lfn = Buffer.alloc(32, 0xff);
    lfn[0] = 0x41; // last (and first) slot, sequence 1
    lfn[11] = 0x0f;
    lfn[12] = 0;
    lfn[13] = sum;
    lfn.writeUInt16LE(0, 26);
    const name = 'Long file.txt';
    const slots = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    slots.forEach((off, i) => lfn.writeUInt16LE(i < name.length ? name.charCodeAt(i) : i === name.length ? 0 : 0xffff, off));
    const deleted = short('GONE    TXT', 0x20);
    deleted[0] = 0xe5;
    const entries = parseDirectory(Buffer.concat([short('MYLABEL    ', 0x08), deleted, lfn, sfn, short('README  MD ', 0x20, 0x18), short('DIR        ', 0x10), Buffer.alloc(32)]));
    expect(entries.map((e) => [e.name, e.isVolumeLabel, e.isDirectory])).toEqual([
      ['MYLABEL', true, false],
      ['Long file.txt', false, false],
      ['readme.md', false, false],
      ['DIR', false, true],
    ]);
  });
});

it('reads the bytes inspect reports straight from the file', async () => {
  // sanity: inspect and the raw file agree on the first partition entry of a hand-made MBR
  const file = path.join(work, 'raw.img');
  const disk = Buffer.alloc(2 << 20);
  buildMbr({ diskSignature: 0xdeadbeef, partition: { active: true, type: 0x0c, startLba: 2048, sectors: 2048 } }).copy(disk);
  writeFileSync(file, disk);
  const i = await inspectImage(file);
  expect(i.diskSignature).toBe('0xdeadbeef');
  expect(i.partitions).toEqual([{ index: 1, active: true, type: 0x0c, typeName: 'FAT32 (LBA)', startLba: 2048, sectors: 2048 }]);
  expect(readFileSync(file).readUInt32LE(440)).toBe(0xdeadbeef);
  expect(i.bios.reasons).toEqual(['no FAT filesystem found']);
});
