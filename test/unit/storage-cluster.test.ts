// The cluster side against the fake Proxmox API: volume resolution for each storage type as PVE answers
// it, permission errors, the hook's passthrough run as node A then node B after a migration, and
// doctor's placement checks (shared vs local storage, inactive nodes, formats, mapping entries).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import type { HookDeps } from '../../src/hook/deps.js';
import { createLogger } from '../../src/hook/log.js';
import { apiPassthrough } from '../../src/hook/passthrough.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { ProxmoxApiError } from '../../src/proxmox/errors.js';
import type { Settings } from '../../src/settings/types.js';
import { checkVmStorage } from '../../src/storage/cluster-checks.js';
import { lunLocations, placement } from '../../src/storage/placement.js';
import { parseStorageConfig } from '../../src/storage/storage-config.js';

const SECRET = '4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const TOKEN = 'pve-usb-gadget@pve!hook';
const FSID = 'c1a5f6e2-9d1b-4f0e-8a55-3b5d2c9e7f10';
const ACL = {
  '/vms': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'],
  '/vms/100': ['VM.Config.Disk'],
  '/vms/200': ['VM.Config.Disk'],
  '/storage': ['Datastore.Audit'],
  '/mapping/usb': ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'],
};

let pve: FakePve;
let c: ProxmoxClient;

beforeAll(async () => {
  pve = await startFakePve({ nodes: ['pve1', 'pve2', 'pve3'], authFailureDelayMs: 0, lockTimeoutMs: 100 });
  pve.addToken(TOKEN, SECRET, ACL);
  c = new ProxmoxClient({ url: pve.url, tokenId: TOKEN, secret: SECRET, caPem: pve.caPem });
  pve.addStorage('local', { type: 'dir', path: '/var/lib/vz', content: ['images', 'iso'] });
  pve.addStorage('local-lvm', { type: 'lvmthin', vgname: 'pve', content: ['images'] });
  pve.addStorage('local-zfs', { type: 'zfspool', pool: 'rpool/data' });
  pve.addStorage('ceph', { type: 'rbd', pool: 'vms', krbd: false });
  pve.addStorage('ceph-krbd', { type: 'rbd', pool: 'vms', krbd: true, fsid: FSID });
  pve.addStorage('ext-ceph', { type: 'rbd', pool: 'usb', monhost: '192.0.2.1 192.0.2.2' });
  pve.addStorage('nas', { type: 'nfs', path: '/mnt/pve/nas', nodes: ['pve1', 'pve2'], inactiveOn: ['pve2'], content: ['images', 'iso'] });
  pve.addStorage('san', { type: 'lvm', vgname: 'san', shared: true });
  pve.addVolume('local:100/vm-100-usb.raw', { size: 8 << 20 }, 'pve1');
  pve.addVolume('local:100/vm-100-disk-1.qcow2', { size: 8 << 20 }, 'pve1');
  pve.addVolume('local:iso/tools.iso', { size: 2 << 20 }, 'pve1');
  pve.addVolume('local-lvm:vm-100-usb', { size: 8 << 20 }, 'pve1');
  pve.addVolume('local-zfs:vm-100-usb', { size: 8 << 20 }, 'pve1');
  pve.addVolume('ceph:vm-100-usb', { size: 8 << 20 });
  pve.addVolume('ceph-krbd:vm-100-usb', { size: 8 << 20 });
  pve.addVolume('ext-ceph:vm-100-usb', { size: 8 << 20 });
  pve.addVolume('nas:100/vm-100-usb.raw', { size: 8 << 20 });
  pve.addVolume('san:vm-100-usb', { size: 8 << 20 });
  pve.addVolume('san:vm-101-usb', { size: 8 << 20 });
  pve.addVolume('ceph:vm-200-usb', { size: 8 << 20 });
  pve.addVolume('local-lvm:vm-200-usb', { size: 8 << 20 }, 'pve1');
});
afterAll(async () => {
  await c.close();
  await pve.close();
});

describe('volume resolution through the API, per storage type', () => {
  it.each([
    ['local:100/vm-100-usb.raw', '/var/lib/vz/images/100/vm-100-usb.raw', 'raw'],
    ['local:100/vm-100-disk-1.qcow2', '/var/lib/vz/images/100/vm-100-disk-1.qcow2', 'qcow2'],
    ['local:iso/tools.iso', '/var/lib/vz/template/iso/tools.iso', 'iso'],
    ['local-lvm:vm-100-usb', '/dev/pve/vm-100-usb', 'raw'],
    ['local-zfs:vm-100-usb', '/dev/zvol/rpool/data/vm-100-usb', 'raw'],
    ['ceph-krbd:vm-100-usb', `/dev/rbd-pve/${FSID}/vms/vm-100-usb`, 'raw'],
    ['ceph:vm-100-usb', 'rbd:vms/vm-100-usb:conf=/etc/pve/ceph.conf', 'raw'],
    ['ext-ceph:vm-100-usb', 'rbd:usb/vm-100-usb:mon_host=192.0.2.1 192.0.2.2:auth_supported=cephx:id=admin:keyring=/etc/pve/priv/ceph/ext-ceph.keyring', 'raw'],
    ['nas:100/vm-100-usb.raw', '/mnt/pve/nas/images/100/vm-100-usb.raw', 'raw'],
    ['san:vm-100-usb', '/dev/san/vm-100-usb', 'raw'],
  ])('%s', async (volid, path, format) => {
    expect(await c.getVolumeInfo('pve1', volid)).toEqual({ path, format, size: format === 'iso' ? 2 << 20 : 8 << 20 });
  });

  it('lists storages with their type, sharing and node restriction', async () => {
    const list = await c.listStorages();
    const by = Object.fromEntries(list.map((s) => [s.storage, s]));
    expect(by['ceph']).toMatchObject({ type: 'rbd', shared: true });
    expect(by['local-lvm']).toMatchObject({ type: 'lvmthin', shared: false });
    expect(by['nas']).toMatchObject({ shared: true, nodes: ['pve1', 'pve2'], path: '/mnt/pve/nas' });
    expect(by['san']?.shared).toBe(true);
  });

  it('reports a storage as enabled/active per node', async () => {
    expect(await c.getStorageStatus('pve1', 'nas')).toMatchObject({ type: 'nfs', enabled: true, active: true, shared: true });
    expect(await c.getStorageStatus('pve2', 'nas')).toMatchObject({ enabled: true, active: false });
    expect(await c.getStorageStatus('pve3', 'nas')).toMatchObject({ enabled: false, active: false });
  });

  it('a local volume exists only on its node', async () => {
    const err = (await c.getVolumeInfo('pve2', 'local-lvm:vm-100-usb').catch((e: unknown) => e)) as ProxmoxApiError;
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect(err.pveMessage).toContain("volume_size_info on 'local-lvm:vm-100-usb' failed");
  });

  it('permission errors name the ACL path and privilege the token lacks', async () => {
    // another VM's volume: check_volume_access wants VM.Config.Disk on its owner
    const err = (await c.getVolumeInfo('pve1', 'san:vm-101-usb').catch((e: unknown) => e)) as ProxmoxApiError;
    expect(err).toMatchObject({ kind: 'permission', status: 403, permission: { aclPath: '/vms/101', privileges: ['VM.Config.Disk'] } });
    expect(err.fix).toContain('grant VM.Config.Disk on /vms/101');
    pve.setTokenAcl(TOKEN, { ...ACL, '/storage': [] });
    try {
      const s = await c.getStorageStatus('pve1', 'ceph').catch((e: unknown) => e as ProxmoxApiError);
      expect(s).toMatchObject({ kind: 'permission', permission: { aclPath: '/storage/ceph', privileges: ['Datastore.Audit', 'Datastore.AllocateSpace'] } });
      expect(await c.listStorages()).toEqual([]);
    } finally {
      pve.setTokenAcl(TOKEN, ACL);
    }
  });

  it('refuses to send what is not a volume id', async () => {
    await expect(c.getVolumeInfo('pve1', '../x')).rejects.toMatchObject({ kind: 'bad-request' });
  });
});

describe('the hook on node A, then on node B after an offline migration', () => {
  const deps = (node: string): Pick<HookDeps, 'log' | 'settings'> =>
    ({ settings: { node } as Settings, log: createLogger('test', { out: () => undefined, err: () => undefined }) }) as Pick<HookDeps, 'log' | 'settings'>;
  const noSpawn = () => {
    throw new Error('the VM has its usbN line: no attach helper expected');
  };

  it('adds one mapping entry per node it starts on, never a duplicate', async () => {
    pve.addVm({ vmid: 300, node: 'pve1', config: { usb0: 'mapping=usb-gadget-300' } });
    await apiPassthrough(deps('pve1'), c, noSpawn).ensure(300, '1d6b:812c');
    pve.moveVm(300, 'pve2');
    await apiPassthrough(deps('pve2'), c, noSpawn).ensure(300, '1d6b:812c');
    await apiPassthrough(deps('pve2'), c, noSpawn).ensure(300, '1d6b:812c');
    pve.moveVm(300, 'pve1');
    await apiPassthrough(deps('pve1'), c, noSpawn).ensure(300, '1d6b:812c');
    expect(pve.usbMapping('usb-gadget-300')?.map).toEqual(['node=pve1,id=1d6b:812c', 'node=pve2,id=1d6b:812c']);
    expect(pve.vm(300).node).toBe('pve1');
  });
});

describe('doctor placement checks', () => {
  const stick = (luns: string[], vmid = 100, node = 'pve1') => ({ vmid, node, usbId: '1d6b:8064', luns: luns.map((image, index) => ({ index, image })) });

  it('a stick on shared Ceph can be built on every node; it names the missing mapping entries and how to add them', async () => {
    const f = await checkVmStorage(c, stick(['ceph:vm-100-usb']));
    expect(f[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('can be built on pve1, pve2, pve3; offline migration only') });
    expect(f[1]).toMatchObject({ status: 'warn', detail: expect.stringContaining('no entry for pve2, pve3') });
    expect(f[1]?.fix).toBe('pvesh set /cluster/mapping/usb/usb-gadget-100 --map node=pve1,id=1d6b:8064 --map node=pve2,id=1d6b:8064 --map node=pve3,id=1d6b:8064');
    pve.addUsbMapping('usb-gadget-100', { map: ['node=pve1,id=1d6b:8064', 'node=pve2,id=1d6b:8064', 'node=pve3,id=1d6b:8064'] });
    expect((await checkVmStorage(c, stick(['ceph:vm-100-usb']))).map((x) => x.status)).toEqual(['ok']);
  });

  it('a local volume or a path ties the VM to its node', async () => {
    const f = await checkVmStorage(c, stick(['local-lvm:vm-100-usb']));
    expect(f).toContainEqual(expect.objectContaining({ status: 'warn', detail: expect.stringContaining('can only be built on pve1 (lun0 is on local-lvm, a local storage of pve1)') }));
    const p = await checkVmStorage(c, stick(['ceph:vm-100-usb', '/var/lib/vz/usb-gadget/x.img']));
    expect(p).toContainEqual(expect.objectContaining({ status: 'warn', detail: expect.stringContaining('lun1 is a path on pve1') }));
  });

  it('names the nodes where a shared storage is not usable', async () => {
    const f = await checkVmStorage(c, stick(['nas:100/vm-100-usb.raw']));
    expect(f).toContainEqual(expect.objectContaining({ status: 'warn', detail: expect.stringContaining('not usable on pve2 (storage not active)') }));
    expect(f).toContainEqual(expect.objectContaining({ status: 'ok', detail: expect.stringContaining('can be built on pve1, pve2') }));
  });

  it('fails a qcow2 volume', async () => {
    const f = await checkVmStorage(c, stick(['local:100/vm-100-disk-1.qcow2']));
    expect(f).toContainEqual(expect.objectContaining({ status: 'fail', detail: 'lun0: local:100/vm-100-disk-1.qcow2 is qcow2; only raw volumes can back a USB stick' }));
  });

  it('says what it could not check without the privileges', async () => {
    pve.setTokenAcl(TOKEN, { ...ACL, '/vms/200': [] });
    try {
      const f = await checkVmStorage(c, stick(['ceph:vm-200-usb'], 200));
      expect(f).toContainEqual(expect.objectContaining({ status: 'warn', detail: expect.stringContaining('cannot check ceph:vm-200-usb on pve1'), fix: expect.stringContaining('VM.Config.Disk on /vms/200') }));
      pve.setTokenAcl(TOKEN, { ...ACL, '/storage': [] });
      const g = await checkVmStorage(c, stick(['local-lvm:vm-200-usb'], 200));
      expect(g[0]).toMatchObject({ status: 'warn', detail: expect.stringContaining('not visible to the API token'), fix: expect.stringContaining('/storage/local-lvm') });
    } finally {
      pve.setTokenAcl(TOKEN, ACL);
    }
  });
});

describe('placement', () => {
  it('intersects the nodes each LUN allows', () => {
    const nodes = ['a', 'b', 'c'];
    expect(placement([{ index: 0, location: { kind: 'volume', storage: 's', shared: true } }], nodes, 'a').nodes).toEqual(['a', 'b', 'c']);
    expect(placement([{ index: 0, location: { kind: 'volume', storage: 's', shared: true, nodes: ['b', 'c'] } }, { index: 1, location: { kind: 'volume', storage: 't', shared: true, nodes: ['a', 'b'] } }], nodes, 'b').nodes).toEqual(['b']);
    expect(placement([{ index: 0, location: { kind: 'volume', storage: 's', shared: true, disabled: true } }], nodes, 'a').nodes).toEqual([]);
    expect(placement([], nodes, 'a').nodes).toEqual(['a', 'b', 'c']);
  });

  it('locates LUNs from storage.cfg: shared storages anywhere they are enabled, local ones and paths on this node', () => {
    const cfg = parseStorageConfig('rbd: ceph\n\tpool vms\n\nnfs: nas\n\tpath /mnt/pve/nas\n\tnodes a,b\n\nlvmthin: local-lvm\n\tvgname pve\n');
    const at = (...images: string[]) => placement(lunLocations(images.map((image, index) => ({ index, image })), cfg), ['a', 'b', 'c'], 'b');
    expect(at('ceph:vm-1-usb').nodes).toEqual(['a', 'b', 'c']);
    expect(at('ceph:vm-1-usb', 'nas:1/vm-1-x.raw').nodes).toEqual(['a', 'b']);
    expect(at('ceph:vm-1-usb', 'local-lvm:vm-1-x')).toEqual({ nodes: ['b'], limits: ['lun1 is on local-lvm, a local storage of b'] });
    expect(at('/var/lib/vz/usb-gadget/x.img', 'unknown:vm-1-x').nodes).toEqual(['b']);
  });
});
