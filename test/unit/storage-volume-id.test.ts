// Volume ids from the notes: the strict grammar, and `image =` accepting them next to absolute paths.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateNotes } from '../../src/spec/validate.js';
import { looksLikeVolumeId, parseVolumeId, STORAGE_ID } from '../../src/storage/volume-id.js';
import { parseStorageList } from '../../src/settings/values.js';
import { parseSettings } from '../../src/settings/parse.js';

const ok = (raw: string) => {
  const p = parseVolumeId(raw);
  if (!p.ok) throw new Error(p.message);
  return p.value;
};
const why = (raw: string) => {
  const p = parseVolumeId(raw);
  return p.ok ? 'accepted' : p.message;
};

describe('parseVolumeId', () => {
  it('accepts the volume ids Proxmox makes', () => {
    expect(ok('local-lvm:vm-100-usb-stick')).toEqual({ storage: 'local-lvm', volname: 'vm-100-usb-stick' });
    expect(ok('local:100/vm-100-disk-0.raw')).toEqual({ storage: 'local', volname: '100/vm-100-disk-0.raw' });
    expect(ok('ceph_pool.1:base-101-disk-0/vm-102-disk-1')).toEqual({ storage: 'ceph_pool.1', volname: 'base-101-disk-0/vm-102-disk-1' });
    expect(ok('local:iso/unRAID-7.0.1.iso').volname).toBe('iso/unRAID-7.0.1.iso');
    expect(ok('nfs:100/base-100-disk-0.raw/101/vm-101-disk-0.qcow2').volname).toBe('100/base-100-disk-0.raw/101/vm-101-disk-0.qcow2');
  });

  it.each([
    ['vm-100-disk-0', 'no ":"'],
    [':vm-100', 'storage id before ":" is empty'],
    ['1local:vm-100', 'letter first'],
    ['local-:vm-100', 'letter first, no - _ . last'],
    ['local:', 'volume name after ":" is empty'],
    ['local:../etc/shadow', '"." or ".."'],
    ['local:100/../../etc/shadow', '"." or ".."'],
    ['local:100/./x.raw', '"." or ".."'],
    ['local:/etc/shadow', 'start or end with "/"'],
    ['local:100//x.raw', '"//"'],
    ['local:100/', 'start or end with "/"'],
    ['local:-rf', 'start with "-"'],
    ['local:100/-x.raw', 'start with "-"'],
    ['ceph:vm-100-disk-0@snap1', 'snapshots'],
    ['local:100/my stick.raw', 'no spaces'],
    ['local:100/a:b.raw', 'no ":"'],
    ['local:vm-100-\u202edisk', 'letters, digits'],
    ['lo cal:vm-100', 'storage id may only hold'],
    [`${'a'.repeat(65)}:vm-100`, 'longer than 64'],
    [`local:${'a'.repeat(256)}`, 'longer than 255'],
    ['local:a/b/c/d/e/f/g/h/i', 'more than 8'],
  ])('refuses %j (%s)', (raw, text) => {
    expect(why(raw)).toContain(text);
    expect(why(raw)).toContain('storage:volume');
  });

  it('property: never throws; what it accepts has a valid storage id and no traversal, spaces or leading dashes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: fc.constantFrom(...'ab19:/.-_@ +\\'), maxLength: 40 })), (raw) => {
        const p = parseVolumeId(raw);
        if (!p.ok) return;
        expect(STORAGE_ID.test(p.value.storage)).toBe(true);
        const segs = p.value.volname.split('/');
        expect(segs.every((s) => s !== '' && s !== '.' && s !== '..' && !s.startsWith('-'))).toBe(true);
        expect(/[\s:@\\]/.test(p.value.volname)).toBe(false);
        expect(`${p.value.storage}:${p.value.volname}`).toBe(raw);
      }),
      { numRuns: 2000 },
    );
  });

  it('tells paths from volume ids by the leading "/"', () => {
    expect(looksLikeVolumeId('/var/lib/vz/usb-gadget/a.img')).toBe(false);
    expect(looksLikeVolumeId('local:iso/a.iso')).toBe(true);
  });
});

describe('image = in the notes', () => {
  const ctx = { vmid: 100, defaultSpeed: 'super' as const };
  it('takes a volume id as it is (resolved at start)', () => {
    const r = validateNotes('[usb-gadget]\nimage = local-lvm:vm-100-usb\n\n[usb-gadget.lun1]\nimage = local:iso/tools.iso\ncdrom = true\n', ctx);
    expect(r.kind).toBe('ok');
    if (r.kind === 'ok') expect(r.spec.luns.map((l) => l.image)).toEqual(['local-lvm:vm-100-usb', 'local:iso/tools.iso']);
  });

  it('refuses a malformed volume id naming the key and both accepted forms', () => {
    const r = validateNotes('[usb-gadget]\nimage = local:../../etc/shadow\n', ctx);
    expect(r.kind).toBe('invalid');
    if (r.kind === 'invalid') {
      expect(r.problems[0]?.key).toBe('usb-gadget.image');
      expect(r.problems[0]?.message).toMatch(/absolute path or a Proxmox volume id.*"\." or "\.\."/);
    }
  });

  it('still applies the path rules to paths', () => {
    const r = validateNotes('[usb-gadget]\nimage = /var/lib/../x.img\n', ctx);
    expect(r.kind === 'invalid' && r.problems[0]?.message).toContain('".." path segments');
  });
});

describe('[images] allowed_storages', () => {
  it('parses a comma-separated list of storage ids, de-duplicated; empty means none', () => {
    expect(parseStorageList('local-lvm, ceph ,local-lvm')).toEqual({ ok: true, value: ['local-lvm', 'ceph'] });
    expect(parseStorageList('')).toEqual({ ok: true, value: [] });
    const bad = parseStorageList('local, ../x');
    expect(bad.ok).toBe(false);
  });

  it('ends up in Settings.images.allowedStorages; absent when not set', () => {
    expect(parseSettings('[images]\nallowed_storages = ceph, local-zfs\n', 'x.ini', 'pve1').images.allowedStorages).toEqual(['ceph', 'local-zfs']);
    expect(parseSettings('', 'x.ini', 'pve1').images.allowedStorages).toBeUndefined();
    expect(() => parseSettings('[images]\nallowed_storages = 9bad\n', 'x.ini', 'pve1')).toThrow(/images\.allowed_storages/);
  });
});
