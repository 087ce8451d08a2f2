// restore and list against real files: a copy made by the real hook through the vzdump stand-in, then
// written back; every refusal leaves the image exactly as it was.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listStickBackups } from '../../src/backup/catalog.js';
import { restoreStick, type RestoreDeps } from '../../src/backup/restore.js';
import { BackupError, GadgetError, ImagePolicyError } from '../../src/errors.js';
import { StateStore } from '../../src/state/record.js';
import { backupHost, snapshotBackup, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

const BASE = 'vzdump-qemu-100-2026_12_04-18_00_00';

async function backedUp(): Promise<{ h: BackupHost; deps: RestoreDeps; out: string[]; running: { v: boolean } }> {
  const h = backupHost({ reflink: true });
  hosts.push(h);
  h.guestWrite('SAVED-CONTENT');
  expect(await snapshotBackup(h)).toEqual(['ok']);
  h.guestWrite('LATER-WRITES!');
  const out: string[] = [];
  const running = { v: false };
  const deps: RestoreDeps = {
    fs: h.deps.fs,
    settings: h.deps.settings,
    state: new StateStore(h.deps.fs, '/run'),
    vms: h.deps.vms,
    isRunning: async () => running.v,
    print: (l) => void out.push(l),
    pid: 77,
    exec: async () => {
      throw new Error('no process runs for a restore to a file');
    },
    log: h.deps.log,
  };
  return { h, deps, out, running };
}

const refused = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as GadgetError);

describe('backup list', () => {
  it('lists the copies with time, ids, size and whether the archive is still there', async () => {
    const { h } = await backedUp();
    const list = listStickBackups(h.deps.fs, ['/dump'], 100);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ base: BASE, time: '2026_12_04-18_00_00', archive: `${BASE}.vma.zst`, manifest: { usb: { vendorId: '0781', serial: '4C530001230101111111' } } });
    expect(listStickBackups(h.deps.fs, ['/dump'], 101)).toEqual([]);
  });
});

describe('restore', () => {
  it('writes the copy back over the notes image, by time, verified, atomically', async () => {
    const { h, deps, out } = await backedUp();
    expect(h.imageText()).toBe('LATER-WRITES!');
    const r = await restoreStick(deps, { vmid: 100, from: '2026_12_04-18_00_00', dumpDirs: ['/dump'] });
    expect(r.target).toBe('/images/stick.img');
    expect(h.imageText()).toBe('SAVED-CONTENT');
    expect(out[0]).toMatch(/restored LUN 0 of vzdump-qemu-100-2026_12_04-18_00_00 .* 4194304 bytes, SHA-256 verified/);
    expect(readdirSync(join(h.t.root, 'images'))).toEqual(['stick.img']);
  });

  it('restores by archive path to a new image for another VM, and warns when its notes give another identity', async () => {
    const { h, deps, out } = await backedUp();
    h.setNotes('[usb-gadget]\nimage = /images/new.img\n');
    await restoreStick(deps, { vmid: 200, from: `/dump/${BASE}.vma.zst`, to: '/images/new.img', dumpDirs: [] });
    expect(readFileSync(join(h.t.root, 'images/new.img')).subarray(0, 13).toString()).toBe('SAVED-CONTENT');
    expect(out[1]).toMatch(/WARNING: VM 200's notes give 1d6b:80c8 .*set vendor_id, product_id and serial/);
  });

  it('refuses a checksum mismatch and overwrites nothing', async () => {
    const { h, deps } = await backedUp();
    const raw = join(h.t.root, 'dump', `${BASE}.usb-gadget-lun0.raw`);
    const b = readFileSync(raw);
    b[100] = 1;
    writeFileSync(raw, b);
    const e = await refused(restoreStick(deps, { vmid: 100, from: BASE, dumpDirs: ['/dump'] }));
    expect(e).toBeInstanceOf(BackupError);
    expect(e?.toLine()).toMatch(/does not match its manifest .*nothing was overwritten.*fix: the copy is damaged/);
    expect(h.imageText()).toBe('LATER-WRITES!');
    expect(readdirSync(join(h.t.root, 'images'))).toEqual(['stick.img']);
  });

  it('refuses a running VM, a live stick, a refused target, and an archive that is not ours', async () => {
    const { h, deps, running } = await backedUp();
    running.v = true;
    expect((await refused(restoreStick(deps, { vmid: 100, from: BASE, dumpDirs: ['/dump'] })))?.toLine()).toMatch(/VM 100 is running; fix: stop it first/);
    running.v = false;
    deps.state.write({ version: 1, vmid: 300, phase: 'live', node: 'pve', gadgetDir: '/x', udc: 'dummy_udc.0', usbId: '0781:5571', serial: 's', speed: 'high', luns: [{ index: 0, image: '/images/stick.img', readonly: false, cdrom: false }], createdAt: '', pid: 1 });
    expect((await refused(restoreStick(deps, { vmid: 100, from: BASE, dumpDirs: ['/dump'] })))?.toLine()).toMatch(/\/images\/stick.img is the live stick of VM 300/);
    deps.state.remove(300);
    h.t.put('/sys/kernel/config/usb_gadget/pvug-300/functions/mass_storage.0/lun.0/file', '/images/stick.img\n');
    expect((await refused(restoreStick(deps, { vmid: 100, from: BASE, dumpDirs: ['/dump'] })))?.toLine()).toMatch(/\/images\/stick.img .*exported by VM 300/);
    h.t.put('/sys/kernel/config/usb_gadget/pvug-300/functions/mass_storage.0/lun.0/file', '');
    const e = await refused(restoreStick(deps, { vmid: 100, from: BASE, to: '/etc/new.img', dumpDirs: ['/dump'] }));
    expect(e).toBeInstanceOf(ImagePolicyError);
    h.t.put(`/dump/vzdump-qemu-100-2026_12_04-19_00_00.usb-gadget.json`, '{"format":"something-else"}');
    expect((await refused(restoreStick(deps, { vmid: 100, from: '2026_12_04-19_00_00', dumpDirs: ['/dump'] })))?.toLine()).toMatch(/VM 100 has no stick copy from 2026_12_04-19_00_00/);
    expect((await refused(restoreStick(deps, { vmid: 100, from: 'vzdump-qemu-100-2026_12_04-19_00_00.vma.zst', dumpDirs: ['/dump'] })))?.toLine()).toMatch(/not a stick backup manifest \(format/);
    expect((await refused(restoreStick(deps, { vmid: 100, from: '../../etc/passwd', dumpDirs: ['/dump'] })))?.toLine()).toMatch(/is not a vzdump QEMU archive name/);
    expect((await refused(restoreStick(deps, { vmid: 100, from: 'vzdump-qemu-100-2026_12_04-20_00_00.vma', dumpDirs: ['/dump'] })))?.toLine()).toMatch(/has no stick copy in \/dump/);
    expect(h.imageText()).toBe('LATER-WRITES!');
  });
});
