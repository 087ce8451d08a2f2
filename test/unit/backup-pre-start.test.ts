// The stop-mode copy inside the real preStart: taken only with `lock: backup` and a remembered copy,
// at the end of a start that built the gadget (the fake kernel of fake-kernel.ts), so a LUN on a
// Proxmox volume is read from the device pre-start activated; a start that fails copies nothing and
// a copy that fails does not fail the start.
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingStore } from '../../src/backup/pending.js';
import type { HookDeps, PreStartStep } from '../../src/hook/deps.js';
import { preStart } from '../../src/hook/pre-start.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore } from '../../src/state/record.js';
import { backupHost, NOTES, type BackupHost } from './backup-helpers.js';
import { fakeKernelFs } from './fake-kernel.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

const BASE = 'vzdump-qemu-100-2026_12_04-18_00_00';
const VOLUME_NOTES = `${NOTES}[usb-gadget.lun1]\nimage = local-lvm:vm-100-usb\n`;

/** The hook's deps on the backup host; `kernel`: a kernel that builds the gadget, else modprobe fails. */
function hookDeps(h: BackupHost, config: Record<string, string>, opts: { kernel?: boolean; notes?: string; steps?: PreStartStep[]; execs?: string[] } = {}): HookDeps {
  const base = opts.kernel ? fakeKernelFs(h.t) : h.deps.fs;
  // /dev/dm-3 stands for the LVM-thin volume: a file in the temp root that stat calls a block device
  const fs = { ...base, stat: (p: string) => (p === '/dev/dm-3' ? { ...base.stat(p), kind: 'block' as const } : base.stat(p)) };
  const settings = parseSettings(
    `[images]\nallowed_dirs = /images\nallowed_storages = local-lvm\n[paths]\nroot = ${h.t.root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`,
    'test',
    'pve',
  );
  return {
    fs,
    exec: async (file, args) => {
      opts.execs?.push(`${file} ${args.join(' ')}`);
      if (!opts.kernel) return { exitCode: 1, stdout: '', stderr: 'FATAL: Module not found' };
      // PVE::Storage's stand-in (storage/pve-lib.ts) for the volume; every other process succeeds
      if (args.at(-2) === 'activate') return { exitCode: 0, stdout: 'PVUG\ttype\tlvmthin\nPVUG\tformat\traw\nPVUG\tpath\t/dev/pve/vm-100-usb\n', stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    clock: h.deps.clock,
    log: h.deps.log,
    settings,
    lock: { acquire: async () => async () => undefined },
    state: new StateStore(fs, '/run'),
    vms: { read: async () => ({ description: opts.notes ?? NOTES, config, source: 'local' }) },
    checkpoint: (step) => void opts.steps?.push(step),
  };
}

function volumeOnHost(h: BackupHost): void {
  h.t.put('/etc/pve/storage.cfg', 'lvmthin: local-lvm\n\tvgname pve\n\tthinpool data\n\tcontent images\n');
  h.t.put('/dev/dm-3', 'ON-THE-VOLUME'.padEnd(1 << 16, '\0'));
  h.t.put('/sys/class/block/dm-3/size', `${(1 << 16) / 512}\n`);
  mkdirSync(join(h.t.root, 'dev/pve'));
  symlinkSync(join(h.t.root, 'dev/dm-3'), join(h.t.root, 'dev/pve/vm-100-usb'));
}

const awaiting = (h: BackupHost) => {
  const pending = new PendingStore(h.deps.fs, '/run');
  pending.write({ version: 1, vmid: 100, mode: 'stop', dumpDir: '/dump', base: BASE, state: 'awaiting' });
  return pending;
};

describe('preStart during a stop-mode backup', () => {
  it('copies the file and the activated volume once the gadget is live, after every checkpoint, and records it done', async () => {
    const h = backupHost();
    hosts.push(h);
    h.guestWrite('AT-BACKUP');
    volumeOnHost(h);
    const pending = awaiting(h);
    const steps: PreStartStep[] = [];
    const execs: string[] = [];
    await preStart(hookDeps(h, { lock: 'backup' }, { kernel: true, notes: VOLUME_NOTES, steps, execs }), 100);
    expect(steps).toEqual(['validated', 'cleaned', 'modules', 'recorded', 'quirk', 'configfs', 'bound', 'enumerated']);
    const raw = (n: number) => readFileSync(join(h.t.root, 'dump', `${BASE}.usb-gadget-lun${n}.raw`));
    expect(raw(0).subarray(0, 9).toString()).toBe('AT-BACKUP');
    expect(raw(1).subarray(0, 13).toString()).toBe('ON-THE-VOLUME');
    expect(pending.read(100)).toMatchObject({ state: 'done', method: 'offline', files: [`${BASE}.usb-gadget-lun0.raw`, `${BASE}.usb-gadget-lun1.raw`] });
    const manifest = JSON.parse(readFileSync(join(h.t.root, 'dump', `${BASE}.usb-gadget.json`), 'utf8')) as { luns: { image: string; source: string }[] };
    expect(manifest.luns[1]).toMatchObject({ image: 'local-lvm:vm-100-usb', source: '/dev/dm-3' });
    // the guest has not run: no qm, no cp
    expect(execs.filter((e) => /^(qm|cp) /.test(e))).toEqual([]);
    const log = h.lines.join('\n');
    expect(log.indexOf('host enumerated')).toBeLessThan(log.indexOf('vzdump backup in stop mode: copying the stick while QEMU waits'));
  });

  it('starts the VM when the copy fails, and records the failure for backup-end', async () => {
    const h = backupHost();
    hosts.push(h);
    const pending = awaiting(h);
    // a dump directory that is a file: nothing can be written there
    h.t.fs.rmdir('/dump');
    h.t.put('/dump', 'not a directory');
    await preStart(hookDeps(h, { lock: 'backup' }, { kernel: true }), 100);
    expect(pending.read(100)?.state).toBe('failed');
    expect(h.lines.join('\n')).toMatch(/THE STICK WAS NOT SAVED with this backup of VM 100/);
  });

  it('copies nothing when the start fails, or without lock: backup', async () => {
    const h = backupHost();
    hosts.push(h);
    const pending = awaiting(h);
    await expect(preStart(hookDeps(h, { lock: 'backup' }), 100)).rejects.toThrow(/modprobe/);
    expect(pending.read(100)?.state).toBe('awaiting');
    await preStart(hookDeps(h, {}, { kernel: true }), 100);
    expect(existsSync(join(h.t.root, 'dump', `${BASE}.usb-gadget.json`))).toBe(false);
    expect(pending.read(100)?.state).toBe('awaiting');
  });
});
