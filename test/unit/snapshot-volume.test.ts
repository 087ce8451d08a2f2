// Volume LUNs in snapshot / rollback / delsnapshot: a storage snapshot of the same name through the
// storage port (faked: what PVE::Storage would answer), taken before qm snapshot and removed again when
// qm fails; refused before any change on a storage Proxmox cannot snapshot; rolled back before qm
// rollback; deleted after qm delsnapshot. The manifest lies under /var/lib/pve-usb-gadget.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteSnapshot } from '../../src/snapshot/delete.js';
import { checkVolumeSnapshots } from '../../src/snapshot/doctor-volumes.js';
import { parseSnapshotManifest } from '../../src/snapshot/manifest.js';
import { rollbackVm } from '../../src/snapshot/rollback.js';
import { snapshotVm } from '../../src/snapshot/take.js';
import { NOTES, refused, snapshotHost, type SnapshotHost } from './snapshot-helpers.js';

const hosts: SnapshotHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});
const USB = 'vendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111\n';
const THIN_ONLY = `[usb-gadget]\nimage = usb-thin:vm-100-usb\n${USB}`;
const MIXED = `${NOTES}[usb-gadget.lun1]\nimage = usb-thin:vm-100-usb\n`;
const host = (notes: string) => {
  const h = snapshotHost({ notes });
  hosts.push(h);
  return h;
};
const VFOLDER = '/var/lib/pve-usb-gadget/.pve-usb-gadget-snapshots/100/before';
const vManifest = (h: SnapshotHost) => parseSnapshotManifest(readFileSync(join(h.t.root, VFOLDER, 'manifest.json'), 'utf8'), 'm', 100, 'before');
const has = (h: SnapshotHost, p: string) => existsSync(join(h.t.root, p));

describe('snapshot of a volume LUN', () => {
  it('takes a storage snapshot of the same name before qm snapshot and records it (no file, no hash)', async () => {
    const h = host(MIXED);
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(h.volumes.calls).toEqual(['feature usb-thin:vm-100-usb', 'volume-snapshot usb-thin:vm-100-usb before']);
    expect(h.events).toEqual(['volume-snapshot usb-thin:vm-100-usb before', 'snapshot (guest stopped)']);
    expect(r.volumes).toEqual([{ index: 1, image: 'usb-thin:vm-100-usb', volid: 'usb-thin:vm-100-usb', storage: 'usb-thin', type: 'lvmthin', snapshot: 'before' }]);
    const m = vManifest(h);
    expect(m).toMatchObject({ allLuns: [0, 1], luns: [], volumes: r.volumes });
    // the file LUN is copied beside its image as before; both manifests name both LUNs
    expect(parseSnapshotManifest(readFileSync(join(h.t.root, '/images/.pve-usb-gadget-snapshots/100/before/manifest.json'), 'utf8'), 'm', 100, 'before').allLuns).toEqual([0, 1]);
    expect(h.out.join('\n')).toMatch(/LUN 1 usb-thin:vm-100-usb: storage snapshot before \(lvmthin, atomic: the guest was not paused for it\)/);
  });

  it('of a running VM: no pause for the volume (method storage)', async () => {
    const h = host(THIN_ONLY);
    h.qm.running = true;
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(r).toMatchObject({ method: 'storage', pausedMs: 0 });
    expect(h.events).toEqual(['volume-snapshot usb-thin:vm-100-usb before', 'snapshot (guest running)']);
    expect(h.volumes.calls[0]).toBe('feature usb-thin:vm-100-usb running');
    expect(vManifest(h).method).toBe('storage');
  });

  it('with --vmstate on a running VM: the storage snapshot inside the pause, before the RAM is saved', async () => {
    const h = host(THIN_ONLY);
    h.qm.running = true;
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before', vmstate: true });
    expect(r.method).toBe('pause');
    expect(h.events).toEqual(['suspend', 'volume-snapshot usb-thin:vm-100-usb before', 'snapshot (guest paused)', 'resume']);
  });

  it('refuses a storage Proxmox cannot snapshot (thick LVM) before any change, naming it and the way out', async () => {
    const h = host(`${NOTES}[usb-gadget.lun1]\nimage = usb-lvm:vm-100-usb\n`);
    const before = h.tree();
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.toLine?.()).toMatch(/LUN 1 is volume usb-lvm:vm-100-usb on storage 'usb-lvm' \(type lvm\), which Proxmox cannot snapshot .*fix: put that LUN on a storage with snapshots \(LVM-thin, ZFS, Ceph RBD\)/);
    expect(h.volumes.calls).toEqual(['feature usb-lvm:vm-100-usb']);
    expect(h.tree()).toEqual(before);
    expect(has(h, '/var/lib/pve-usb-gadget')).toBe(false);
    expect(h.qm.calls.filter((c) => !c.startsWith('qm status'))).toEqual([]);
  });

  it('removes the storage snapshot again when qm snapshot fails: nothing half-made', async () => {
    const h = host(MIXED);
    h.qm.fail.snapshot = 'VM is locked (backup)';
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.message).toMatch(/VM is locked \(backup\).*the stick copy and storage snapshots were removed too, nothing is left/);
    expect(h.volumes.calls.slice(1)).toEqual(['volume-snapshot usb-thin:vm-100-usb before', 'volume-delete usb-thin:vm-100-usb before']);
    expect(h.volumes.snaps.get('usb-thin:vm-100-usb')).toEqual([]);
    expect(has(h, VFOLDER)).toBe(false);
    expect(h.tree()).toEqual(['stick.img']);
  });

  it('says which storage snapshot stayed when it cannot be removed again', async () => {
    const h = host(THIN_ONLY);
    h.qm.fail.snapshot = 'qm broke';
    h.volumes.fail.remove = 'lvremove failed';
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.toLine?.()).toMatch(/qm broke; and these storage snapshots could not be removed again: storage snapshot before of usb-thin:vm-100-usb \(LUN 0, storage 'usb-thin'\): lvremove failed/);
  });

  it('drops the snapshots made so far when the storage snapshot fails, and never runs qm', async () => {
    const h = host(MIXED);
    h.volumes.fail.snapshot = 'thin pool full';
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.toLine?.()).toMatch(/the storage snapshot before of LUN 1's volume usb-thin:vm-100-usb \(storage 'usb-thin', lvmthin\) failed: thin pool full/);
    expect(h.qm.calls.some((c) => c.startsWith('qm snapshot'))).toBe(false);
    expect(h.tree()).toEqual(['stick.img']);
    expect(has(h, VFOLDER)).toBe(false);
  });
});

describe('rollback and delsnapshot of a volume LUN', () => {
  it('rollback: the volume back to its storage snapshot, then qm rollback', async () => {
    const h = host(THIN_ONLY);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    h.events.length = 0;
    const r = await rollbackVm(h.deps, 100, 'before');
    expect(h.events).toEqual(['volume-rollback usb-thin:vm-100-usb before', 'rollback']);
    expect(r.volumes.map((v) => v.volid)).toEqual(['usb-thin:vm-100-usb']);
    expect(h.out.join('\n')).toMatch(/LUN 0: volume usb-thin:vm-100-usb is back to its storage snapshot before \(lvmthin\)[\s\S]*rolled back to snapshot before: the VM \(qm rollback\) and its stick/);
  });

  it('rollback refuses a running VM and a live stick, touching no volume', async () => {
    const h = host(THIN_ONLY);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    h.events.length = 0;
    h.qm.running = true;
    expect((await refused(rollbackVm(h.deps, 100, 'before')))?.message).toMatch(/VM 100 is running/);
    h.qm.running = false;
    h.liveRecord(100, '/dev/dm-3');
    expect((await refused(rollbackVm(h.deps, 100, 'before')))?.message).toMatch(/the stick of VM 100 is live/);
    expect(h.events).toEqual([]);
  });

  it('rollback: a failing storage rollback leaves the VM as it is', async () => {
    const h = host(THIN_ONLY);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    h.volumes.fail.rollback = 'lvremove: in use';
    const e = await refused(rollbackVm(h.deps, 100, 'before'));
    expect(e?.toLine?.()).toMatch(/rolling LUN 0's volume usb-thin:vm-100-usb .* back to its storage snapshot before failed: lvremove: in use; the VM was not rolled back/);
    expect(h.qm.calls.some((c) => c.startsWith('qm rollback'))).toBe(false);
  });

  it('delsnapshot: qm delsnapshot, then the storage snapshot, then the manifest', async () => {
    const h = host(MIXED);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    h.qm.running = true;
    await deleteSnapshot(h.deps, 100, 'before');
    expect(h.qm.calls.filter((c) => c.startsWith('qm delsnapshot'))).toEqual(['qm delsnapshot 100 before']);
    expect(h.volumes.calls.at(-1)).toBe('volume-delete usb-thin:vm-100-usb before running');
    expect(h.volumes.snaps.get('usb-thin:vm-100-usb')).toEqual([]);
    expect(has(h, VFOLDER)).toBe(false);
    expect(h.tree()).toEqual(['stick.img']);
  });

  it('delsnapshot keeps the manifest when the storage snapshot cannot be deleted, and a second run finishes', async () => {
    const h = host(THIN_ONLY);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    h.volumes.fail.remove = 'busy';
    const e = await refused(deleteSnapshot(h.deps, 100, 'before'));
    expect(e?.toLine?.()).toMatch(/could not delete storage snapshot before of usb-thin:vm-100-usb \(LUN 0, storage 'usb-thin'\): busy; its manifest was kept.*fix: fix the cause, then run pve-usb-gadget delsnapshot 100 before again/);
    expect(has(h, `${VFOLDER}/manifest.json`)).toBe(true);
    delete h.volumes.fail.remove;
    await deleteSnapshot(h.deps, 100, 'before');
    expect(has(h, VFOLDER)).toBe(false);
  });
});

describe('doctor and the storage snapshots', () => {
  it('checks each one where the storage can list them, and says so where it cannot', async () => {
    const h = host(THIN_ONLY);
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    await snapshotVm(h.deps, { vmid: 100, name: 'later' });
    const what = (n: string) => `storage snapshot ${n} of usb-thin:vm-100-usb (LUN 0, storage 'usb-thin')`;
    expect(await checkVolumeSnapshots(h.t.fs, h.deps.settings, h.deps.volumes)).toEqual([
      { check: 'VM 100 snapshots', status: 'ok', detail: `${what('before')}: present` },
      { check: 'VM 100 snapshots', status: 'ok', detail: `${what('later')}: present` },
    ]);
    h.volumes.snaps.set('usb-thin:vm-100-usb', ['later']);
    expect((await checkVolumeSnapshots(h.t.fs, h.deps.settings, h.deps.volumes))[0]).toEqual({
      check: 'VM 100 snapshots',
      status: 'warn',
      detail: `${what('before')} is gone: pve-usb-gadget rollback 100 before would fail`,
      fix: expect.stringMatching(/^qm rollback 100 before rolls back the VM alone; after qm delsnapshot 100 before, remove \/var\/lib\/pve-usb-gadget\/.pve-usb-gadget-snapshots\/100\/before by hand/),
    });
    h.volumes.unlisted.add('usb-thin');
    expect((await checkVolumeSnapshots(h.t.fs, h.deps.settings, h.deps.volumes)).map((r) => r.detail)).toEqual([
      `${what('before')}: not checked (the storage cannot list its snapshots here)`,
      `${what('later')}: not checked (the storage cannot list its snapshots here)`,
    ]);
  });
});
