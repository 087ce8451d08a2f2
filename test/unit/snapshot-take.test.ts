// `snapshot`: the stick copy beside the image, its manifest, then qm snapshot with exactly these
// arguments; each way the point in time is made; every refusal and failure leaves the image folder
// exactly as it was.
import { readFileSync, symlinkSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { snapshotVm } from '../../src/snapshot/take.js';
import { parseSnapshotManifest } from '../../src/snapshot/manifest.js';
import { configText, NOTES, refused, snapshotHost, type SnapshotHost } from './snapshot-helpers.js';

const hosts: SnapshotHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});
const host = (o: Parameters<typeof snapshotHost>[0] = {}) => {
  const h = snapshotHost(o);
  hosts.push(h);
  return h;
};
const FOLDER = '/images/.pve-usb-gadget-snapshots/100/before';
const manifestOf = (h: SnapshotHost, folder = FOLDER) => parseSnapshotManifest(readFileSync(join(h.t.root, folder, 'manifest.json'), 'utf8'), 'm', 100, 'before');

describe('snapshot', () => {
  it('of a stopped VM: a plain copy with its manifest beside the image, then qm snapshot with the description', async () => {
    const h = host();
    h.guestWrite('BEFORE-CONTENT');
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before', description: 'pre upgrade' });
    expect(r.method).toBe('offline');
    expect(h.tree()).toEqual(['.pve-usb-gadget-snapshots', '.pve-usb-gadget-snapshots/100', '.pve-usb-gadget-snapshots/100/before', '.pve-usb-gadget-snapshots/100/before/lun0.raw', '.pve-usb-gadget-snapshots/100/before/manifest.json', 'stick.img']);
    expect(h.imageText(`${FOLDER}/lun0.raw`)).toBe('BEFORE-CONTENT');
    const m = manifestOf(h);
    expect(m).toMatchObject({ vmid: 100, name: 'before', method: 'offline', pausedMs: 0, vmstate: false, guid: '0781-5571-0001-230101111111', allLuns: [0], usb: { vendorId: '0781', productId: '5571', serial: '4C530001230101111111' } });
    expect(m.luns).toEqual([expect.objectContaining({ index: 0, image: '/images/stick.img', source: '/images/stick.img', file: 'lun0.raw', size: 4 << 20 })]);
    expect(m.luns[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    // status before (facts), again after the copy (no start meanwhile), then qm's own snapshot
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm status 100 --verbose', 'qm snapshot 100 before --description pre upgrade']);
    expect(h.config()).toMatch(/^parent: before$/m);
    expect(h.config()).toMatch(/^\[before\]$/m);
    expect(h.out.join('\n')).toMatch(/method offline .*guest paused 0 ms[\s\S]*snapshot before made: .*0781:5571 serial 4C530001230101111111, unRAID GUID 0781-5571-0001-230101111111/);
    const mode = (p: string) => statSync(join(h.t.root, p)).mode & 0o777;
    expect(mode(`${FOLDER}/lun0.raw`)).toBe(0o600);
    expect(mode('/images/.pve-usb-gadget-snapshots')).toBe(0o700);
  });

  it('of a running VM with reflinks: a clone, the guest never paused', async () => {
    const h = host({ reflink: true });
    h.qm.running = true;
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(r).toMatchObject({ method: 'reflink', pausedMs: 0 });
    expect(h.events).toEqual(['reflink', 'snapshot (guest running)']);
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm snapshot 100 before']);
    expect(manifestOf(h).method).toBe('reflink');
  });

  it('of a running VM without reflinks: qm suspend (no --skiplock), copy, qm resume, then qm snapshot', async () => {
    const h = host();
    h.qm.running = true;
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(r.method).toBe('pause');
    expect(r.pausedMs).toBeGreaterThan(0);
    expect(h.events).toEqual(['reflink', 'suspend', 'resume', 'snapshot (guest running)']);
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm suspend 100', 'qm resume 100', 'qm snapshot 100 before']);
    expect(manifestOf(h).pausedMs).toBe(r.pausedMs);
    expect(h.out.join('\n')).toMatch(new RegExp(`method pause \\(guest paused for it\\), guest paused ${r.pausedMs} ms`));
  });

  it('with --vmstate on a running VM: the guest stays paused until qm saved the RAM', async () => {
    const h = host({ reflink: true });
    h.qm.running = true;
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before', vmstate: true });
    expect(r.method).toBe('pause');
    expect(h.events).toEqual(['suspend', 'reflink', 'snapshot (guest paused)', 'resume']);
    expect(h.qm.calls).toEqual(['qm status 100 --verbose', 'qm suspend 100', 'qm snapshot 100 before --vmstate 1', 'qm resume 100']);
    expect(manifestOf(h).vmstate).toBe(true);
    expect(h.config()).toMatch(/^vmstate: local:100\/vm-100-state-before\.raw$/m);
    expect(h.out.join('\n')).toMatch(/in all, until qm had saved the RAM/);
  });

  it('leaves a guest someone else paused paused', async () => {
    const h = host();
    h.qm.running = true;
    h.qm.qmp = 'paused';
    const r = await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(r.method).toBe('already-paused');
    expect(h.events).toEqual(['reflink', 'snapshot (guest paused)']);
  });

  it('skips cdrom and read-only LUNs, and puts a LUN of another directory beside its own image', async () => {
    const h = host({ notes: `${NOTES}[usb-gadget.lun1]\nimage = /images/tools.iso\ncdrom = true\n[usb-gadget.lun2]\nimage = /images/more/data.img\n[usb-gadget.lun3]\nimage = /images/ro.img\nreadonly = true\n` });
    h.t.put('/images/tools.iso', 'i'.repeat(4096));
    h.t.put('/images/ro.img', 'r'.repeat(4096));
    h.t.put('/images/more/data.img', 'd'.repeat(8192));
    await snapshotVm(h.deps, { vmid: 100, name: 'before' });
    expect(manifestOf(h).luns.map((l) => l.index)).toEqual([0]);
    const other = manifestOf(h, '/images/more/.pve-usb-gadget-snapshots/100/before');
    expect(other.luns.map((l) => l.index)).toEqual([2]);
    expect(other.allLuns).toEqual([0, 2]);
    expect(h.out.join('\n')).toMatch(/LUN 1 \(\/images\/tools.iso\) is a cdrom image \(read-only media\): nothing to snapshot/);
    expect(h.out.join('\n')).toMatch(/LUN 3 \(\/images\/ro.img\) is read-only: the guest cannot change it/);
  });

  it('removes the copy when qm snapshot fails: the image folder is as it was', async () => {
    const h = host();
    const before = h.tree();
    h.qm.fail.snapshot = "snapshot feature is not available";
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.toLine?.()).toMatch(/qm snapshot 100 before failed \(exit 255\): snapshot feature is not available; so the stick copy was removed too, nothing is left/);
    expect(h.tree()).toEqual(before);
  });

  it('keeps the store folder of other snapshots when removing a failed one', async () => {
    const h = host();
    await snapshotVm(h.deps, { vmid: 100, name: 'first' });
    const before = h.tree();
    h.qm.fail.snapshot = 'boom';
    await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(h.tree()).toEqual(before);
  });

  it('drops the copy when the VM was started during it', async () => {
    const h = host();
    const before = h.tree();
    let n = 0;
    h.qm.during.status = () => void (++n === 2 && (h.qm.running = true));
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.message).toMatch(/VM 100 was started while its stick was copied/);
    expect(h.tree()).toEqual(before);
    expect(h.qm.calls.some((c) => c.startsWith('qm snapshot'))).toBe(false);
  });

  describe('refuses before anything is written', () => {
    const cases: [string, (h: SnapshotHost) => void, RegExp][] = [
      ['an existing VM snapshot', (h) => h.setConfig(configText(NOTES, 'memory: 2048\n', '\n[before]\nmemory: 1024\nsnaptime: 1\n')), /VM 100 already has a snapshot named before \(\/qemu-server\/100.conf\); fix: pick another name \(qm listsnapshot 100\)/],
      ['an existing stick snapshot', (h) => h.t.put(`${FOLDER}/manifest.json`, '{}'), /the stick of VM 100 already has a snapshot named before .*fix: remove it first: pve-usb-gadget delsnapshot 100 before/],
      ['a volume LUN on a storage not allowed', (h) => h.setConfig(configText(`${NOTES}[usb-gadget.lun1]\nimage = local-lvm:vm-100-disk-1\n`)), /volume local-lvm:vm-100-disk-1 refused: storage 'local-lvm' is not in \[images\] allowed_storages/],
      ['a template', (h) => h.setConfig(configText(NOTES, 'template: 1\n')), /VM 100 is a template/],
      ['a locked VM', (h) => h.setConfig(configText(NOTES, 'lock: backup\n')), /VM 100 is locked \(backup\)/],
      ['no stick', (h) => h.setConfig(configText('just notes\n')), /VM 100 has no \[usb-gadget\] section in its notes: there is no stick to snapshot \(\/qemu-server\/100.conf\); fix: use qm snapshot 100 before/],
      ['invalid notes', (h) => h.setConfig(configText('[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0xZZ\n')), /invalid \[usb-gadget\] notes: usb-gadget.vendor_id/],
      ['an image the policy refuses', (h) => (h.t.put('/etc/x.img', 'x'.repeat(4096)), h.setConfig(configText('[usb-gadget]\nimage = /etc/x.img\n'))), /image \/etc\/x.img refused: not inside an allowed directory.*key usb-gadget.image/],
      ['a VM of another node', (h) => h.t.fs.unlink('/qemu-server/100.conf'), /VM 100 is not on this node \(\/qemu-server\/100.conf\)/],
    ];
    for (const [what, arrange, message] of cases) {
      it(what, async () => {
        const h = host();
        arrange(h);
        const before = h.tree();
        const config = h.t.fs.readTextIfExists('/qemu-server/100.conf');
        const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
        expect(e?.toLine?.()).toMatch(message);
        expect(h.tree()).toEqual(before);
        expect(h.t.fs.readTextIfExists('/qemu-server/100.conf')).toBe(config);
        expect(h.qm.calls.filter((c) => !c.startsWith('qm status'))).toEqual([]);
      });
    }
  });

  it('never writes through a planted symlink in place of the store folder', async () => {
    const h = host();
    mkdirSync(join(h.t.root, 'elsewhere'));
    symlinkSync(join(h.t.root, 'elsewhere'), join(h.t.root, 'images/.pve-usb-gadget-snapshots'));
    const e = await refused(snapshotVm(h.deps, { vmid: 100, name: 'before' }));
    expect(e?.message).toMatch(/\.pve-usb-gadget-snapshots is not a plain directory/);
    expect(h.tree('/elsewhere')).toEqual([]);
  });
});
