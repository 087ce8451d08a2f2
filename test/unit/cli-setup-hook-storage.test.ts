// `pve-usb-gadget setup hook-storage`: the storage for the hook script, read with the one storage.cfg
// parser; `snippets` enabled through pvesm only when missing, recorded, and taken off again by --undo
// only where install.sh added it and the folder holds nothing else.
import { afterEach, describe, expect, it } from 'vitest';
import { SetupError } from '../../src/errors.js';
import { enableHookStorage, planHookStorage, undoHookStorage } from '../../src/cli/setup-hook-storage.js';
import { CLUSTER_STATE } from '../../src/cli/setup-records.js';
import { parseStorageConfig } from '../../src/storage/storage-config.js';
import { fakePvesm, recordingReport, setupDeps } from './setup-fakes.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const CFG = 'dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\nlvmthin: local-lvm\n\tthinpool data\n\tvgname pve\n\tcontent rootdir,images\n\n' +
  'nfs: nas\n\texport /x\n\tserver 10.0.0.9\n\tcontent snippets,iso\n\tcontent-dirs snippets=hooks\n\ndir: bare\n\tpath /srv/bare/\n\n' +
  'dir: elsewhere\n\tpath /srv/e\n\tnodes pve2,pve3\n\ndir: off\n\tpath /srv/off\n\tdisable\n';

let t: TmpRoot | undefined;
afterEach(() => t?.remove());

function node(cfg = CFG): TmpRoot {
  t = tmpRoot('pvug-setup-storage-');
  t.put('/etc/pve/storage.cfg', cfg);
  return t;
}

describe('planHookStorage', () => {
  const storages = parseStorageConfig(CFG);
  it('adds snippets to the content list as written, only when missing, and names the folder', () => {
    expect(planHookStorage(storages, 'local', 'pve1')).toEqual({ snippetsDir: '/var/lib/vz/snippets', addSnippets: 'iso,vztmpl,backup,snippets' });
    expect(planHookStorage(storages, 'nas', 'pve1')).toEqual({ snippetsDir: '/mnt/pve/nas/hooks' });
    expect(planHookStorage(storages, 'bare', 'pve1')).toEqual({ snippetsDir: '/srv/bare/snippets', addSnippets: 'snippets' });
  });
  it('refuses a storage that is not there or keeps no files, naming storage.cfg', () => {
    expect(() => planHookStorage(storages, 'nope', 'pve1')).toThrow(SetupError);
    expect(() => planHookStorage(storages, 'nope', 'pve1')).toThrow(expect.objectContaining({ path: '/etc/pve/storage.cfg', key: 'storage' }));
    expect(() => planHookStorage(storages, 'nope', 'pve1')).toThrow(/storage 'nope' not found \(--storage\)/);
    expect(() => planHookStorage(storages, 'local-lvm', 'pve1')).toThrow(/type lvmthin\) keeps no files/);
    expect(() => planHookStorage(storages, 'elsewhere', 'pve1')).toThrow("storage 'elsewhere' is disabled or not available on node pve1");
    expect(planHookStorage(storages, 'elsewhere', 'pve2').snippetsDir).toBe('/srv/e/snippets');
    expect(() => planHookStorage(storages, 'off', 'pve1')).toThrow(/is disabled or not available/);
  });
});

describe('setup hook-storage', () => {
  it('enables snippets once through pvesm, records it, and prints the folder every time', async () => {
    const r = node();
    const calls: string[] = [];
    const first = recordingReport();
    await enableHookStorage(setupDeps(r, fakePvesm(r, calls), first), 'local');
    expect(calls).toEqual(['pvesm set local --content iso,vztmpl,backup,snippets']);
    expect(first.lines).toEqual(['changed: enabled the snippets content type on storage local', 'snippets-dir: /var/lib/vz/snippets']);
    expect(r.fs.readText(CLUSTER_STATE)).toBe('snippets:local\n');
    const again = recordingReport();
    await enableHookStorage(setupDeps(r, fakePvesm(r, calls), again), 'local');
    expect(calls).toHaveLength(1);
    expect(again.lines).toEqual(['snippets-dir: /var/lib/vz/snippets']);
    expect(r.fs.readText(CLUSTER_STATE)).toBe('snippets:local\n');
  });

  it('records nothing when pvesm fails, and says what pvesm said', async () => {
    const r = node();
    await expect(enableHookStorage(setupDeps(r, fakePvesm(r, [], true), recordingReport()), 'local')).rejects.toThrow(/pvesm set local --content iso,vztmpl,backup,snippets failed \(exit 255\): storage 'local' is locked/);
    expect(r.fs.exists(CLUSTER_STATE)).toBe(false);
  });

  it('--undo gives storage.cfg back as it was and leaves storages install.sh did not change', async () => {
    const r = node();
    await enableHookStorage(setupDeps(r, fakePvesm(r, []), recordingReport()), 'local');
    r.fs.mkdir('/var/lib/vz/snippets', { recursive: true }); // install.sh makes it for the hook, which is gone again
    const calls: string[] = [];
    const report = recordingReport();
    await undoHookStorage(setupDeps(r, fakePvesm(r, calls), report));
    expect(calls).toEqual(['pvesm set local --content iso,vztmpl,backup']);
    expect(report.lines).toEqual(['changed: disabled the snippets content type on local again']);
    expect(r.fs.readText('/etc/pve/storage.cfg')).toBe(CFG);
    expect(r.fs.exists('/var/lib/vz/snippets')).toBe(false);
    expect(r.fs.readText(CLUSTER_STATE)).toBe('');
  });

  it('--undo keeps snippets while the folder holds other files, and forgets a storage that is gone', async () => {
    const r = node();
    r.put(CLUSTER_STATE, 'role\nsnippets:local\nsnippets:gone\n');
    r.put('/var/lib/vz/snippets/admin-hook.pl', '#!/usr/bin/perl\n');
    const calls: string[] = [];
    const report = recordingReport();
    await undoHookStorage(setupDeps(r, fakePvesm(r, calls), report));
    expect(calls).toEqual([]);
    expect(report.lines).toEqual([
      'ok: kept the snippets content type on local: /var/lib/vz/snippets holds other files',
      'ok: storage gone is no longer in /etc/pve/storage.cfg: no snippets content type to take away',
    ]);
    expect(r.fs.readText(CLUSTER_STATE)).toBe('role\nsnippets:local\n');
  });

  it('--undo warns when pvesm fails and keeps the record', async () => {
    const r = node();
    r.put(CLUSTER_STATE, 'snippets:local\n');
    const report = recordingReport();
    await undoHookStorage(setupDeps(r, fakePvesm(r, [], true), report));
    expect(report.lines).toEqual([expect.stringMatching(/^WARNING: pvesm set local --content iso,vztmpl,backup failed: storage 'local' is locked/)]);
    expect(r.fs.readText(CLUSTER_STATE)).toBe('snippets:local\n');
  });
});
