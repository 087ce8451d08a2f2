// doctor's backup lines: hook installed or not, jobs that bypass it, a last backup without the stick.
import { afterEach, describe, expect, it } from 'vitest';
import { checkBackups, jobsWithOwnScript } from '../../src/backup/doctor-checks.js';
import { installHook } from '../../src/backup/install-hook.js';
import { vzdumpHook } from '../../src/backup/vzdump-hook.js';
import { backupHost, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

describe('doctor backup checks', () => {
  it('warns until the hook is installed, then says ok; warns for jobs with their own script', () => {
    const h = backupHost();
    hosts.push(h);
    expect(checkBackups(h.deps.fs, h.deps.settings)).toMatchObject([{ check: 'vzdump hook', status: 'warn', detail: 'not installed: backups hold no stick copy' }]);
    installHook(h.deps.fs, { cli: '/usr/local/sbin/pve-usb-gadget' });
    expect(checkBackups(h.deps.fs, h.deps.settings)).toMatchObject([{ status: 'ok' }]);
    h.t.put('/etc/pve/jobs.cfg', 'vzdump: backup-1\n\tschedule daily\n\tscript /root/job.sh\n\nvzdump: backup-2\n\tschedule weekly\n\nrealm-sync: x\n\tscript /nope\n');
    expect(jobsWithOwnScript(h.deps.fs.readText('/etc/pve/jobs.cfg'))).toEqual([{ id: 'backup-1', script: '/root/job.sh' }]);
    expect(checkBackups(h.deps.fs, h.deps.settings)[1]).toMatchObject({ status: 'warn', detail: expect.stringMatching(/backup job backup-1 runs its own script \/root\/job.sh/) });
  });

  it('says loudly which VM\'s last backup holds no stick, until a backup saves it', async () => {
    const h = backupHost();
    hosts.push(h);
    h.setNotes('[usb-gadget]\nimage = /images/missing.img\n');
    const env = { STOREID: 'b', DUMPDIR: '/dump', TARGET: '/dump/vzdump-qemu-100-2026_12_04-18_00_00.vma.zst', VMTYPE: 'qemu' };
    await vzdumpHook(h.deps, ['pre-stop', 'snapshot', '100'], env);
    await vzdumpHook(h.deps, ['backup-end', 'snapshot', '100'], env);
    const failed = checkBackups(h.deps.fs, h.deps.settings).filter((r) => r.check === 'stick copies');
    expect(failed).toMatchObject([{ status: 'warn', detail: expect.stringMatching(/^VM 100: THE STICK WAS NOT SAVED with backup vzdump-qemu-100-2026_12_04-18_00_00: image \/images\/missing.img does not exist/) }]);
    h.setNotes('[usb-gadget]\nimage = /images/stick.img\n');
    await vzdumpHook(h.deps, ['pre-stop', 'snapshot', '100'], env);
    await vzdumpHook(h.deps, ['backup-end', 'snapshot', '100'], env);
    expect(checkBackups(h.deps.fs, h.deps.settings).filter((r) => r.check === 'stick copies')).toEqual([]);
  });
});
