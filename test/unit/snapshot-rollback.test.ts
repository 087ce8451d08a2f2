// `rollback`: the stick copy verified into a temp beside the image, then qm rollback, then the rename;
// with RAM (vmstate) the image is in place before qm starts the VM; every refusal and failure leaves
// the image and its folder exactly as they were.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rollbackVm } from '../../src/snapshot/rollback.js';
import { snapshotVm } from '../../src/snapshot/take.js';
import { configText, NOTES, refused, snapshotHost, type SnapshotHost } from './snapshot-helpers.js';

const hosts: SnapshotHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});
const FOLDER = '/images/.pve-usb-gadget-snapshots/100/before';

/** a snapshot of 'SAVED-CONTENT' taken, then the guest wrote 'LATER-WRITES!' */
async function snapshotted(o: { vmstate?: boolean } = {}): Promise<SnapshotHost> {
  const h = snapshotHost({ reflink: true });
  hosts.push(h);
  h.qm.running = o.vmstate === true;
  h.guestWrite('SAVED-CONTENT');
  await snapshotVm(h.deps, { vmid: 100, name: 'before', vmstate: o.vmstate });
  h.guestWrite('LATER-WRITES!');
  h.qm.running = false;
  h.qm.calls.length = 0;
  h.events.length = 0;
  h.out.length = 0;
  return h;
}

describe('rollback', () => {
  it('verifies the copy, runs qm rollback, then renames it over the image', async () => {
    const h = await snapshotted();
    const before = h.tree();
    let during = '';
    h.qm.during.rollback = () => void (during = h.imageText());
    const r = await rollbackVm(h.deps, 100, 'before');
    expect(r).toMatchObject({ vmstate: false, luns: [{ index: 0, target: '/images/stick.img', from: `${FOLDER}/lun0.raw` }] });
    // the image changes only after qm succeeded
    expect(during).toBe('LATER-WRITES!');
    expect(h.imageText()).toBe('SAVED-CONTENT');
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm rollback 100 before']);
    expect(h.tree()).toEqual(before);
    expect(h.out.join('\n')).toMatch(/LUN 0: \/images\/stick.img is back to snapshot before \(4194304 bytes, SHA-256 verified\)[\s\S]*rolled back to snapshot before: the VM \(qm rollback\) and its stick/);
  });

  it('with RAM: the image is in place before qm rollback starts the VM, and the old one goes', async () => {
    const h = await snapshotted({ vmstate: true });
    expect(h.config()).toMatch(/^vmstate: /m);
    const before = h.tree();
    let during = '';
    h.qm.during.rollback = () => void (during = h.imageText());
    const r = await rollbackVm(h.deps, 100, 'before');
    expect(r.vmstate).toBe(true);
    expect(during).toBe('SAVED-CONTENT');
    expect(h.imageText()).toBe('SAVED-CONTENT');
    expect(h.tree()).toEqual(before);
    expect(h.out.join('\n')).toMatch(/the snapshot has RAM, so qm started the VM from it/);
  });

  it('with RAM: when qm rollback fails the old image is put back', async () => {
    const h = await snapshotted({ vmstate: true });
    const before = h.tree();
    h.qm.fail.rollback = "VM is locked (snapshot)";
    const e = await refused(rollbackVm(h.deps, 100, 'before'));
    expect(e?.message).toMatch(/qm rollback 100 before failed \(exit 255\): VM is locked \(snapshot\); the stick was left as it was/);
    expect(h.imageText()).toBe('LATER-WRITES!');
    expect(h.tree()).toEqual(before);
  });

  it('when qm rollback fails, the image is untouched and no temp is left', async () => {
    const h = await snapshotted();
    const before = h.tree();
    h.qm.fail.rollback = 'unable to rollback vm 100: vm is running';
    const e = await refused(rollbackVm(h.deps, 100, 'before'));
    expect(e?.message).toMatch(/the stick was left as it was/);
    expect(h.imageText()).toBe('LATER-WRITES!');
    expect(h.tree()).toEqual(before);
  });

  it('a copy that does not match its manifest overwrites nothing, and qm is not asked', async () => {
    const h = await snapshotted();
    const raw = join(h.t.root, FOLDER, 'lun0.raw');
    const b = readFileSync(raw);
    b[100] = 1;
    writeFileSync(raw, b);
    const before = h.tree();
    const e = await refused(rollbackVm(h.deps, 100, 'before'));
    expect(e?.toLine?.()).toMatch(/the snapshot copy of LUN 0 does not match its manifest .*nothing was overwritten.*fix: the copy is damaged/);
    expect(h.imageText()).toBe('LATER-WRITES!');
    expect(h.tree()).toEqual(before);
    expect(h.qm.calls).toEqual(['qm status 100 --verbose']);
  });

  it('warns when the notes now name another image or identity (Proxmox keeps the notes as they are)', async () => {
    const h = await snapshotted();
    h.t.put('/images/new.img', 'n'.repeat(4096));
    h.setConfig(h.config().replace(/^#image = \/images\/stick.img$/m, '#image = /images/new.img').replace('#serial = 4C530001230101111111', '#serial = 4C530001230101999999'));
    await rollbackVm(h.deps, 100, 'before');
    expect(h.imageText()).toBe('SAVED-CONTENT');
    const out = h.out.join('\n');
    expect(out).toMatch(/WARNING: LUN 0: the snapshot was taken from \/images\/stick.img, the notes now name \/images\/new.img/);
    expect(out).toMatch(/WARNING: the notes give 0781:5571 serial 4C530001230101999999, the snapshot was taken as 0781:5571 serial 4C530001230101111111 \(GUID 0781-5571-0001-230101111111\)/);
  });

  describe('refuses, changing nothing', () => {
    const cases: [string, (h: SnapshotHost) => void, RegExp][] = [
      ['a running VM', (h) => void (h.qm.running = true), /VM 100 is running: qm rollback would stop it hard.*fix: shut it down \(qm shutdown 100\)/],
      ['a live stick', (h) => h.liveRecord(100), /the stick of VM 100 is live; fix: pve-usb-gadget down 100/],
      ['a snapshot the VM does not have', (h) => h.setConfig(h.config().replace(/\n\[before\][\s\S]*$/, '\n')), /VM 100 has no snapshot named before; the stick has a snapshot of that name without it: pve-usb-gadget delsnapshot 100 before removes it/],
      ['no stick snapshot', (h) => rmSync(join(h.t.root, 'images/.pve-usb-gadget-snapshots'), { recursive: true }), /the stick of VM 100 has no snapshot named before \(looked in \/images\/.pve-usb-gadget-snapshots\/100\/before\); fix: to roll back the VM alone \(the stick keeps its data as it is now\): qm rollback 100 before/],
      ['an unfinished stick snapshot', (h) => h.t.fs.unlink(`${FOLDER}/manifest.json`), /the stick snapshot before of VM 100 is not complete: .*has no manifest.json/],
      ['a bad manifest', (h) => h.t.put(`${FOLDER}/manifest.json`, '{"format":"pve-usb-gadget-stick-snapshot"}'), /not a stick snapshot manifest/],
      ['an incomplete VM snapshot', (h) => h.setConfig(h.config().replace('snaptime: 1765000000', 'snaptime: 1765000000\nsnapstate: prepare')), /snapshot before of VM 100 is incomplete \(snapstate = prepare\)/],
      ['a locked VM', (h) => h.setConfig(h.config().replace('memory: 2048', 'lock: backup\nmemory: 2048')), /VM 100 is locked \(backup\)/],
      ['an image another VM serves', (h) => h.t.put('/sys/kernel/config/usb_gadget/pvug-300/functions/mass_storage.0/lun.0/file', '/images/stick.img\n'), /image \/images\/stick.img refused: it is already exported by VM 300/],
      ['an image gone', (h) => h.t.fs.unlink('/images/stick.img'), /LUN 0's image \/images\/stick.img, which the snapshot was taken from, is gone/],
    ];
    for (const [what, arrange, message] of cases) {
      it(what, async () => {
        const h = await snapshotted();
        arrange(h);
        const before = h.tree();
        const config = h.config();
        const image = h.t.fs.exists('/images/stick.img') ? h.imageText() : undefined;
        const e = await refused(rollbackVm(h.deps, 100, 'before'));
        expect(e?.toLine?.()).toMatch(message);
        expect(h.tree()).toEqual(before);
        expect(h.config()).toBe(config);
        if (image !== undefined) expect(h.imageText()).toBe(image);
        expect(h.qm.calls.filter((c) => !c.startsWith('qm status'))).toEqual([]);
      });
    }
  });

  it('rolls back the VM alone when the stick has only read-only media', async () => {
    const h = snapshotHost({ notes: '[usb-gadget]\nimage = /images/stick.img\nreadonly = true\n' });
    hosts.push(h);
    h.setConfig(`${h.config()}\n[before]\nmemory: 2048\nsnaptime: 1\n`);
    const r = await rollbackVm(h.deps, 100, 'before');
    expect(r.luns).toEqual([]);
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm rollback 100 before']);
    expect(h.out.join('\n')).toMatch(/the stick has nothing to roll back/);
  });
});
