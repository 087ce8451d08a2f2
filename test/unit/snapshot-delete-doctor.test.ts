// `delsnapshot` (qm first, then our folder; orphans alone) and doctor's snapshot lines.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteSnapshot } from '../../src/snapshot/delete.js';
import { checkSnapshots } from '../../src/snapshot/doctor-check.js';
import { snapshotVm } from '../../src/snapshot/take.js';
import { refused, snapshotHost, type SnapshotHost } from './snapshot-helpers.js';

const hosts: SnapshotHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});
const FOLDER = '/images/.pve-usb-gadget-snapshots/100/before';

async function snapshotted(names = ['before']): Promise<SnapshotHost> {
  const h = snapshotHost();
  hosts.push(h);
  for (const name of names) await snapshotVm(h.deps, { vmid: 100, name });
  h.qm.calls.length = 0;
  h.out.length = 0;
  return h;
}

describe('delsnapshot', () => {
  it('runs qm delsnapshot, then removes the stick snapshot and the folders it leaves empty', async () => {
    const h = await snapshotted();
    const r = await deleteSnapshot(h.deps, 100, 'before');
    expect(r).toMatchObject({ qm: true, removed: [FOLDER], left: [] });
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm delsnapshot 100 before']);
    expect(h.tree()).toEqual(['stick.img']);
    expect(h.config()).not.toMatch(/\[before\]/);
    expect(h.out).toEqual(['VM 100: VM snapshot before deleted (qm delsnapshot)', `VM 100: stick snapshot before removed: ${FOLDER}`]);
  });

  it('passes --force on as qm delsnapshot --force 1 and keeps the other snapshots', async () => {
    const h = await snapshotted(['before', 'later']);
    await deleteSnapshot(h.deps, 100, 'before', { force: true });
    expect(h.qm.calls).toContain('qm delsnapshot 100 before --force 1');
    expect(h.tree()).toEqual(['.pve-usb-gadget-snapshots', '.pve-usb-gadget-snapshots/100', '.pve-usb-gadget-snapshots/100/later', '.pve-usb-gadget-snapshots/100/later/lun0.raw', '.pve-usb-gadget-snapshots/100/later/manifest.json', 'stick.img']);
  });

  it('deletes a VM snapshot the stick has none of, and says so', async () => {
    const h = snapshotHost();
    hosts.push(h);
    h.setConfig(`${h.config()}\n[before]\nmemory: 2048\nsnaptime: 1\n`);
    await deleteSnapshot(h.deps, 100, 'before');
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm delsnapshot 100 before']);
    expect(h.out.join('\n')).toMatch(/the stick had no snapshot named before: nothing else to remove/);
  });

  it('removes an orphan stick snapshot (VM snapshot gone) without asking qm', async () => {
    const h = await snapshotted();
    h.setConfig(h.config().replace(/\n\[before\][\s\S]*$/, '\n'));
    await deleteSnapshot(h.deps, 100, 'before');
    expect(h.qm.calls).toEqual(['qm status 100 --verbose']);
    expect(h.tree()).toEqual(['stick.img']);
    expect(h.out[0]).toMatch(/VM 100 has no snapshot named before \(any more\): removing the stick's alone/);
  });

  it('keeps the stick snapshot when qm delsnapshot fails', async () => {
    const h = await snapshotted();
    const before = h.tree();
    h.qm.fail.delsnapshot = "snapshot 'before' needed by replication job '100-0' - run replication first";
    const e = await refused(deleteSnapshot(h.deps, 100, 'before'));
    expect(e?.message).toMatch(/qm delsnapshot 100 before failed \(exit 255\): snapshot 'before' needed by replication .*; the stick snapshot was kept with it/);
    expect(h.tree()).toEqual(before);
  });

  it('refuses a name neither has, and never removes files that are not ours', async () => {
    const h = await snapshotted();
    expect((await refused(deleteSnapshot(h.deps, 100, 'other')))?.message).toMatch(/VM 100 has no snapshot named other, and its stick neither/);
    writeFileSync(join(h.t.root, FOLDER, 'notes.txt'), 'mine');
    const e = await refused(deleteSnapshot(h.deps, 100, 'before'));
    expect(e?.message).toMatch(/holds files that are not pve-usb-gadget's, left in place: .*notes.txt/);
    expect(h.tree()).toEqual(['.pve-usb-gadget-snapshots', '.pve-usb-gadget-snapshots/100', '.pve-usb-gadget-snapshots/100/before', '.pve-usb-gadget-snapshots/100/before/notes.txt', 'stick.img']);
  });
});

describe('doctor: snapshots', () => {
  it('says nothing for a VM with a stick and no snapshots', () => {
    const h = snapshotHost();
    hosts.push(h);
    expect(checkSnapshots(h.t.fs, h.deps.settings)).toEqual([]);
  });

  it('ok when every VM snapshot has its stick snapshot', async () => {
    const h = await snapshotted(['before', 'later']);
    expect(checkSnapshots(h.t.fs, h.deps.settings)).toEqual([{ check: 'VM 100 snapshots', status: 'ok', detail: '2 snapshot(s), each with its stick snapshot' }]);
  });

  it('lists VM snapshots without a stick snapshot, orphans and unfinished ones, with the commands', async () => {
    const h = await snapshotted(['before', 'broken']);
    h.setConfig(`${h.config().replace(/\n\[before\][\s\S]*?(?=\n\[|$)/, '')}\n[qmonly]\nmemory: 2048\nsnaptime: 1\n`);
    h.t.fs.unlink('/images/.pve-usb-gadget-snapshots/100/broken/manifest.json');
    mkdirSync(join(h.t.root, 'images/.pve-usb-gadget-snapshots/100/not a name'));
    const r = checkSnapshots(h.t.fs, h.deps.settings);
    expect(r).toEqual([
      { check: 'VM 100 snapshots', status: 'warn', detail: 'VM snapshot qmonly has no stick snapshot: pve-usb-gadget rollback refuses it', fix: 'qm rollback 100 <name> rolls back the VM alone (the stick keeps its data); pve-usb-gadget delsnapshot 100 <name> deletes one' },
      { check: 'VM 100 snapshots', status: 'warn', detail: `stick snapshot before has no VM snapshot (${FOLDER})`, fix: 'pve-usb-gadget delsnapshot 100 before' },
      expect.objectContaining({ check: 'VM 100 snapshots', status: 'warn', detail: expect.stringMatching(/^stick snapshot broken is not complete: .*broken has no manifest.json/), fix: expect.stringMatching(/^pve-usb-gadget delsnapshot 100 broken/) }),
    ]);
  });

  it('finds the orphans of a VM whose notes lost their [usb-gadget] section', async () => {
    const h = await snapshotted();
    h.setConfig('memory: 2048\n');
    expect(checkSnapshots(h.t.fs, h.deps.settings)).toEqual([expect.objectContaining({ status: 'warn', detail: `stick snapshot before has no VM snapshot (${FOLDER})` })]);
  });
});
