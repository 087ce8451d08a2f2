// The capture methods' edges: a guest someone else paused stays paused; a copy that fails while the
// guest is paused still resumes it and leaves nothing; qm and cp are called as the docs say.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureStick } from '../../src/backup/capture.js';
import { cpCloner, qmGuestControl } from '../../src/backup/deps.js';
import { BackupError } from '../../src/errors.js';
import { validateNotes } from '../../src/spec/validate.js';
import type { GadgetSpec } from '../../src/spec/types.js';
import { StateStore } from '../../src/state/record.js';
import { backupHost, NOTES, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});
const spec = (notes = NOTES): GadgetSpec => {
  const r = validateNotes(notes, { vmid: 100, defaultSpeed: 'super' });
  if (r.kind !== 'ok') throw new Error('notes');
  return r.spec;
};
const req = (s = spec()) => ({ vmid: 100, mode: 'snapshot' as const, when: 'live' as const, dumpDir: '/dump', base: 'vzdump-qemu-100-2026_12_04-18_00_00', spec: s });

describe('captureStick', () => {
  it('copies without pausing or resuming a guest that was already paused', async () => {
    const h = backupHost();
    hosts.push(h);
    h.deps.guest.isPaused = async () => true;
    const m = await captureStick(h.deps, req());
    expect(m?.method).toBe('already-paused');
    expect(h.events).toEqual(['reflink']);
  });

  it('resumes the guest and removes the part files when the copy fails while paused', async () => {
    const h = backupHost();
    hosts.push(h);
    const s = spec(`${NOTES}[usb-gadget.lun1]\nimage = /images/two.img\n`);
    h.t.put('/images/two.img', 'x'.repeat(4096));
    // the second LUN vanishes between the policy check and the copy
    const pause = h.deps.guest.pause;
    h.deps.guest.pause = async (id) => {
      await pause(id);
      rmSync(join(h.t.root, 'images/two.img'));
    };
    const e = await captureStick(h.deps, req(s)).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BackupError);
    expect((e as BackupError).toLine()).toMatch(/copying the stick of VM 100 failed: ENOENT.*fix: check free space/);
    expect(h.events).toEqual(['reflink', 'pause 100', 'resume 100']);
    expect(readdirSync(join(h.t.root, 'dump'))).toEqual([]);
  });

  it('leaves cdrom LUNs and volumes out, saying so', async () => {
    const h = backupHost();
    hosts.push(h);
    h.t.put('/images/tools.iso', 'i'.repeat(4096));
    const m = await captureStick(h.deps, req(spec(`${NOTES}[usb-gadget.lun1]\nimage = /images/tools.iso\ncdrom = true\n`)));
    expect(m?.luns.map((l) => l.index)).toEqual([0]);
    expect(h.lines.join('\n')).toMatch(/LUN 1 is a cdrom image: not copied/);
  });
});

describe('the real effects, with exec faked', () => {
  it('pauses with qm suspend --skiplock, reads qmpstatus, reflinks with cp --reflink=always', async () => {
    const calls: string[] = [];
    const exec = async (file: string, args: readonly string[]) => {
      calls.push(`${file} ${args.join(' ')}`);
      return { exitCode: args[0] === '--reflink=always' ? 1 : 0, stdout: args[0] === 'status' ? 'status: running\nqmpstatus: paused\n' : '', stderr: '' };
    };
    const g = qmGuestControl(exec);
    expect(await g.isPaused(100)).toBe(true);
    await g.pause(100);
    await g.resume(100);
    expect(await cpCloner(exec).reflink('/a', '/nonexistent-dir/b')).toBe(false);
    expect(calls).toEqual(['qm status 100 --verbose', 'qm suspend 100 --skiplock', 'qm resume 100 --skiplock', 'cp --reflink=always --no-preserve=all -- /a /nonexistent-dir/b']);
  });
});

describe('LUNs on a Proxmox volume or a block device: copied from what the live stick serves', () => {
  const VOLUME_NOTES = `${NOTES}[usb-gadget.lun1]\nimage = local-lvm:vm-100-usb\n`;
  /** `/dev/dm-3` stands for the activated volume: a file in the temp root that stat calls a block device */
  function liveVolume(h: BackupHost, opts: { served?: string; record?: boolean; phase?: 'building' | 'live' } = {}) {
    h.t.put('/dev/dm-3', 'VOLUME-BYTES'.padEnd(8192, '\0'));
    const base = h.deps.fs;
    h.deps.fs = { ...base, stat: (p) => (p === '/dev/dm-3' ? { ...base.stat(p), kind: 'block' } : base.stat(p)) };
    const g = '/sys/kernel/config/usb_gadget/pvug-100/functions/mass_storage.0';
    h.t.put(`${g}/lun.0/file`, '/images/stick.img\n');
    h.t.put(`${g}/lun.1/file`, `${opts.served ?? '/dev/dm-3'}\n`);
    if (opts.record === false) return;
    const volume = { volid: 'local-lvm:vm-100-usb', storage: 'local-lvm', type: 'lvmthin', kind: 'block' as const, shared: false, state: 'active' as const, path: '/dev/pve/vm-100-usb', device: '/dev/dm-3', bytes: 8192 };
    new StateStore(base, '/run').write({
      version: 1, vmid: 100, phase: opts.phase ?? 'live', node: 'pve', gadgetDir: '/sys/kernel/config/usb_gadget/pvug-100', udc: 'dummy_udc.0', usbId: '0781:5571', serial: 's', speed: 'high',
      luns: [{ index: 0, image: '/images/stick.img', readonly: false, cdrom: false }, { index: 1, image: '/dev/dm-3', readonly: false, cdrom: false, volume }],
      createdAt: '', pid: 1,
    });
  }

  it('copies the device in the record while configfs serves it, pausing the guest (no reflink for a device), and keeps the volume id', async () => {
    const h = backupHost({ reflink: true });
    hosts.push(h);
    liveVolume(h);
    const m = await captureStick(h.deps, req(spec(VOLUME_NOTES)));
    expect(m?.method).toBe('pause');
    expect(h.events).toEqual(['pause 100', 'resume 100']);
    expect(m?.luns[1]).toMatchObject({ index: 1, image: 'local-lvm:vm-100-usb', source: '/dev/dm-3', size: 8192 });
    expect(readFileSync(join(h.t.root, 'dump', `${req().base}.usb-gadget-lun1.raw`)).subarray(0, 12).toString()).toBe('VOLUME-BYTES');
    const log = h.lines.join('\n');
    expect(log).toMatch(/LUN 1 is the Proxmox volume local-lvm:vm-100-usb: copied from \/dev\/dm-3, the device the live stick serves/);
    expect(log).toMatch(/LUN 1 is the block device \/dev\/dm-3: it cannot be reflinked, so the guest is paused for the copy/);
  });

  it('saves no volume LUN without a live stick, or when configfs serves something else, and says why', async () => {
    for (const [opts, why] of [
      [{ record: false }, /LUN 1 \(the Proxmox volume local-lvm:vm-100-usb\) NOT SAVED: VM 100's stick is not live \(no record \/run\/100.json\)/],
      [{ phase: 'building' as const }, /NOT SAVED: VM 100's stick did not finish starting/],
      [{ served: '' }, /NOT SAVED: configfs serves no medium in LUN 1, the record names \/dev\/dm-3/],
    ] as const) {
      const h = backupHost({ reflink: true });
      hosts.push(h);
      liveVolume(h, opts);
      const m = await captureStick(h.deps, req(spec(VOLUME_NOTES)));
      expect(m?.luns.map((l) => l.index)).toEqual([0]);
      expect(m?.method).toBe('reflink');
      expect(h.lines.join('\n')).toMatch(why);
    }
    const h = backupHost();
    hosts.push(h);
    liveVolume(h, { record: false });
    expect(await captureStick(h.deps, req(spec('[usb-gadget]\nimage = local-lvm:vm-100-usb\n')))).toBeUndefined();
  });
});
