// The stop-mode copy inside the real preStart: taken only with `lock: backup` and a remembered copy,
// before anything is built (here the build then fails at modprobe, as in hook-pre-start.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingStore } from '../../src/backup/pending.js';
import type { HookDeps } from '../../src/hook/deps.js';
import { preStart } from '../../src/hook/pre-start.js';
import { StateStore } from '../../src/state/record.js';
import { backupHost, NOTES, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

const BASE = 'vzdump-qemu-100-2026_12_04-18_00_00';

function hookDeps(h: BackupHost, config: Record<string, string>, execs: string[]): HookDeps {
  return {
    fs: h.deps.fs,
    exec: async (file, args) => {
      execs.push(`${file} ${args.join(' ')}`);
      return { exitCode: 1, stdout: '', stderr: 'FATAL: Module not found' };
    },
    clock: h.deps.clock,
    log: h.deps.log,
    settings: h.deps.settings,
    lock: { acquire: async () => async () => undefined },
    state: new StateStore(h.deps.fs, '/run'),
    vms: { read: async () => ({ description: NOTES, config, source: 'local' }) },
    checkpoint: () => undefined,
  };
}

describe('preStart during a stop-mode backup', () => {
  it('copies the stick when the config says lock: backup and a copy is awaited, and records it done', async () => {
    const h = backupHost();
    hosts.push(h);
    h.guestWrite('AT-BACKUP');
    const pending = new PendingStore(h.deps.fs, '/run');
    pending.write({ version: 1, vmid: 100, mode: 'stop', dumpDir: '/dump', base: BASE, state: 'awaiting' });
    const execs: string[] = [];
    await expect(preStart(hookDeps(h, { lock: 'backup' }, execs), 100)).rejects.toThrow(/modprobe/);
    const raw = join(h.t.root, 'dump', `${BASE}.usb-gadget-lun0.raw`);
    expect(readFileSync(raw).subarray(0, 9).toString()).toBe('AT-BACKUP');
    expect(pending.read(100)).toMatchObject({ state: 'done', method: 'offline', files: [`${BASE}.usb-gadget-lun0.raw`] });
    // no qm, no cp: the guest is not running, nothing to pause or clone
    expect(execs.every((e) => e.startsWith('modprobe'))).toBe(true);
  });

  it('copies nothing without lock: backup, even with a remembered copy', async () => {
    const h = backupHost();
    hosts.push(h);
    const pending = new PendingStore(h.deps.fs, '/run');
    pending.write({ version: 1, vmid: 100, mode: 'stop', dumpDir: '/dump', base: BASE, state: 'awaiting' });
    await expect(preStart(hookDeps(h, {}, []), 100)).rejects.toThrow(/modprobe/);
    expect(existsSync(join(h.t.root, 'dump', `${BASE}.usb-gadget.json`))).toBe(false);
    expect(pending.read(100)?.state).toBe('awaiting');
  });
});
