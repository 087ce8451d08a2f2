// From notes volume ids to exported devices and back, against a host tree in a temp folder: planning,
// activation through (a fake of) PVE::Storage, the volume image policy, RBD devices in sysfs, release.
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { HostFs } from '../../src/ports/host-fs.js';
import { ImagePolicyError, KernelError } from '../../src/errors.js';
import type { Exec } from '../../src/ports/exec.js';
import type { Settings } from '../../src/settings/types.js';
import type { GadgetSpec, LunSpec } from '../../src/spec/types.js';
import { blockDeviceBytes } from '../../src/storage/block-device.js';
import { describeLunVolume } from '../../src/storage/describe.js';
import { listRbdDevices, rbdDeviceOfPath, unmapRbd, type RbdDevice } from '../../src/storage/rbd-sysfs.js';
import { activateVolumes, planVolumes, releaseVolumes, type LunVolume } from '../../src/storage/resolve.js';

let root: string;
let fs: HostFs;
/** paths (host-absolute) the fake kernel reports as block devices */
let blockDevices: Set<string>;
let failWrites: Map<string, string>;

function put(p: string, content = ''): void {
  mkdirSync(dirname(join(root, p)), { recursive: true });
  writeFileSync(join(root, p), content);
}
function link(target: string, p: string): void {
  mkdirSync(dirname(join(root, p)), { recursive: true });
  symlinkSync(join(root, target), join(root, p));
}
function blockDevice(p: string, bytes: number): void {
  put(p);
  blockDevices.add(p);
  put(`/sys/class/block/${p.slice(5)}/size`, `${bytes / 512}\n`);
}
function rbdSysfs(id: number, dev: Omit<RbdDevice, 'id'>): void {
  const d = `/sys/bus/rbd/devices/${id}`;
  put(`${d}/pool`, `${dev.pool}\n`);
  put(`${d}/pool_ns`, `${dev.namespace}\n`);
  put(`${d}/name`, `${dev.image}\n`);
  put(`${d}/current_snap`, `${dev.snapshot}\n`);
  if (dev.clusterFsid) put(`${d}/cluster_fsid`, `${dev.clusterFsid}\n`);
  blockDevice(`/dev/rbd${id}`, 64 * 1024 * 1024);
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pvug-storage-'));
  blockDevices = new Set();
  failWrites = new Map();
  const real = nodeHostFs(root);
  fs = {
    ...real,
    stat: (p) => (blockDevices.has(p) ? { ...real.stat(p), kind: 'block', size: 0 } : real.stat(p)),
    write: (p, v) => {
      const code = failWrites.get(p);
      if (code) throw Object.assign(new Error(`${code}: ${p}`), { code });
      real.write(p, v);
    },
  };
  put(
    '/etc/pve/storage.cfg',
    'dir: local\n\tpath /var/lib/vz\n\tcontent images,iso\n\nlvmthin: local-lvm\n\tvgname pve\n\tthinpool data\n\nrbd: ceph\n\tpool vms\n\tcontent images\n\nnfs: nas\n\tpath /mnt/pve/nas\n\tserver 192.0.2.1\n\texport /x\n',
  );
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const settings = (allowed: string[]): Settings =>
  ({ node: 'pve1', images: { allowedDirs: ['/var/lib/vz/usb-gadget'], allowBlockDevices: false, allowedStorages: allowed } }) as Settings;
const lun = (index: number, image: string, readonly = false): LunSpec => ({ index, image, readonly, cdrom: false, removable: true, inquiry: ''.padEnd(28) });
const spec = (...luns: LunSpec[]): GadgetSpec =>
  ({ vendorId: 0x1d6b, productId: 0x8064, bcdDevice: 0x100, serial: 'S', serialSource: 'notes', manufacturer: 'm', product: 'p', speed: 'high', luns }) as GadgetSpec;
const log = { info: (_: string) => undefined, warn: (_: string) => undefined, error: (_: string) => undefined } as never;

/** PVE::Storage stand-in: answers per volume id, records calls */
function pveExec(paths: Record<string, string>, fail: Record<string, string> = {}): Exec & { calls: string[] } {
  const calls: string[] = [];
  const exec = (async (_file: string, args: readonly string[]) => {
    const [op, volid] = args.slice(-2) as [string, string];
    calls.push(`${op} ${volid}`);
    if (fail[volid]) return { exitCode: 255, stdout: '', stderr: `${fail[volid]}\n` };
    if (op === 'deactivate') return { exitCode: 0, stdout: 'PVUG\tdeactivated\n', stderr: '' };
    const type = volid.startsWith('ceph:') ? 'rbd' : volid.startsWith('local-lvm:') ? 'lvmthin' : volid.startsWith('nas:') ? 'nfs' : 'dir';
    return { exitCode: 0, stdout: `PVUG\ttype\t${type}\nPVUG\tformat\traw\nPVUG\tpath\t${paths[volid]}\n`, stderr: '' };
  }) as Exec & { calls: string[] };
  exec.calls = calls;
  return exec;
}

describe('planVolumes', () => {
  it('plans only volume LUNs, and reads no storage config when no storage is allowed', () => {
    const s = spec(lun(0, '/var/lib/vz/usb-gadget/a.img'), lun(1, 'local-lvm:vm-100-usb'));
    expect([...planVolumes({ fs, settings: settings(['local-lvm']) }, 100, s).keys()]).toEqual([1]);
    rmSync(join(root, 'etc/pve/storage.cfg'));
    expect(() => planVolumes({ fs, settings: settings([]) }, 100, s)).toThrow(/not in \[images\] allowed_storages \(none listed\)/);
    expect(planVolumes({ fs, settings: settings([]) }, 100, spec(lun(0, '/x.img'))).size).toBe(0);
  });
});

describe('activateVolumes', () => {
  it('activates an LVM-thin volume, exports its realpath and records before and after', async () => {
    blockDevice('/dev/dm-3', 8 * 1024 * 1024);
    link('/dev/dm-3', '/dev/pve/vm-100-usb');
    const s = spec(lun(0, '/var/lib/vz/usb-gadget/a.img'), lun(1, 'local-lvm:vm-100-usb'));
    const deps = { fs, settings: settings(['local-lvm']), log, exec: pveExec({ 'local-lvm:vm-100-usb': '/dev/pve/vm-100-usb' }) };
    const records: LunVolume[][] = [];
    const out = await activateVolumes(deps, s, planVolumes(deps, 100, s), [], (v) => records.push([...v.values()]));
    expect(out.luns.map((l) => l.image)).toEqual(['/var/lib/vz/usb-gadget/a.img', '/dev/dm-3']);
    expect(records[0]).toEqual([{ volid: 'local-lvm:vm-100-usb', storage: 'local-lvm', type: 'lvmthin', kind: 'block', shared: false, state: 'activating' }]);
    const last = records.at(-1)?.[0];
    expect(last).toMatchObject({ state: 'active', path: '/dev/pve/vm-100-usb', device: '/dev/dm-3', bytes: 8 * 1024 * 1024 });
    expect(describeLunVolume(last as LunVolume)).toBe('local-lvm:vm-100-usb (LVM-thin, local) -> /dev/pve/vm-100-usb = /dev/dm-3');
    expect(deps.exec.calls).toEqual(['activate local-lvm:vm-100-usb']);
  });

  it('maps an RBD volume and records the kernel device behind /dev/rbd-pve', async () => {
    rbdSysfs(0, { pool: 'vms', namespace: '', image: 'vm-100-usb', snapshot: '-', clusterFsid: 'f00d' });
    link('/dev/rbd0', '/dev/rbd-pve/f00d/vms/vm-100-usb');
    const s = spec(lun(0, 'ceph:vm-100-usb'));
    const deps = { fs, settings: settings(['ceph']), log, exec: pveExec({ 'ceph:vm-100-usb': '/dev/rbd-pve/f00d/vms/vm-100-usb' }) };
    let last: LunVolume | undefined;
    const out = await activateVolumes(deps, s, planVolumes(deps, 100, s), [], (v) => (last = v.get(0)));
    expect(out.luns[0]?.image).toBe('/dev/rbd0');
    expect(last).toMatchObject({ kind: 'rbd', shared: true, state: 'active', rbd: { id: 0, pool: 'vms', image: 'vm-100-usb', clusterFsid: 'f00d' } });
  });

  it('exports a file of a directory storage, but not one that links out of it', async () => {
    put('/mnt/pve/nas/images/100/vm-100-usb.raw', 'x'.repeat(1024));
    const s = spec(lun(0, 'nas:100/vm-100-usb.raw'));
    const deps = { fs, settings: settings(['nas']), log, exec: pveExec({ 'nas:100/vm-100-usb.raw': '/mnt/pve/nas/images/100/vm-100-usb.raw' }) };
    const out = await activateVolumes(deps, s, planVolumes(deps, 100, s), [], () => undefined);
    expect(out.luns[0]?.image).toBe('/mnt/pve/nas/images/100/vm-100-usb.raw');

    put('/etc/secret.raw', 'y'.repeat(1024));
    link('/etc/secret.raw', '/mnt/pve/nas/images/100/vm-100-evil.raw');
    const evil = spec(lun(0, 'nas:100/vm-100-evil.raw'));
    const deps2 = { ...deps, exec: pveExec({ 'nas:100/vm-100-evil.raw': '/mnt/pve/nas/images/100/vm-100-evil.raw' }) };
    await expect(activateVolumes(deps2, evil, planVolumes(deps2, 100, evil), [], () => undefined)).rejects.toThrow(/not inside the storage's directory/);
  });

  it('refuses a volume file with a second hard link: the other name may be anywhere', async () => {
    put('/mnt/pve/nas/images/101/vm-101-disk-0.raw', 'z'.repeat(1024));
    mkdirSync(join(root, '/mnt/pve/nas/images/100'), { recursive: true });
    linkSync(join(root, '/mnt/pve/nas/images/101/vm-101-disk-0.raw'), join(root, '/mnt/pve/nas/images/100/vm-100-usb.raw'));
    const s = spec(lun(0, 'nas:100/vm-100-usb.raw'));
    const deps = { fs, settings: settings(['nas']), log, exec: pveExec({ 'nas:100/vm-100-usb.raw': '/mnt/pve/nas/images/100/vm-100-usb.raw' }) };
    // known before PVE is asked: nothing is activated
    expect(() => planVolumes(deps, 100, s)).toThrow(/2 hard links/);
    expect(deps.exec.calls).toEqual([]);
  });

  it.each([
    ['a network address instead of a device', 'rbd:vms/vm-100-usb:conf=/etc/pve/ceph.conf', /network address/],
    ['nothing there', '/dev/pve/vm-100-gone', /resolved to \/dev\/pve\/vm-100-gone, which does not exist/],
  ])('refuses %s after activation, with the volume recorded for undo', async (_name, path, re) => {
    const s = spec(lun(0, 'local-lvm:vm-100-usb'));
    const deps = { fs, settings: settings(['local-lvm']), log, exec: pveExec({ 'local-lvm:vm-100-usb': path }) };
    const seen: LunVolume[] = [];
    await expect(activateVolumes(deps, s, planVolumes(deps, 100, s), [], (v) => seen.push(v.get(0) as LunVolume))).rejects.toThrow(re);
    expect(seen.at(-1)?.state).toBe('activating');
  });

  it('refuses a too small device and one another VM exports read-write', async () => {
    blockDevice('/dev/dm-4', 0);
    link('/dev/dm-4', '/dev/pve/vm-100-usb');
    const s = spec(lun(0, 'local-lvm:vm-100-usb'));
    const deps = { fs, settings: settings(['local-lvm']), log, exec: pveExec({ 'local-lvm:vm-100-usb': '/dev/pve/vm-100-usb' }) };
    await expect(activateVolumes(deps, s, planVolumes(deps, 100, s), [], () => undefined)).rejects.toThrow(/0 bytes/);
    put('/sys/class/block/dm-4/size', '2048\n');
    const inUse = [{ image: '/dev/dm-4', readonly: false, by: 'VM 101' }];
    await expect(activateVolumes(deps, s, planVolumes(deps, 100, s), inUse, () => undefined)).rejects.toBeInstanceOf(ImagePolicyError);
  });

  it('refuses the same volume on two LUNs of one stick unless both are read-only', async () => {
    blockDevice('/dev/dm-5', 1024 * 1024);
    link('/dev/dm-5', '/dev/pve/vm-100-usb');
    const exec = pveExec({ 'local-lvm:vm-100-usb': '/dev/pve/vm-100-usb' });
    const deps = { fs, settings: settings(['local-lvm']), log, exec };
    const twice = spec(lun(0, 'local-lvm:vm-100-usb'), lun(1, 'local-lvm:vm-100-usb'));
    await expect(activateVolumes(deps, twice, planVolumes(deps, 100, twice), [], () => undefined)).rejects.toThrow(/already exported by lun0 of this VM read-write/);
    const ro = spec(lun(0, 'local-lvm:vm-100-usb', true), lun(1, 'local-lvm:vm-100-usb', true));
    expect((await activateVolumes(deps, ro, planVolumes(deps, 100, ro), [], () => undefined)).luns.map((l) => l.image)).toEqual(['/dev/dm-5', '/dev/dm-5']);
  });

  it('passes PVE::Storage’s refusal on, before anything is recorded as active', async () => {
    const s = spec(lun(0, 'local-lvm:vm-100-usb'));
    const deps = { fs, settings: settings(['local-lvm']), log, exec: pveExec({}, { 'local-lvm:vm-100-usb': "no such logical volume pve/vm-100-usb" }) };
    await expect(activateVolumes(deps, s, planVolumes(deps, 100, s), [], () => undefined)).rejects.toThrow(/could not activate volume local-lvm:vm-100-usb: no such logical volume/);
  });
});

describe('releaseVolumes', () => {
  const vol = (over: Partial<LunVolume>): LunVolume => ({ volid: 'local-lvm:vm-100-usb', storage: 'local-lvm', type: 'lvmthin', kind: 'block', shared: false, state: 'active', ...over });

  it('deactivates block volumes, unmaps RBD through sysfs, leaves files alone', async () => {
    rbdSysfs(3, { pool: 'vms', namespace: 'ns1', image: 'vm-100-usb', snapshot: '-' });
    put('/sys/bus/rbd/remove_single_major');
    const exec = pveExec({});
    const luns = [
      { index: 0, volume: vol({}) },
      { index: 1, volume: vol({ volid: 'ceph:vm-100-usb', type: 'rbd', kind: 'rbd', rbd: { id: 3, pool: 'vms', namespace: 'ns1', image: 'vm-100-usb', snapshot: '-' } }) },
      { index: 2, volume: vol({ volid: 'nas:100/vm-100-a.raw', type: 'nfs', kind: 'file' }) },
      { index: 3 },
    ];
    const r = await releaseVolumes({ fs, exec, log }, luns);
    expect(r).toEqual({ kept: [], failures: [] });
    expect(exec.calls).toEqual(['deactivate local-lvm:vm-100-usb']);
    expect(readFileSync(join(root, 'sys/bus/rbd/remove_single_major'), 'utf8')).toBe('3');
  });

  it('an RBD volume whose device was never recorded (killed while mapping) goes through PVE', async () => {
    const exec = pveExec({});
    await releaseVolumes({ fs, exec, log }, [{ index: 0, volume: vol({ volid: 'ceph:vm-100-usb', kind: 'rbd', state: 'activating' }) }]);
    expect(exec.calls).toEqual(['deactivate ceph:vm-100-usb']);
  });

  it('keeps what it could not release', async () => {
    const exec = pveExec({}, { 'local-lvm:vm-100-usb': "can't deactivate LV pve/vm-100-usb: Logical volume in use" });
    const luns = [{ index: 0, volume: vol({}) }];
    const r = await releaseVolumes({ fs, exec, log }, luns);
    expect(r.kept).toEqual(luns);
    expect(r.failures[0]?.message).toContain('Logical volume in use');
  });
});

describe('RBD devices in sysfs', () => {
  const dev = { pool: 'vms', namespace: '', image: 'vm-100-usb', snapshot: '-', clusterFsid: 'f00d' };

  it('lists mapped images and finds the one behind a /dev/rbd-pve path', () => {
    rbdSysfs(0, dev);
    rbdSysfs(12, { ...dev, image: 'vm-101-disk-0' });
    put('/sys/bus/rbd/devices/junk/pool', 'x');
    link('/dev/rbd12', '/dev/rbd-pve/f00d/vms/vm-101-disk-0');
    expect(listRbdDevices(fs).map((d) => `${d.id}:${d.image}`)).toEqual(['0:vm-100-usb', '12:vm-101-disk-0']);
    expect(rbdDeviceOfPath(fs, '/dev/rbd-pve/f00d/vms/vm-101-disk-0')?.id).toBe(12);
    expect(rbdDeviceOfPath(fs, '/dev/rbd-pve/f00d/vms/missing')).toBeUndefined();
  });

  it('unmaps through `remove` when the module has no single_major, and is idempotent', () => {
    rbdSysfs(0, dev);
    put('/sys/bus/rbd/remove');
    expect(unmapRbd(fs, { id: 0, ...dev })).toBe('unmapped');
    expect(readFileSync(join(root, 'sys/bus/rbd/remove'), 'utf8')).toBe('0');
    rmSync(join(root, 'sys/bus/rbd/devices/0'), { recursive: true });
    expect(unmapRbd(fs, { id: 0, ...dev })).toBe('gone');
  });

  it('never unmaps an id that now belongs to another image', () => {
    rbdSysfs(0, { ...dev, image: 'vm-555-disk-0' });
    put('/sys/bus/rbd/remove_single_major');
    expect(unmapRbd(fs, { id: 0, ...dev })).toBe('replaced');
    expect(readFileSync(join(root, 'sys/bus/rbd/remove_single_major'), 'utf8')).toBe('');
  });

  it('says who holds a busy device', () => {
    rbdSysfs(0, dev);
    put('/sys/bus/rbd/remove_single_major');
    failWrites.set('/sys/bus/rbd/remove_single_major', 'EBUSY');
    const err = (() => {
      try {
        unmapRbd(fs, { id: 0, ...dev });
      } catch (e) {
        return e as KernelError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(KernelError);
    expect(err?.errno).toBe('EBUSY');
    expect(err?.fix).toContain('fuser -vm /dev/rbd0');
  });
});

describe('blockDeviceBytes', () => {
  it('reads the size in 512-byte sectors from /sys/class/block', () => {
    put('/sys/class/block/zd16/size', '2097152\n');
    expect(blockDeviceBytes(fs, '/dev/zd16')).toBe(1024 * 1024 * 1024);
    expect(blockDeviceBytes(fs, '/dev/nope')).toBeUndefined();
    expect(blockDeviceBytes(fs, '/dev/mapper/../sda')).toBeUndefined();
    expect(existsSync(join(root, 'sys/class/block/nope'))).toBe(false);
  });
});
