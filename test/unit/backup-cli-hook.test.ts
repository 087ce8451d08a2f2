// The CLI entry vzdump runs (runVzdumpHook), with the real settings loader and the VM's config file in
// a temp root: a stop-mode backup-start remembers the copy; unreadable settings still run the
// admin's chained script and never fail the backup.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PendingStore } from '../../src/backup/pending.js';
import { runVzdumpHook } from '../../src/cli/backup.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.remove();
  vi.restoreAllMocks();
});

describe('pve-usb-gadget vzdump-hook', () => {
  it('reads settings and the VM config file, and remembers the stop-mode copy', async () => {
    const t = tmpRoot('pvug-clihook-');
    roots.push(t);
    mkdirSync(join(t.root, 'images'));
    writeFileSync(join(t.root, 'images/stick.img'), Buffer.alloc(1 << 20));
    t.put('/qemu-server/100.conf', `#[usb-gadget]\n#image = /images/stick.img\nname: unraid\nsmbios1: uuid=5a1b2c3d-0000-4000-8000-000000000001\n`);
    t.put('/settings.ini', `[images]\nallowed_dirs = /images\n[paths]\nroot = ${t.root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`);
    chmodSync(join(t.root, 'settings.ini'), 0o644);
    // the admin's script records the environment it got: exactly what vzdump gave, no PATH added
    t.put('/root/mine.sh', `#!/bin/sh\n/usr/bin/env > ${join(t.root, 'env.txt')}\n`);
    chmodSync(join(t.root, 'root/mine.sh'), 0o755);
    t.put('/etc/pve-usb-gadget/vzdump-chain', '/root/mine.sh\n');
    chmodSync(join(t.root, 'etc/pve-usb-gadget/vzdump-chain'), 0o644);
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const code = await runVzdumpHook(['backup-start', 'stop', '100'], {
      PVE_USB_GADGET_SETTINGS: join(t.root, 'settings.ini'),
      STOREID: 'local',
      DUMPDIR: '/dump',
      TARGET: '/dump/vzdump-qemu-100-2026_12_04-18_00_00.vma.zst',
      VMTYPE: 'qemu',
    });
    expect(code).toBe(0);
    // (PWD is set by /bin/sh itself)
    expect(readFileSync(join(t.root, 'env.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('PWD=')).sort()).toEqual([
      'DUMPDIR=/dump',
      `PVE_USB_GADGET_SETTINGS=${join(t.root, 'settings.ini')}`,
      'STOREID=local',
      'TARGET=/dump/vzdump-qemu-100-2026_12_04-18_00_00.vma.zst',
      'VMTYPE=qemu',
    ]);
    expect(new PendingStore(t.fs, '/run').read(100)).toMatchObject({ state: 'awaiting', mode: 'stop', base: 'vzdump-qemu-100-2026_12_04-18_00_00', dumpDir: '/dump' });
  });

  it('says the stick is not saved and exits 0 when the settings are broken', async () => {
    const t = tmpRoot('pvug-clihook-');
    roots.push(t);
    t.put('/settings.ini', '[nonsense]\n');
    chmodSync(join(t.root, 'settings.ini'), 0o644);
    const err: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    expect(await runVzdumpHook(['job-start'], { PVE_USB_GADGET_SETTINGS: join(t.root, 'settings.ini') })).toBe(0);
    expect(err.join('')).toMatch(/the host settings cannot be read, no stick is saved: invalid settings file/);
    expect(readFileSync(join(t.root, 'settings.ini'), 'utf8')).toBe('[nonsense]\n');
  });
});
