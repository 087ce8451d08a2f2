import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildMbr, lbaToChs, looksLikeSyslinuxMbr, parseMbr, withBootCode } from '../../src/image/mbr.js';

describe('MBR writer', () => {
  const mbr = buildMbr({ diskSignature: 0x12345678, partition: { active: true, type: 0x0c, startLba: 2048, sectors: 129024 } });

  it('writes one active FAT32-LBA entry at sector 2048 and the 0x55AA marker', () => {
    expect(mbr.length).toBe(512);
    expect(mbr[446]).toBe(0x80);
    expect(mbr[450]).toBe(0x0c);
    expect(mbr.readUInt32LE(454)).toBe(2048);
    expect(mbr.readUInt32LE(458)).toBe(129024);
    expect(mbr.subarray(462, 510).every((b) => b === 0)).toBe(true);
    expect([mbr[510], mbr[511]]).toEqual([0x55, 0xaa]);
    expect(mbr.readUInt32LE(440)).toBe(0x12345678);
    expect(mbr.subarray(0, 440).every((b) => b === 0)).toBe(true);
  });

  it('encodes the entry exactly as sfdisk does for the same partition', () => {
    // bytes 446..461 of an image partitioned by `sfdisk` with start=2048, size=67584, type=c, bootable
    const m = buildMbr({ diskSignature: 1, partition: { active: true, type: 0x0c, startLba: 2048, sectors: 67584 } });
    expect(m.subarray(446, 462).toString('hex')).toBe('802021000c5511040008000000080100');
  });

  it('uses the LBA marker CHS past cylinder 1023', () => {
    expect(lbaToChs(2048)).toEqual([32, 33, 0]);
    expect(lbaToChs(1024 * 255 * 63)).toEqual([0xfe, 0xff, 0xff]);
  });

  it('parses back what it wrote, for any partition that fits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 31 }), fc.boolean(), (start, sectors, active) => {
        const parsed = parseMbr(buildMbr({ diskSignature: 7, partition: { active, type: 0x0c, startLba: start, sectors } }));
        expect(parsed.valid).toBe(true);
        expect(parsed.partitions).toEqual([{ index: 1, active, type: 0x0c, startLba: start, sectors }]);
      }),
    );
  });

  it('boot code replaces bytes 0..439 only, even from a 447-byte unRAID mbr.bin', () => {
    const code = Buffer.concat([Buffer.alloc(440, 0xab), Buffer.alloc(6), Buffer.from([0x00])]);
    const out = withBootCode(mbr, code);
    expect(out.subarray(0, 440).every((b) => b === 0xab)).toBe(true);
    expect(out.subarray(440).equals(mbr.subarray(440))).toBe(true);
    expect(parseMbr(out).hasBootCode).toBe(true);
  });

  it('recognises syslinux MBR code', () => {
    expect(looksLikeSyslinuxMbr(withBootCode(mbr, readFileSync('/usr/lib/syslinux/mbr/mbr.bin')))).toBe(true);
    expect(looksLikeSyslinuxMbr(mbr)).toBe(false);
  });

  it('refuses partitions an MBR cannot describe', () => {
    expect(() => buildMbr({ diskSignature: 1, partition: { active: true, type: 0x0c, startLba: 2048, sectors: 2 ** 32 } })).toThrow(RangeError);
  });
});
