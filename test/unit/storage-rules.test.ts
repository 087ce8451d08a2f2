// storage.cfg parsing, volume names per storage type, and the checks a volume id passes before anything
// is activated: allowed storages first, then storage, type, owner, format, ISO read-only, VM disks.
import { describe, expect, it } from 'vitest';
import { ImagePolicyError } from '../../src/errors.js';
import { availableOn, parseStorageConfig } from '../../src/storage/storage-config.js';
import { describeVolume, storageSupport } from '../../src/storage/volume-name.js';
import { driveVolume } from '../../src/proxmox/drives.js';
import { planVolume, type VolumeRequest } from '../../src/storage/volume-rules.js';

/** A cluster's storage.cfg as PVE writes it (pve-manager defaults plus the usual extras). */
const STORAGE_CFG = `dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

lvmthin: local-lvm
\tthinpool data
\tvgname pve
\tcontent rootdir,images

zfspool: local-zfs
\tpool rpool/data
\tsparse
\tcontent images,rootdir

# a comment between sections
rbd: ceph
\tcontent images
\tkrbd 0
\tpool vms

nfs: nas
\texport /export/pve
\tpath /mnt/pve/nas
\tserver 192.0.2.10
\tcontent images,iso
\tnodes pve1,pve2

lvm: san
\tvgname san
\tcontent images
\tshared 1

dir: old
\tpath /srv/old
\tdisable

iscsi: lun
\tportal 192.0.2.20
\ttarget iqn.2003-01.org.example:t1
\tcontent images

zfs: zfs-iscsi
\tpool tank
\tportal 192.0.2.30
\ttarget iqn.x
\tiscsiprovider LIO
\tcontent images
`;

const storages = parseStorageConfig(STORAGE_CFG);

describe('parseStorageConfig', () => {
  it('reads type, properties, shared and node restrictions as PVE does', () => {
    expect(storages.get('local-lvm')).toMatchObject({ type: 'lvmthin', shared: false, disabled: false, props: { vgname: 'pve', thinpool: 'data' } });
    expect(storages.get('local-zfs')?.props.sparse).toBe('1');
    // rbd and nfs are shared by nature (Plugin.pm @SHARED_STORAGE), lvm only with `shared 1`
    expect(storages.get('ceph')?.shared).toBe(true);
    expect(storages.get('nas')).toMatchObject({ shared: true, nodes: ['pve1', 'pve2'] });
    expect(storages.get('san')?.shared).toBe(true);
    expect(storages.get('old')?.disabled).toBe(true);
    expect(availableOn(storages.get('nas')!, 'pve3')).toBe(false);
    expect(availableOn(storages.get('nas')!, 'pve2')).toBe(true);
    expect(availableOn(storages.get('old')!, 'pve1')).toBe(false);
  });

  it('always has `local` as the dir /var/lib/vz on every node', () => {
    expect(parseStorageConfig('').get('local')).toMatchObject({ type: 'dir', props: { path: '/var/lib/vz' } });
    const moved = parseStorageConfig('dir: local\n\tpath /srv/elsewhere\n\tnodes pve1\n');
    expect(moved.get('local')).toMatchObject({ props: { path: '/var/lib/vz' }, nodes: undefined });
    expect(parseStorageConfig('lvm: local\n\tvgname x\n').get('local')?.type).toBe('dir');
  });

  it('skips what PVE skips: bad ids, duplicate properties; a header needs a blank line before it', () => {
    const cfg = parseStorageConfig('dir: 1bad\n\tpath /a\n\nlvm: dup\n\tvgname a\n\tvgname b\n\ndir: a\n\tpath /a\nlvm: b\n\tvgname x\n');
    expect(cfg.has('1bad')).toBe(false);
    expect(cfg.has('dup')).toBe(false);
    // "lvm: b" right after a's lines is ignored, its property lands in a (SectionConfig behaviour)
    expect(cfg.has('b')).toBe(false);
    expect(cfg.get('a')?.props).toEqual({ path: '/a', vgname: 'x' });
  });
});

describe('volume names per storage type', () => {
  it.each([
    ['dir', '100/vm-100-disk-0.raw', { vtype: 'images', owner: 100, format: 'raw', isBase: false }],
    ['nfs', '100/stick.qcow2', { vtype: 'images', owner: 100, format: 'qcow2' }],
    ['dir', '100/vm-100-disk-1.vmdk', { format: 'vmdk' }],
    ['dir', '100/base-100-disk-0.raw/101/vm-101-disk-0.qcow2', { owner: 101, format: 'qcow2', isBase: false }],
    ['dir', 'iso/unraid.ISO', { vtype: 'iso', format: 'raw' }],
    ['cifs', 'snippets/hook.pl', { vtype: 'other', content: 'snippets' }],
    ['lvm', 'vm-100-usb', { vtype: 'images', owner: 100, format: 'raw' }],
    ['lvm', 'vm-100-disk-0.qcow2', { format: 'qcow2' }],
    ['lvmthin', 'base-100-disk-0', { owner: 100, isBase: true }],
    ['zfspool', 'vm-100-usb', { owner: 100, format: 'raw' }],
    ['zfspool', 'base-100-disk-0/vm-101-disk-0', { owner: 101, format: 'raw', isBase: false }],
    ['zfspool', 'subvol-100-disk-0', { format: 'subvol' }],
    ['rbd', 'vm-100-usb', { owner: 100, format: 'raw' }],
    ['rbd', 'base-100-disk-0/vm-102-disk-0', { owner: 102 }],
  ] as const)('%s %s', (type, volname, want) => {
    const r = describeVolume(type, volname);
    expect(r.ok && r.value).toMatchObject(want);
  });

  it.each([
    ['lvm', 'stick'],
    ['lvm', 'base-100-disk-0'],
    ['lvmthin', 'vm-100-a/b'],
    ['rbd', 'stick'],
    ['dir', '100/stick.img'],
    ['dir', 'images/100/x.raw'],
  ])('%s refuses %s', (type, volname) => {
    expect(describeVolume(type, volname).ok).toBe(false);
  });

  it('says why a storage type cannot back a stick', () => {
    expect(storageSupport('lvmthin')).toEqual({ supported: true, kind: 'block' });
    expect(storageSupport('rbd')).toEqual({ supported: true, kind: 'rbd' });
    expect(storageSupport('cephfs')).toEqual({ supported: true, kind: 'file' });
    expect(storageSupport('zfs')).toMatchObject({ supported: false, reason: expect.stringContaining('over the network') });
    expect(storageSupport('iscsi')).toMatchObject({ supported: false, reason: expect.stringContaining('belong to no VM') });
    expect(storageSupport('esoteric')).toMatchObject({ supported: false, reason: expect.stringContaining('supported storage types') });
  });
});

describe('planVolume', () => {
  const base: VolumeRequest = {
    key: 'usb-gadget.image',
    image: 'local-lvm:vm-100-usb',
    vmid: 100,
    readonly: false,
    node: 'pve1',
    allowedStorages: ['local', 'local-lvm', 'local-zfs', 'ceph', 'nas', 'san', 'old', 'lun', 'zfs-iscsi', 'ghost'],
    storages,
  };
  const refusal = (over: Partial<VolumeRequest>) => {
    try {
      planVolume({ ...base, ...over });
    } catch (err) {
      expect(err).toBeInstanceOf(ImagePolicyError);
      expect((err as ImagePolicyError).key).toBe(over.key ?? base.key);
      return `${(err as ImagePolicyError).message} | fix: ${(err as ImagePolicyError).fix}`;
    }
    throw new Error('not refused');
  };

  it('plans volumes of allowed storages with their kind and sharing', () => {
    expect(planVolume(base)).toMatchObject({ volid: 'local-lvm:vm-100-usb', type: 'lvmthin', kind: 'block', shared: false });
    expect(planVolume({ ...base, image: 'ceph:vm-100-usb' })).toMatchObject({ type: 'rbd', kind: 'rbd', shared: true });
    expect(planVolume({ ...base, image: 'nas:100/vm-100-usb.raw' })).toMatchObject({ type: 'nfs', kind: 'file', shared: true, nodes: ['pve1', 'pve2'], root: '/mnt/pve/nas' });
    expect(planVolume({ ...base, image: 'local:iso/tools.iso', readonly: true })).toMatchObject({ facts: { vtype: 'iso' } });
  });

  it('refuses a storage that is not in allowed_storages before it reads the storage config', () => {
    const untouchable = new Proxy(new Map(), {
      get() {
        throw new Error('storage config consulted');
      },
    });
    const msg = refusal({ allowedStorages: ['local'], storages: untouchable });
    expect(msg).toContain("storage 'local-lvm' is not in [images] allowed_storages (local)");
    expect(refusal({ allowedStorages: [], storages: untouchable })).toContain('none listed');
  });

  it.each<[Partial<VolumeRequest>, string]>([
    [{ image: 'ghost:vm-100-x' }, "storage 'ghost' does not exist"],
    [{ image: 'old:100/vm-100-x.raw' }, "storage 'old' is disabled"],
    [{ image: 'nas:100/vm-100-x.raw', node: 'pve3' }, "not available on node 'pve3' (nodes pve1, pve2)"],
    [{ image: 'lun:0.0.1.scsi-36001' }, 'belong to no VM'],
    [{ image: 'zfs-iscsi:vm-100-disk-0' }, 'ZFS over iSCSI'],
    [{ image: 'local-lvm:stick' }, 'not a volume name of an LVM-thin storage'],
    [{ image: 'local-lvm:vm-101-disk-0' }, 'it belongs to VM 101; a VM may only use its own volumes'],
    [{ image: 'ceph:base-99-disk-0/vm-101-disk-0' }, 'belongs to VM 101'],
    [{ image: 'local-lvm:base-100-disk-0' }, 'base volume of a template'],
    [{ image: 'local:100/vm-100-disk-0.qcow2' }, 'it is a qcow2 volume; only raw volumes can back a USB stick'],
    [{ image: 'local:100/vm-100-disk-0.vmdk' }, 'it is a vmdk volume'],
    [{ image: 'san:vm-100-disk-0.qcow2' }, 'it is a qcow2 volume'],
    [{ image: 'local-zfs:subvol-100-disk-0' }, 'filesystem subvolume'],
    [{ image: 'local:iso/tools.iso' }, 'must not be written'],
    [{ image: 'local:backup/vzdump-qemu-100.vma.zst' }, 'backup content'],
    [{ image: 'local-lvm:vm-100-disk-0', vmConfig: { scsi0: 'local-lvm:vm-100-disk-0,size=32G' } }, "already the VM's disk scsi0"],
    [{ image: 'local-lvm:../x' }, 'must be an absolute path or a Proxmox volume id'],
  ])('refuses %j', (over, text) => {
    expect(refusal(over)).toContain(text);
  });

  it('names the format in the fix for qcow2 and suggests the right pvesm alloc for another VM’s volume', () => {
    expect(refusal({ image: 'local:100/vm-100-disk-0.qcow2' })).toContain('instead of qcow2');
    expect(refusal({ image: 'local:101/vm-101-disk-0.raw' })).toContain('pvesm alloc local 100 vm-100-usb-stick 8G --format raw');
  });

  it('allows an ISO that is also the VM’s CD drive, and an unused volume', () => {
    expect(() => planVolume({ ...base, image: 'local:iso/a.iso', readonly: true, vmConfig: { ide2: 'local:iso/a.iso,media=cdrom' } })).not.toThrow();
    expect(() => planVolume({ ...base, vmConfig: { unused0: 'local-lvm:vm-100-usb', scsi0: 'local-lvm:vm-100-disk-0' } })).not.toThrow();
  });

  it('reads the volume a drive option refers to', () => {
    expect(driveVolume('local-lvm:vm-100-disk-0,iothread=1,size=32G')).toBe('local-lvm:vm-100-disk-0');
    expect(driveVolume('file=ceph:vm-100-disk-1,cache=none')).toBe('ceph:vm-100-disk-1');
    expect(driveVolume('none,media=cdrom')).toBeUndefined();
  });
});
