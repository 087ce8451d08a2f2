// status with live LUNs: each LUN's state from configfs, differences from record and notes, an unfinished change.
import { afterEach, describe, expect, it } from 'vitest';
import { collectStatus, formatStatus } from '../../src/cli/status.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { putLuns } from './fake-lun.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => roots.splice(0).forEach((r) => r.remove()));

describe('status shows live LUNs', () => {
  it('medium, mode and how it differs, in the table and the JSON', () => {
    const t = tmpRoot('pvug-status-media-');
    roots.push(t);
    putLuns(t, 100, [{ file: '/images/disk.img' }, { file: '', cdrom: true }]);
    const state = new StateStore(t.fs, '/run/pvug');
    const record = {
      version: 1, vmid: 100, phase: 'live', node: 'pve', gadgetDir: '', udc: 'dummy_udc.0', usbId: '1d6b:8064', serial: 'S', speed: 'high', createdAt: '', pid: 1,
      luns: [{ index: 0, image: '/images/disk.img', readonly: false, cdrom: false }, { index: 1, image: '/images/a.iso', readonly: true, cdrom: true }],
      media: { lun: 1, action: 'insert', image: '/images/b.iso', done: 1, steps: 2, pid: 4242, startedAt: '' },
    } as GadgetRecord;
    state.write(record);
    const [s] = collectStatus(t.fs, state);
    expect(s?.media.map((l) => [l.index, l.medium, l.file, l.cdrom, l.removable])).toEqual([[0, true, '/images/disk.img', false, true], [1, false, '', true, true]]);
    expect(s?.media[0]?.differs).toEqual([]);
    expect(s?.media[1]?.differs[0]).toMatch(/no medium, the record says \/images\/a.iso/);
    const lines = formatStatus([s!]);
    expect(lines).toContain('  lun0: /images/disk.img (disk, read-write, removable)');
    expect(lines.join('\n')).toMatch(/lun1: no medium \(cdrom, read-only, removable\); differs: no medium/);
    expect(lines.join('\n')).toMatch(/unfinished media change of lun1 \(pid 4242, 1\/2 writes\)/);
  });
});
