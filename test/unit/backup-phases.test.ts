// The pure part of the vzdump hook: argv, environment and the decision per phase and mode.
import { describe, expect, it } from 'vitest';
import { archiveNames, baseOfOurFile, lunFileName, manifestFileName, parseArchiveName } from '../../src/backup/names.js';
import { archiveTarget, decide, hookEnv, parseHookArgv } from '../../src/backup/phases.js';

const T = '/mnt/b/dump/vzdump-qemu-100-2026_12_04-18_00_00.vma.zst';
const ENV = hookEnv({ STOREID: 'b', DUMPDIR: '/mnt/b/dump', TARGET: T, VMTYPE: 'qemu', LOGFILE: '/mnt/b/dump/x.log' });
const guest = (phase: string, mode = 'snapshot') => {
  const c = parseHookArgv([phase, mode, '100']);
  if (c.kind === 'usage') throw new Error(c.message);
  return c;
};

describe('argv', () => {
  it('takes job and guest phases as vzdump sends them, and nothing else', () => {
    expect(parseHookArgv(['job-end'])).toEqual({ kind: 'job', phase: 'job-end' });
    expect(parseHookArgv(['pre-stop', 'stop', '100'])).toEqual({ kind: 'guest', phase: 'pre-stop', mode: 'stop', vmid: 100 });
    expect(parseHookArgv(['job-end', 'stop', '100']).kind).toBe('usage');
    expect(parseHookArgv(['pre-stop', 'halt', '100']).kind).toBe('usage');
    expect(parseHookArgv(['pre-stop', 'stop', '99']).kind).toBe('usage');
    expect(parseHookArgv(['pre-stop', 'stop', '100', 'x']).kind).toBe('usage');
    expect(parseHookArgv(['future-phase'])).toEqual({ kind: 'unknown', phase: 'future-phase' });
    expect(parseHookArgv(['$(reboot)']).kind).toBe('usage');
  });
});

describe('archive target', () => {
  it('is a standard archive of this VM directly in DUMPDIR, or a reason', () => {
    expect(archiveTarget(ENV, 100)).toEqual({ dumpDir: '/mnt/b/dump', target: T, base: 'vzdump-qemu-100-2026_12_04-18_00_00' });
    expect(archiveTarget(ENV, 101)).toMatchObject({ why: expect.stringMatching(/not a standard vzdump QEMU archive name of VM 101/) });
    expect(archiveTarget({ ...ENV, target: '-' }, 100)).toEqual({ why: 'the archive goes to stdout' });
    expect(archiveTarget({ storeId: 'pbs', target: 'vm/100/2026-12-04T18:00:00Z' }, 100)).toMatchObject({ why: expect.stringMatching(/PBS targets get no stick copy yet/) });
    expect(archiveTarget({ ...ENV, target: '/mnt/b/dump/../x/vzdump-qemu-100-2026_12_04-18_00_00.vma' }, 100)).toMatchObject({ why: 'TARGET is not inside DUMPDIR' });
    expect(archiveTarget({ ...ENV, dumpDir: '/mnt/b/dump/' }, 100)).toMatchObject({ dumpDir: '/mnt/b/dump' });
  });
});

describe('decide', () => {
  const yes = { hasGadget: true };
  it('stop mode: remember at backup-start, nothing at pre-stop, finish at backup-end', () => {
    expect(decide(guest('backup-start', 'stop'), ENV, yes)).toMatchObject({ kind: 'remember', base: 'vzdump-qemu-100-2026_12_04-18_00_00' });
    expect(decide(guest('pre-stop', 'stop'), ENV, yes)).toEqual({ kind: 'nothing' });
    expect(decide(guest('backup-end', 'stop'), ENV, yes)).toMatchObject({ kind: 'finish' });
  });
  it('snapshot and suspend mode: copy at pre-stop', () => {
    expect(decide(guest('backup-start'), ENV, yes)).toEqual({ kind: 'nothing' });
    expect(decide(guest('pre-stop'), ENV, yes)).toMatchObject({ kind: 'copy-live', target: T });
    expect(decide(guest('pre-stop', 'suspend'), ENV, yes)).toMatchObject({ kind: 'copy-live' });
    for (const p of ['pre-restart', 'post-restart', 'log-end']) expect(decide(guest(p), ENV, yes)).toEqual({ kind: 'nothing' });
  });
  it('abort, prune, and VMs without a stick', () => {
    expect(decide(guest('backup-abort'), ENV, yes)).toEqual({ kind: 'abandon', dumpDir: '/mnt/b/dump', base: 'vzdump-qemu-100-2026_12_04-18_00_00' });
    expect(decide({ kind: 'job', phase: 'job-end' }, ENV, { hasGadget: false })).toEqual({ kind: 'prune', dumpDir: '/mnt/b/dump' });
    expect(decide({ kind: 'job', phase: 'job-end' }, { storeId: 'pbs' }, { hasGadget: false })).toEqual({ kind: 'nothing' });
    expect(decide(guest('pre-stop'), ENV, { hasGadget: false })).toEqual({ kind: 'nothing' });
    expect(decide(guest('backup-start'), { ...ENV, target: 'vm/100/x', dumpDir: undefined }, yes)).toMatchObject({ kind: 'no-copy' });
    expect(decide(guest('pre-stop'), { ...ENV, vmType: 'lxc' }, yes)).toMatchObject({ kind: 'nothing' });
  });
});

describe('names', () => {
  it('tells our files from Proxmox files by name alone', () => {
    const base = 'vzdump-qemu-100-2026_12_04-18_00_00';
    expect(parseArchiveName(`${base}.vma.zst`)).toEqual({ base, vmid: 100, time: '2026_12_04-18_00_00' });
    expect(parseArchiveName(`${base}.tar.zst`)).toBeUndefined();
    expect(baseOfOurFile(lunFileName(base, 15))).toBe(base);
    expect(baseOfOurFile(manifestFileName(base))).toBe(base);
    expect(baseOfOurFile(`${lunFileName(base, 0)}.part-123`)).toBe(base);
    for (const n of [...archiveNames(base), `${base}.log`, `${base}.vma.zst.notes`, `${base}.usb-gadget-lun16.raw`, `x${manifestFileName(base)}`]) {
      expect(baseOfOurFile(n)).toBeUndefined();
    }
  });
});
