// The real vzdump hook driven by the vzdump stand-in (test/fake-pve/vzdump.ts) against a temp root with
// real files: the copy holds what the guest wrote before the backup's point in time, nothing after.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { takeRemembered } from '../../src/backup/at-pre-start.js';
import { parseManifest } from '../../src/backup/manifest.js';
import { validateNotes } from '../../src/spec/validate.js';
import type { GadgetSpec } from '../../src/spec/types.js';
import { runFakeVzdump, type FakeGuest, type FakeVzdumpJob, type Mode } from '../fake-pve/vzdump.js';
import { backupHost, fakeJob, NOTES, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

const spec = (): GadgetSpec => {
  const r = validateNotes(NOTES, { vmid: 100, defaultSpeed: 'super' });
  if (r.kind !== 'ok') throw new Error('notes');
  return r.spec;
};

function job(h: BackupHost, mode: Mode, guests: FakeGuest[], extra: Partial<FakeVzdumpJob> = {}): FakeVzdumpJob {
  return fakeJob(
    h,
    mode,
    guests,
    {
      // qemu-server's vm_start runs the hookscript's pre-start: here the part of it that copies
      startPaused: async (g) => {
        await takeRemembered(h.deps, g.vmid, spec());
        g.running = true;
        g.paused = true;
      },
      cont: async (g) => {
        g.paused = false;
        h.guestWrite('AFTER-RESUME');
      },
    },
    extra,
  );
}

const dump = (h: BackupHost) => readdirSync(join(h.t.root, 'dump')).sort();
const manifestOf = (h: BackupHost, base: string) => {
  const p = join(h.t.root, 'dump', `${base}.usb-gadget.json`);
  return parseManifest(readFileSync(p, 'utf8'), p);
};
const copyText = (h: BackupHost, base: string) => readFileSync(join(h.t.root, 'dump', `${base}.usb-gadget-lun0.raw`)).subarray(0, 16).toString('latin1').replace(/\0+$/, '');

describe('vzdump hook through the vzdump stand-in', () => {
  it('stop mode, running VM: phases in VZDump.pm order, copy taken while QEMU is down, manifest beside the archive', async () => {
    const h = backupHost();
    hosts.push(h);
    h.guestWrite('BEFORE-BACKUP');
    const r = await runFakeVzdump(job(h, 'stop', [{ vmid: 100, name: 'unraid', running: true }]));
    expect(r.calls).toEqual([
      'job-init', 'job-start', 'backup-start stop 100', 'pre-stop stop 100', 'backup-end stop 100',
      'pre-restart stop 100', 'post-restart stop 100', 'log-end stop 100', 'job-end',
    ]);
    expect(r.tasks[0]?.state).toBe('ok');
    const base = 'vzdump-qemu-100-2026_12_04-18_01_00';
    expect(dump(h)).toEqual([`${base}.log`, `${base}.usb-gadget-lun0.raw`, `${base}.usb-gadget.json`, `${base}.vma.zst`]);
    expect(copyText(h, base)).toBe('BEFORE-BACKUP');
    expect(h.imageText()).toBe('AFTER-RESUMEP');
    const m = manifestOf(h, base);
    expect(m).toMatchObject({ vmid: 100, mode: 'stop', method: 'offline', pausedMs: 0, usb: { vendorId: '0781', productId: '5571', serial: '4C530001230101111111' } });
    const raw = readFileSync(join(h.t.root, 'dump', `${base}.usb-gadget-lun0.raw`));
    expect(m.luns[0]).toMatchObject({ index: 0, image: '/images/stick.img', size: 4 << 20, sha256: createHash('sha256').update(raw).digest('hex') });
    expect(h.events).toEqual([]);
    expect(h.lines.join('\n')).toMatch(/stick saved: 1 LUN\(s\), 4194304 bytes, method offline .*guest paused 0 ms/);
    // the pending record is gone once backup-end reported; the outcome stays for doctor
    expect(readdirSync(join(h.t.root, 'run'))).toEqual(['backup-last-100.json']);
  });

  it('stop mode, stopped VM: no pre-stop, the copy is taken at the paused start', async () => {
    const h = backupHost();
    hosts.push(h);
    h.guestWrite('OFFLINE');
    const r = await runFakeVzdump(job(h, 'snapshot', [{ vmid: 100, name: 'unraid', running: false }]));
    expect(r.calls).toEqual(['job-init', 'job-start', 'backup-start stop 100', 'backup-end stop 100', 'log-end stop 100', 'job-end']);
    expect(copyText(h, 'vzdump-qemu-100-2026_12_04-18_01_00')).toBe('OFFLINE');
  });

  it('snapshot mode without reflinks: the guest is paused only for the copy, at pre-stop', async () => {
    const h = backupHost({ reflink: false });
    hosts.push(h);
    h.guestWrite('BEFORE');
    const j = job(h, 'snapshot', [{ vmid: 100, name: 'unraid', running: true }]);
    j.qemu.writeArchive = async (g, tmptar) => {
      h.guestWrite('DURING'); // the guest runs on while the archive is written
      h.files.write(tmptar, 'archive');
    };
    const r = await runFakeVzdump(j);
    expect(r.calls).toEqual([
      'job-init', 'job-start', 'backup-start snapshot 100', 'pre-stop snapshot 100', 'pre-restart snapshot 100',
      'post-restart snapshot 100', 'backup-end snapshot 100', 'log-end snapshot 100', 'job-end',
    ]);
    const base = 'vzdump-qemu-100-2026_12_04-18_01_00';
    expect(copyText(h, base)).toBe('BEFORE');
    expect(h.events).toEqual(['reflink', 'pause 100', 'resume 100']);
    const m = manifestOf(h, base);
    expect(m.method).toBe('pause');
    expect(m.pausedMs).toBeGreaterThan(0);
    expect(h.lines.join('\n')).toMatch(new RegExp(`method pause \\(guest paused for the copy\\), guest paused ${m.pausedMs} ms`));
  });

  it('snapshot mode with reflinks: no pause, the clone is removed', async () => {
    const h = backupHost({ reflink: true });
    hosts.push(h);
    h.guestWrite('CLONED');
    await runFakeVzdump(job(h, 'snapshot', [{ vmid: 100, name: 'unraid', running: true }]));
    const base = 'vzdump-qemu-100-2026_12_04-18_01_00';
    expect(manifestOf(h, base)).toMatchObject({ method: 'reflink', pausedMs: 0 });
    expect(copyText(h, base)).toBe('CLONED');
    expect(h.events).toEqual(['reflink']);
    expect(readdirSync(join(h.t.root, 'images'))).toEqual(['stick.img']);
  });

  it('a VM without [usb-gadget] notes gets nothing, and says nothing', async () => {
    const h = backupHost();
    hosts.push(h);
    h.setNotes('just a VM');
    const r = await runFakeVzdump(job(h, 'snapshot', [{ vmid: 100, name: 'plain', running: true }]));
    expect(r.tasks[0]?.state).toBe('ok');
    expect(dump(h).filter((n) => n.includes('usb-gadget'))).toEqual([]);
    expect(h.lines).toEqual([]);
  });
});
