// The capture methods' edges: a guest someone else paused stays paused; a copy that fails while the
// guest is paused still resumes it and leaves nothing; qm and cp are called as the docs say.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { captureStick } from '../../src/backup/capture.js';
import { cpCloner, qmGuestControl } from '../../src/backup/deps.js';
import { BackupError } from '../../src/errors.js';
import { validateNotes } from '../../src/spec/validate.js';
import type { GadgetSpec } from '../../src/spec/types.js';
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
