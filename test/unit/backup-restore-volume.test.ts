// restore onto a Proxmox volume: a copy made by the real hook through the vzdump stand-in, written onto
// an "LVM-thin volume" (a file in the temp root that stat calls a block device, with its size in sysfs)
// activated through a stand-in of PVE::Storage (storage/pve-lib.ts's protocol, as in
// storage-resolve.test.ts). Every refusal writes nothing; what was activated is released.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { restoreStick, type RestoreDeps } from '../../src/backup/restore.js';
import { BackupError, ImagePolicyError, type GadgetError } from '../../src/errors.js';
import type { Exec } from '../../src/ports/exec.js';
import { StateStore } from '../../src/state/record.js';
import { backupHost, snapshotBackup, type BackupHost } from './backup-helpers.js';

const hosts: BackupHost[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.t.remove();
});

const BASE = 'vzdump-qemu-100-2026_12_04-18_00_00';
const MiB = 1 << 20;

/** PVE::Storage stand-in: every activation answers /dev/pve/<volume>; calls are recorded */
function pveExec(calls: string[]): Exec {
  return async (_file, args) => {
    const [op, volid] = args.slice(-2) as [string, string];
    calls.push(`${op} ${volid}`);
    if (op === 'deactivate') return { exitCode: 0, stdout: 'PVUG\tdeactivated\n', stderr: '' };
    return { exitCode: 0, stdout: `PVUG\ttype\tlvmthin\nPVUG\tformat\traw\nPVUG\tpath\t/dev/pve/${volid.split(':')[1]}\n`, stderr: '' };
  };
}

async function setup(volumeBytes = 8 * MiB, config: Record<string, string> = {}) {
  const h = backupHost({ reflink: true, settingsExtra: 'allowed_storages = local-lvm\n' });
  hosts.push(h);
  h.guestWrite('SAVED-CONTENT');
  expect(await snapshotBackup(h)).toEqual(['ok']);
  h.t.put('/etc/pve/storage.cfg', 'lvmthin: local-lvm\n\tvgname pve\n\tthinpool data\n\tcontent images\n');
  // the volume holds older data everywhere, the tail included
  const old = Buffer.alloc(volumeBytes, 0x5a);
  h.t.put('/dev/dm-3', '');
  writeFileSync(join(h.t.root, 'dev/dm-3'), old);
  h.t.put('/sys/class/block/dm-3/size', `${volumeBytes / 512}\n`);
  mkdirSync(join(h.t.root, 'dev/pve'));
  for (const v of ['vm-100-usb', 'vm-101-usb']) symlinkSync(join(h.t.root, 'dev/dm-3'), join(h.t.root, `dev/pve/${v}`));
  const base = h.deps.fs;
  const fs = { ...base, stat: (p: string) => (p === '/dev/dm-3' ? { ...base.stat(p), kind: 'block' as const } : base.stat(p)) };
  const calls: string[] = [];
  const out: string[] = [];
  const deps: RestoreDeps = {
    fs,
    settings: h.deps.settings,
    state: new StateStore(fs, '/run'),
    vms: { read: async () => ({ description: '[usb-gadget]\nimage = local-lvm:vm-100-usb\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111\n', config, source: 'local' }) },
    isRunning: async () => false,
    print: (l) => void out.push(l),
    pid: 77,
    exec: pveExec(calls),
    log: h.deps.log,
  };
  const device = () => readFileSync(join(h.t.root, 'dev/dm-3'));
  return { h, deps, calls, out, device };
}

const refused = async (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as GadgetError);

describe('restore onto a Proxmox volume', () => {
  it('writes the copy onto the activated volume, zeroes the rest, verifies it and deactivates the volume', async () => {
    const { deps, calls, out, device } = await setup();
    const r = await restoreStick(deps, { vmid: 100, from: BASE, to: 'local-lvm:vm-100-usb', dumpDirs: ['/dump'] });
    expect(r.target).toBe('local-lvm:vm-100-usb');
    const d = device();
    expect(d.length).toBe(8 * MiB);
    expect(d.subarray(0, 13).toString()).toBe('SAVED-CONTENT');
    expect(d.subarray(13).every((b) => b === 0)).toBe(true);
    expect(calls).toEqual(['activate local-lvm:vm-100-usb', 'deactivate local-lvm:vm-100-usb']);
    expect(out[0]).toMatch(/restored LUN 0 of vzdump-qemu-100-2026_12_04-18_00_00 .* to volume local-lvm:vm-100-usb \(\/dev\/dm-3\): 4194304 bytes, SHA-256 verified; the volume's other 4194304 bytes are zero/);
  });

  it('without --to, writes to the volume the manifest names', async () => {
    const { h, deps, calls, device } = await setup();
    const path = join(h.t.root, 'dump', `${BASE}.usb-gadget.json`);
    const m = JSON.parse(readFileSync(path, 'utf8')) as { luns: { image: string }[] };
    (m.luns[0] as { image: string }).image = 'local-lvm:vm-100-usb';
    writeFileSync(path, JSON.stringify(m));
    await restoreStick(deps, { vmid: 100, from: BASE, dumpDirs: ['/dump'] });
    expect(device().subarray(0, 13).toString()).toBe('SAVED-CONTENT');
    expect(calls).toEqual(['activate local-lvm:vm-100-usb', 'deactivate local-lvm:vm-100-usb']);
  });

  it('refuses a volume smaller than the copy after activating it, writes nothing and deactivates it', async () => {
    const { deps, calls, device } = await setup(MiB);
    const e = await refused(restoreStick(deps, { vmid: 100, from: BASE, to: 'local-lvm:vm-100-usb', dumpDirs: ['/dump'] }));
    expect(e).toBeInstanceOf(BackupError);
    expect(e?.toLine()).toMatch(/the stick copy is 4194304 bytes, volume local-lvm:vm-100-usb \(\/dev\/dm-3\) only 1048576; nothing was written.*fix: grow the volume to at least 4194304 bytes/);
    expect(device().every((b) => b === 0x5a)).toBe(true);
    expect(calls).toEqual(['activate local-lvm:vm-100-usb', 'deactivate local-lvm:vm-100-usb']);
  });

  it("refuses another VM's volume, one of the VM's disks, a storage not allowed, a live stick's volume and a damaged copy before activating anything", async () => {
    const { h, deps, calls, device } = await setup(8 * MiB, { scsi1: 'local-lvm:vm-100-usb,size=8M' });
    const restore = (to: string) => refused(restoreStick(deps, { vmid: 100, from: BASE, to, dumpDirs: ['/dump'] }));
    const other = await restore('local-lvm:vm-101-usb');
    expect(other).toBeInstanceOf(ImagePolicyError);
    expect(other?.toLine()).toMatch(/vm-101-usb refused/);
    expect((await restore('local-lvm:vm-100-usb'))?.toLine()).toMatch(/refused: .*disk/i);
    expect((await restore('ceph:vm-100-usb'))?.toLine()).toMatch(/storage 'ceph' is not in \[images\] allowed_storages/);
    deps.vms = { read: async () => ({ description: '', config: {}, source: 'local' }) };
    const volume = { volid: 'local-lvm:vm-100-usb', storage: 'local-lvm', type: 'lvmthin', kind: 'block' as const, shared: false, state: 'active' as const, device: '/dev/dm-3' };
    deps.state.write({ version: 1, vmid: 300, phase: 'live', node: 'pve', gadgetDir: '/x', udc: 'dummy_udc.0', usbId: '0781:5571', serial: 's', speed: 'high', luns: [{ index: 0, image: '/dev/dm-3', readonly: false, cdrom: false, volume }], createdAt: '', pid: 1 });
    expect((await restore('local-lvm:vm-100-usb'))?.toLine()).toMatch(/volume local-lvm:vm-100-usb is served by the live stick of VM 300/);
    deps.state.remove(300);
    const raw = join(h.t.root, 'dump', `${BASE}.usb-gadget-lun0.raw`);
    const b = readFileSync(raw);
    b[100] = 1;
    writeFileSync(raw, b);
    expect((await restore('local-lvm:vm-100-usb'))?.toLine()).toMatch(/does not match its manifest .*nothing was written.*fix: the copy is damaged/);
    expect(calls).toEqual([]);
    expect(device().every((x) => x === 0x5a)).toBe(true);
  });

  it('refuses a volume configfs exports right now, after activation, and releases it', async () => {
    const { h, deps, calls, device } = await setup();
    h.t.put('/sys/kernel/config/usb_gadget/pvug-300/functions/mass_storage.0/lun.0/file', '/dev/dm-3\n');
    const e = await refused(restoreStick(deps, { vmid: 100, from: BASE, to: 'local-lvm:vm-100-usb', dumpDirs: ['/dump'] }));
    expect(e?.toLine()).toMatch(/volume local-lvm:vm-100-usb \(\/dev\/dm-3\) refused: it is already exported by VM 300/);
    expect(calls).toEqual(['activate local-lvm:vm-100-usb', 'deactivate local-lvm:vm-100-usb']);
    expect(device().every((x) => x === 0x5a)).toBe(true);
  });
});
