// The snapshot name by Proxmox's rule, the qm argv the snapshot commands run, `qm status` parsing, and
// the config file's snapshot sections as qemu-server's parse_vm_config tells them apart.
import { describe, expect, it } from 'vitest';
import { parseQmStatus, qmDelsnapshotArgs, qmRollbackArgs, qmSnapshotArgs } from '../../src/cli/qm.js';
import { snapshotNameArg } from '../../src/cli/snapshot.js';
import { parseLocalVmConfig, parseSnapshotSections } from '../../src/proxmox/local-config.js';
import { parseSnapshotName } from '../../src/values/snapshot-name.js';

describe('snapshot name (pve-snapshot-name)', () => {
  it('takes what pve-configid takes, up to 40 characters', () => {
    for (const ok of ['ab', 'before-upgrade', 'Before_Upgrade2', 'a'.repeat(40), 'Current', 'x-', 'a_']) expect(parseSnapshotName(ok)).toEqual({ ok: true, value: ok });
  });

  it('refuses the rest, saying what is allowed', () => {
    for (const bad of ['', 'a', '1abc', '-ab', '_ab', 'a.b', 'a b', 'a/b', 'a:b', 'ä-b', 'a'.repeat(41), 'ab\n', '..']) {
      const r = parseSnapshotName(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/2 to 40 characters: a letter first, then letters, digits, "-" or "_"/);
    }
  });

  it("refuses 'current' (exact) and 'pending' (any case), as qemu-server's snapshot API does", () => {
    expect(parseSnapshotName('current')).toEqual({ ok: false, message: expect.stringMatching(/'current' is reserved/) });
    for (const p of ['pending', 'PENDING', 'Pending']) expect(parseSnapshotName(p)).toEqual({ ok: false, message: expect.stringMatching(/'pending' is reserved/) });
  });

  it('is a usage error on the command line', () => {
    expect(() => snapshotNameArg('a.b')).toThrow(/not a snapshot name: 'a.b': must be 2 to 40 characters/);
    expect(snapshotNameArg('before')).toBe('before');
  });
});

describe('qm argv', () => {
  it('snapshot, rollback, delsnapshot', () => {
    expect(qmSnapshotArgs(100, 'before')).toEqual(['snapshot', '100', 'before']);
    expect(qmSnapshotArgs(100, 'before', { description: 'pre upgrade', vmstate: true })).toEqual(['snapshot', '100', 'before', '--description', 'pre upgrade', '--vmstate', '1']);
    expect(qmRollbackArgs(100, 'before')).toEqual(['rollback', '100', 'before']);
    expect(qmDelsnapshotArgs(100, 'before')).toEqual(['delsnapshot', '100', 'before']);
    expect(qmDelsnapshotArgs(100, 'before', { force: true })).toEqual(['delsnapshot', '100', 'before', '--force', '1']);
  });

  it('refuses values qm could misread and names Proxmox would refuse', () => {
    expect(() => qmSnapshotArgs(100, 'before', { description: '--vmstate' })).toThrow(/refusing qm --description value/);
    expect(() => qmSnapshotArgs(100, 'before', { description: 'a\nb' })).toThrow(/refusing qm --description value/);
    expect(() => qmSnapshotArgs(100, '--force')).toThrow(/refusing snapshot name/);
    expect(() => qmRollbackArgs(100, 'current')).toThrow(/refusing snapshot name/);
  });

  it('qm status --verbose', () => {
    expect(parseQmStatus('status: stopped\nname: x\n')).toEqual({ running: false });
    expect(parseQmStatus('cpus: 2\nqmpstatus: paused\nstatus: running\n')).toEqual({ running: true, qmpStatus: 'paused' });
    expect(() => parseQmStatus('garbage')).toThrow(/printed no status line/);
  });
});

describe('snapshot sections of the config file', () => {
  const CONF = [
    '#notes [before]',
    'memory: 2048',
    'parent: later',
    '',
    '[PENDING]',
    'memory: 4096',
    '',
    '[special:cloudinit]',
    'ipconfig0: ip=dhcp',
    '',
    '[before]',
    '#a comment',
    'memory: 1024',
    'snaptime: 1765000000',
    '',
    '[later]',
    'parent: before',
    'snapstate: prepare',
    'vmstate: local:100/vm-100-state-later.raw',
    '',
    '[not a name]',
    'memory: 1',
    '[x]',
    'memory: 2',
    '',
  ].join('\n');

  it('reads each snapshot section, not [PENDING], [special:...] or a header that is no snapshot name', () => {
    const s = parseSnapshotSections(CONF);
    expect([...s.keys()]).toEqual(['before', 'later']);
    expect(s.get('before')).toEqual({ memory: '1024', snaptime: '1765000000' });
    expect(s.get('later')).toEqual({ parent: 'before', snapstate: 'prepare', vmstate: 'local:100/vm-100-state-later.raw' });
    expect(parseLocalVmConfig(CONF).options).toEqual({ memory: '2048', parent: 'later' });
  });

  it('a second section of one name replaces the first, as qemu-server does', () => {
    expect(parseSnapshotSections('[ab]\nmemory: 1\n[ab]\ncores: 2\n').get('ab')).toEqual({ cores: '2' });
  });
});
