import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { HostFs } from '../../src/ports/host-fs.js';
import { ImagePolicyError } from '../../src/errors.js';
import { checkImage, type ImageUse } from '../../src/host/image-policy.js';
import { parseStorageConfig } from '../../src/storage/storage-config.js';
import type { Settings } from '../../src/settings/types.js';

const settings = (over: Partial<Settings['images']> = {}): Settings =>
  ({ images: { allowedDirs: ['/images'], allowBlockDevices: false, ...over } }) as Settings;

describe('image policy (real files under a temporary root)', () => {
  let root = '';
  let fs: HostFs;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pvug-policy-'));
    fs = nodeHostFs(root);
    for (const d of ['images/sub', 'etc', 'other']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'images/a.img'), Buffer.alloc(4096));
    writeFileSync(join(root, 'images/tiny.img'), Buffer.alloc(100));
    writeFileSync(join(root, 'etc/shadow'), Buffer.alloc(4096));
    writeFileSync(join(root, 'other/x.img'), Buffer.alloc(4096));
    symlinkSync(join(root, 'etc/shadow'), join(root, 'images/evil.img'));
    symlinkSync(join(root, 'images/a.img'), join(root, 'images/sub/link.img'));
    execFileSync('mkfifo', [join(root, 'images/fifo.img')]);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const check = (image: string, opts: { ro?: boolean; inUse?: ImageUse[]; s?: Settings } = {}) =>
    checkImage(fs, opts.s ?? settings(), 'usb-gadget.image', image, opts.ro ?? false, {
      vmid: 100,
      node: 'pve1',
      storages: parseStorageConfig(''),
      vmDisks: [],
      inUse: opts.inUse ?? [],
    });
  const refusal = (image: string, opts: Parameters<typeof check>[1] = {}) => {
    try {
      check(image, opts);
    } catch (err) {
      expect(err).toBeInstanceOf(ImagePolicyError);
      expect((err as ImagePolicyError).key).toBe('usb-gadget.image');
      return (err as Error).message;
    }
    throw new Error(`${image} was accepted`);
  };

  it('accepts a regular file inside an allowed directory and returns its real path', () => {
    expect(check('/images/a.img')).toBe('/images/a.img');
    expect(check('/images/sub/link.img')).toBe('/images/a.img');
  });

  it("refuses files in a stick snapshot folder, also through a symlink, and nothing beside it", () => {
    mkdirSync(join(root, 'images/.pve-usb-gadget-snapshots/100/before'), { recursive: true });
    writeFileSync(join(root, 'images/.pve-usb-gadget-snapshots/100/before/lun0.raw'), Buffer.alloc(4096));
    symlinkSync(join(root, 'images/.pve-usb-gadget-snapshots/100/before/lun0.raw'), join(root, 'images/snap-link.img'));
    expect(refusal('/images/.pve-usb-gadget-snapshots/100/before/lun0.raw')).toMatch(/inside a stick snapshot folder \(\.pve-usb-gadget-snapshots\)/);
    expect(refusal('/images/snap-link.img')).toMatch(/-> \/images\/\.pve-usb-gadget-snapshots\/100\/before\/lun0\.raw\) refused: it is inside a stick snapshot folder/);
    writeFileSync(join(root, 'images/.pve-usb-gadget-snapshots-not.img'), Buffer.alloc(4096));
    expect(check('/images/.pve-usb-gadget-snapshots-not.img')).toBe('/images/.pve-usb-gadget-snapshots-not.img');
  });

  it('resolves symlinks before checking the directory', () => {
    expect(refusal('/images/evil.img')).toMatch(/-> \/etc\/shadow.*not inside an allowed directory/);
  });

  it('refuses paths outside the allowed directories, and system locations even if allowed', () => {
    expect(refusal('/other/x.img')).toMatch(/not inside an allowed directory/);
    expect(refusal('/etc/shadow', { s: settings({ allowedDirs: ['/etc'] }) })).toMatch(/system location/);
  });

  it('refuses FIFOs, directories, missing and too small files', () => {
    expect(refusal('/images/fifo.img')).toMatch(/special file/);
    expect(refusal('/images/sub')).toMatch(/directory/);
    expect(refusal('/images/none.img')).toMatch(/does not exist/);
    expect(refusal('/images/tiny.img')).toMatch(/512-byte block/);
  });

  it('refuses an image another gadget exports, unless both are read-only', () => {
    const rw: ImageUse = { image: '/images/a.img', readonly: false, by: 'VM 101' };
    const ro: ImageUse = { image: '/images/a.img', readonly: true, by: 'VM 102' };
    expect(refusal('/images/a.img', { inUse: [rw] })).toMatch(/already exported by VM 101 read-write/);
    expect(refusal('/images/a.img', { inUse: [ro] })).toMatch(/already exported by VM 102 read-only/);
    expect(refusal('/images/a.img', { ro: true, inUse: [rw] })).toMatch(/VM 101/);
    expect(check('/images/a.img', { ro: true, inUse: [ro] })).toBe('/images/a.img');
  });
});
