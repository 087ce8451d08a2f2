// The vzdump hook's edges, through the vzdump stand-in: an admin's chained script (its output, its
// failures), PBS targets, a failed copy with and without [backup] fail_on_copy_error, aborts, prune.
import { chmodSync, existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { vzdumpHook } from '../../src/backup/vzdump-hook.js';
import { runFakeVzdump, type FakeGuest, type FakeVzdumpJob, type Mode } from '../fake-pve/vzdump.js';
import { backupHost, fakeJob, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

function host(opts: Parameters<typeof backupHost>[0] = {}): BackupHost {
  const h = backupHost(opts);
  hosts.push(h);
  return h;
}

const job = (h: BackupHost, mode: Mode, guests: FakeGuest[], extra: Partial<FakeVzdumpJob> = {}) => fakeJob(h, mode, guests, {}, extra);

const ours = (h: BackupHost) => readdirSync(join(h.t.root, 'dump')).filter((n) => n.includes('.usb-gadget')).sort();
const running = (): FakeGuest[] => [{ vmid: 100, name: 'unraid', running: true }];

/** An admin's hook: logs its argv and env to /var/log/admin-hook.log, fails in FAIL_PHASE. */
function adminScript(h: BackupHost, failPhase: string, exitCode = 3): string {
  h.t.put('/var/log/.keep', '');
  const log = join(h.t.root, 'var/log/admin-hook.log');
  h.t.put('/usr/local/bin/admin-hook', `#!/bin/sh\necho "$* STOREID=$STOREID TARGET=$TARGET" >> ${log}\necho "admin hook says $1"\n[ "$1" = "${failPhase}" ] && exit ${exitCode}\nexit 0\n`);
  chmodSync(join(h.t.root, 'usr/local/bin/admin-hook'), 0o755);
  h.t.put('/etc/pve-usb-gadget/vzdump-chain', '/usr/local/bin/admin-hook\n');
  chmodSync(join(h.t.root, 'etc/pve-usb-gadget/vzdump-chain'), 0o644);
  return log;
}

describe('chaining the admin script', () => {
  it('runs it first in every phase with the same argv and environment; both do their work', async () => {
    const h = host({ reflink: true });
    const log = adminScript(h, 'never');
    const r = await runFakeVzdump(job(h, 'snapshot', running()));
    expect(r.tasks[0]?.state).toBe('ok');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(' STOREID')[0])).toEqual(r.calls);
    expect(lines[2]).toBe('backup-start snapshot 100 STOREID=backups TARGET=/dump/vzdump-qemu-100-2026_12_04-18_01_00.vma.zst');
    expect(lines[0]).toBe('job-init STOREID=backups TARGET=');
    expect(ours(h)).toHaveLength(2);
  });

  it('its failure fails that phase as vzdump would, ours is skipped, the abort still cleans up', async () => {
    const h = host({ reflink: true });
    adminScript(h, 'pre-stop', 7);
    const codes: number[] = [];
    const j = job(h, 'snapshot', running());
    const inner = j.script;
    j.script = async (argv, env) => {
      const c = await inner(argv, env);
      if (argv[0] === 'pre-stop') codes.push(c);
      return c;
    };
    const r = await runFakeVzdump(j);
    expect(codes).toEqual([7]);
    expect(r.tasks[0]).toMatchObject({ state: 'err', msg: "command 'pre-stop snapshot 100' failed: exit code 7" });
    expect(r.calls).toContain('backup-abort snapshot 100');
    expect(h.events).toEqual([]); // no reflink, no pause: our pre-stop did not run
    expect(ours(h)).toEqual([]);
    expect(h.lines.join('\n')).toMatch(/chained vzdump hook \/usr\/local\/bin\/admin-hook failed \(exit 7\) in pre-stop/);
  });

  it('a chained script that is gone fails the phase with vzdump\'s own message', async () => {
    const h = host();
    h.t.put('/etc/pve-usb-gadget/vzdump-chain', '/usr/local/bin/gone\n');
    chmodSync(join(h.t.root, 'etc/pve-usb-gadget/vzdump-chain'), 0o644);
    const r = await runFakeVzdump(job(h, 'snapshot', running()));
    expect(r.jobError).toBe("command 'job-init' failed: exit code 1");
    expect(h.lines).toContain("Error: The hook script '/usr/local/bin/gone' does not exist.");
  });

  it('a chain file others may write is not trusted: nothing is run', async () => {
    const h = host();
    const log = adminScript(h, 'never');
    chmodSync(join(h.t.root, 'etc/pve-usb-gadget/vzdump-chain'), 0o666);
    const code = await vzdumpHook(h.deps, ['job-start'], {});
    expect(code).toBe(1);
    expect(existsSync(log)).toBe(false);
    expect(h.lines.join('\n')).toMatch(/not a root-owned file writable only by root.*chmod 0644/);
  });
});

describe('targets, failures and prune', () => {
  it('a PBS target gets no copy, the backup succeeds, the log says so', async () => {
    const h = host();
    const code = await vzdumpHook(h.deps, ['backup-start', 'snapshot', '100'], { STOREID: 'pbs', TARGET: 'vm/100/2026-12-04T18:00:00Z', VMTYPE: 'qemu' });
    expect(code).toBe(0);
    expect(h.lines.join('\n')).toMatch(/no copy of the USB stick in this backup: .*PBS targets get no stick copy yet/);
    expect(await vzdumpHook(h.deps, ['pre-stop', 'snapshot', '100'], { STOREID: 'pbs', TARGET: 'vm/100/2026-12-04T18:00:00Z' })).toBe(0);
    expect(h.events).toEqual([]);
  });

  it('a failed copy: the backup succeeds by default and the log says loudly the stick was not saved', async () => {
    const h = host();
    h.setNotes('[usb-gadget]\nimage = /images/missing.img\n');
    const r = await runFakeVzdump(job(h, 'snapshot', running()));
    expect(r.tasks[0]?.state).toBe('ok');
    expect(h.lines.filter((l) => /NOT SAVED|NOT IN THIS BACKUP/.test(l))).toHaveLength(2);
    expect(h.lines.join('\n')).toMatch(/image \/images\/missing.img does not exist/);
    expect(ours(h)).toEqual([]);
  });

  it('a failed copy fails that VM\'s backup with [backup] fail_on_copy_error = true, and leaves nothing', async () => {
    const h = host({ settingsExtra: '[backup]\nfail_on_copy_error = true\n' });
    h.t.put('/etc/shadow', 'root:secret'.repeat(100));
    h.setNotes('[usb-gadget]\nimage = /etc/shadow\n');
    const r = await runFakeVzdump(job(h, 'snapshot', running()));
    expect(r.tasks[0]).toMatchObject({ state: 'err', msg: "command 'pre-stop snapshot 100' failed: exit code 1" });
    expect(h.lines.join('\n')).toMatch(/refused: not inside an allowed directory/);
    expect(ours(h)).toEqual([]);
  });

  it('a copy that cannot be written leaves no part file behind', async () => {
    const h = host();
    // a directory where the LUN file goes: the rename fails after the copy was made
    h.t.put('/dump/vzdump-qemu-100-2026_12_04-18_01_00.usb-gadget-lun0.raw/x', '');
    const r = await runFakeVzdump(job(h, 'snapshot', running()));
    expect(r.tasks[0]?.state).toBe('ok');
    expect(ours(h)).toEqual(['vzdump-qemu-100-2026_12_04-18_01_00.usb-gadget-lun0.raw']);
    expect(h.lines.join('\n')).toMatch(/THE STICK WAS NOT SAVED/);
  });

  it('prune at job end removes our files whose archive vzdump pruned, only ours, never through symlinks', async () => {
    const h = host({ reflink: true });
    h.t.put('/dump/unrelated.usb-gadget.json', 'x');
    h.t.put('/elsewhere/keep.raw', 'keep');
    symlinkSync(join(h.t.root, 'elsewhere/keep.raw'), join(h.t.root, 'dump/vzdump-qemu-100-2020_01_01-00_00_00.usb-gadget-lun0.raw'));
    // an archive still being written by another job: its copy stays
    h.t.put('/dump/vzdump-qemu-101-2026_12_04-17_00_00.vma.dat', '');
    h.t.put('/dump/vzdump-qemu-101-2026_12_04-17_00_00.usb-gadget.json', '{}');
    for (let i = 0; i < 3; i++) await runFakeVzdump(job(h, 'snapshot', running(), { keepLast: 2, now: () => new Date(2026, 11, 4, 18, i, 0) }));
    expect(ours(h)).toEqual([
      'unrelated.usb-gadget.json',
      'vzdump-qemu-100-2020_01_01-00_00_00.usb-gadget-lun0.raw',
      'vzdump-qemu-100-2026_12_04-18_01_00.usb-gadget-lun0.raw',
      'vzdump-qemu-100-2026_12_04-18_01_00.usb-gadget.json',
      'vzdump-qemu-100-2026_12_04-18_02_00.usb-gadget-lun0.raw',
      'vzdump-qemu-100-2026_12_04-18_02_00.usb-gadget.json',
      'vzdump-qemu-101-2026_12_04-17_00_00.usb-gadget.json',
    ]);
    expect(readFileSync(join(h.t.root, 'elsewhere/keep.raw'), 'utf8')).toBe('keep');
    expect(h.lines.join('\n')).toMatch(/removed stick copies whose archive is gone: vzdump-qemu-100-2026_12_04-18_00_00.usb-gadget-lun0.raw, vzdump-qemu-100-2026_12_04-18_00_00.usb-gadget.json/);
  });

  it('an aborted backup removes what we had written for it', async () => {
    const h = host({ reflink: true });
    const j = job(h, 'snapshot', running());
    j.qemu.writeArchive = async () => {
      throw new Error('backup job failed');
    };
    const r = await runFakeVzdump(j);
    expect(r.tasks[0]?.state).toBe('err');
    expect(ours(h)).toEqual([]);
    expect(h.lines.join('\n')).toMatch(/backup aborted: removed the stick copy/);
  });
});

describe('containers', () => {
  it('are left alone, without reading a VM config, even with fail_on_copy_error', async () => {
    const h = host({ settingsExtra: '[backup]\nfail_on_copy_error = true\n' });
    h.deps.vms = { read: async () => { throw new Error('no such VM config'); } };
    const env = { STOREID: 'b', DUMPDIR: '/dump', TARGET: '/dump/vzdump-lxc-200-2026_12_04-18_00_00.tar.zst', VMTYPE: 'lxc' };
    for (const phase of ['backup-start', 'pre-stop', 'backup-end']) expect(await vzdumpHook(h.deps, [phase, 'snapshot', '200'], env)).toBe(0);
    expect(h.lines).toEqual([]);
  });
});

describe('argv', () => {
  it('refuses what vzdump never sends', async () => {
    const h = host();
    expect(await vzdumpHook(h.deps, ['pre-stop', 'stop', '../1'], {})).toBe(2);
    expect(await vzdumpHook(h.deps, [], {})).toBe(2);
    expect(await vzdumpHook(h.deps, ['some-new-phase'], {})).toBe(0);
    writeFileSync(join(h.t.root, 'run/x'), '');
    expect(h.lines.join('\n')).toMatch(/VMID must be 100..999999999/);
  });
});
