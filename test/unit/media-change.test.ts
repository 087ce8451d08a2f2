// changeMedia against a fake configfs (fake-lun.ts follows storage_common.c): the kernel's order, the
// locked medium, refusals that change nothing, and the record after a kill after each write.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaError } from '../../src/errors.js';
import { createLogger } from '../../src/hook/log.js';
import { realClock } from '../../src/host/enumeration.js';
import { changeMedia, type MediaDeps } from '../../src/media/change.js';
import { readLiveLuns } from '../../src/media/live-lun.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { teardownLocked } from '../../src/hook/teardown.js';
import type { HookDeps } from '../../src/hook/deps.js';
import { fakeLunFs, putLuns } from './fake-lun.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => roots.splice(0).forEach((r) => r.remove()));

const MB = 'x'.repeat(1024);
function setup(luns: Parameters<typeof putLuns>[2]) {
  const t = tmpRoot('pvug-media-');
  roots.push(t);
  for (const f of ['a.iso', 'b.iso', 'disk.img', 'other.img']) t.put(`/images/${f}`, MB);
  t.put('/etc/shadow', MB);
  putLuns(t, 100, luns);
  const settings = parseSettings(`[images]\nallowed_dirs = /images\n[paths]\nroot = ${t.root}\nstate_dir = /run/pvug\npve_config_dir = /qemu-server\n`, 'test', 'pve');
  const fake = fakeLunFs(t);
  const state = new StateStore(fake.fs, settings.paths.stateDir);
  const exec: string[] = [];
  const record: GadgetRecord = {
    version: 1, vmid: 100, phase: 'live', node: 'pve', gadgetDir: '/sys/kernel/config/usb_gadget/pvug-100', udc: 'dummy_udc.0',
    usbId: '1d6b:8064', serial: 'S', speed: 'high', createdAt: '', pid: 1,
    luns: luns.map((l, index) => ({ index, image: l.file, readonly: !!(l.ro || l.cdrom), cdrom: !!l.cdrom })),
  };
  state.write(record);
  const deps: MediaDeps = {
    fs: fake.fs,
    exec: async (file, args) => {
      exec.push([file, ...args].join(' '));
      return { stdout: '', stderr: '', exitCode: 0 };
    },
    clock: realClock,
    log: createLogger('t', { out: () => undefined, err: () => undefined }),
    settings,
    lock: { acquire: async () => async () => undefined },
    state,
  };
  const lun = (i: number) => readLiveLuns(fake.fs, 100)[i];
  return { t, fake, deps, state, lun, exec };
}

describe('changeMedia', () => {
  it('swaps the ISO of a cdrom LUN and records it', async () => {
    const s = setup([{ file: '/images/disk.img' }, { file: '/images/a.iso', cdrom: true }]);
    const r = await changeMedia(s.deps, 100, { action: 'insert', lun: 1, image: '/images/b.iso', force: false });
    expect(r.changed).toBe(true);
    expect(s.lun(1)).toMatchObject({ file: '/images/b.iso', cdrom: true, ro: true });
    expect(s.state.read(100)?.luns[1]).toMatchObject({ image: '/images/b.iso', cdrom: true });
    expect(s.state.read(100)?.media).toBeUndefined();
  });

  it('turns a cdrom LUN into a writable disk in the kernel order (the fake refuses any other)', async () => {
    const s = setup([{ file: '/images/a.iso', cdrom: true }]);
    await changeMedia(s.deps, 100, { action: 'insert', lun: 0, image: '/images/disk.img', cdrom: false, readonly: false, force: false });
    expect(s.fake.writes).toEqual(['file=\n', 'cdrom=0', 'ro=0', 'file=/images/disk.img']);
    expect(s.lun(0)).toMatchObject({ file: '/images/disk.img', cdrom: false, ro: false });
  });

  it('a locked medium is refused without --force, nothing changed; --force ejects it', async () => {
    const s = setup([{ file: '/images/disk.img' }]);
    s.fake.lock('/sys/kernel/config/usb_gadget/pvug-100/functions/mass_storage.0/lun.0');
    const err = await changeMedia(s.deps, 100, { action: 'eject', lun: 0, force: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect((err as MediaError).toLine()).toMatch(/locked the medium.*--force.*I\/O errors/);
    expect(s.lun(0)?.file).toBe('/images/disk.img');
    expect(s.state.read(100)?.media).toBeUndefined();
    await changeMedia(s.deps, 100, { action: 'eject', lun: 0, force: true });
    expect(s.lun(0)?.file).toBe('');
    expect(s.state.read(100)?.luns[0]?.image).toBe('');
  });

  it.each([
    ['a refused image', { action: 'insert', lun: 0, image: '/etc/shadow', force: false }, /not inside an allowed directory/],
    ['an unknown LUN', { action: 'eject', lun: 3, force: false }, /has no lun3/],
  ] as const)('refuses %s and changes nothing', async (_n, cmd, msg) => {
    const s = setup([{ file: '/images/disk.img' }]);
    await expect(changeMedia(s.deps, 100, cmd)).rejects.toThrow(msg);
    expect(s.fake.writes).toEqual([]);
    expect(s.lun(0)?.file).toBe('/images/disk.img');
  });

  it('refuses a non-removable LUN and a VM without a live stick', async () => {
    const s = setup([{ file: '/images/disk.img', removable: false }]);
    await expect(changeMedia(s.deps, 100, { action: 'eject', lun: 0, force: false })).rejects.toThrow(/not removable/);
    await expect(changeMedia(s.deps, 101, { action: 'eject', lun: 0, force: false })).rejects.toThrow(/no live stick/);
    expect(s.fake.writes).toEqual([]);
  });

  it('refuses an image another LUN of this stick writes', async () => {
    const s = setup([{ file: '/images/disk.img' }, { file: '' }]);
    await expect(changeMedia(s.deps, 100, { action: 'insert', lun: 1, image: '/images/disk.img', force: false })).rejects.toThrow(/already exported by lun0/);
  });

  // kill -9 after each write: the record holds the intent and how far it got; the next media command
  // (or teardown) settles from configfs, and a volume activated for the change is released by teardown
  it.each([1, 2, 3, 4])('killed after write %i of 4: the record holds the intent, the next change settles it', async (stopAt) => {
    const s = setup([{ file: '/images/a.iso', cdrom: true }]);
    let atKill: GadgetRecord | undefined;
    s.deps.afterStep = (done) => {
      if (done !== stopAt) return;
      atKill = s.state.read(100);
      throw new Error('killed');
    };
    await expect(changeMedia(s.deps, 100, { action: 'insert', lun: 0, image: '/images/disk.img', cdrom: false, readonly: false, force: false })).rejects.toThrow('killed');
    expect(atKill?.media).toMatchObject({ lun: 0, action: 'insert', image: '/images/disk.img', done: stopAt, steps: 4 });
    // kill -9 runs no catch: put back the record as the kill left it
    s.state.write(atKill as GadgetRecord);
    s.deps.afterStep = undefined;
    await changeMedia(s.deps, 100, { action: 'insert', lun: 0, image: '/images/b.iso', cdrom: true, force: false });
    expect(s.lun(0)).toMatchObject({ file: '/images/b.iso', cdrom: true, ro: true });
    expect(s.state.read(100)?.media).toBeUndefined();
    expect(s.state.read(100)?.luns[0]).toMatchObject({ image: '/images/b.iso', cdrom: true });
  });

  it('a record left with an intent (kill -9) is settled from configfs by the next change', async () => {
    const s = setup([{ file: '' , cdrom: true }]);
    const rec = s.state.read(100) as GadgetRecord;
    const volume = { volid: 'local-lvm:vm-100-disk-9', storage: 'local-lvm', type: 'lvmthin', kind: 'block' as const, shared: false, state: 'active' as const, device: '/dev/dm-9' };
    s.state.write({ ...rec, media: { lun: 0, action: 'insert', image: '/dev/dm-9', done: 1, steps: 2, pid: 99999, startedAt: '' }, spareVolumes: [volume] });
    await changeMedia(s.deps, 100, { action: 'insert', lun: 0, image: '/images/a.iso', force: false });
    expect(s.exec.some((c) => c.includes('local-lvm:vm-100-disk-9'))).toBe(true);
    expect(s.state.read(100)?.spareVolumes).toBeUndefined();
    expect(s.lun(0)?.file).toBe('/images/a.iso');
  });

  it('teardown releases a spare volume a killed change left', async () => {
    const s = setup([{ file: '/images/disk.img' }]);
    const rec = s.state.read(100) as GadgetRecord;
    const volume = { volid: 'local-lvm:vm-100-disk-9', storage: 'local-lvm', type: 'lvmthin', kind: 'block' as const, shared: false, state: 'activating' as const };
    s.state.write({ ...rec, media: { lun: 0, action: 'insert', done: 0, steps: 1, pid: 99999, startedAt: '' }, spareVolumes: [volume] });
    // the gadget itself is gone (its removal is teardown-plan's, proven in test/e2e): the record is left
    rmSync(join(s.t.root, 'sys'), { recursive: true });
    const r = await teardownLocked({ ...s.deps, fs: s.t.fs } as unknown as HookDeps, 100);
    expect(r.failures).toEqual([]);
    expect(s.exec.some((c) => c.includes('local-lvm:vm-100-disk-9'))).toBe(true);
    expect(s.state.read(100)).toBeUndefined();
  });
});
