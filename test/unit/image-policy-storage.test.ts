// Hostile notes against the path form of `image =`: a path inside a Proxmox storage's folders is judged
// as that storage's volume (owner, template, format, content type), every VM config's drives are off
// limits, and hard-linked files are refused. allowed_dirs is widened the way an admin might.
import { linkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImagePolicyError } from '../../src/errors.js';
import { imageContext } from '../../src/host/image-facts.js';
import { checkImage } from '../../src/host/image-policy.js';
import type { Settings } from '../../src/settings/types.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const STORAGE_CFG = `dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,images

nfs: nas
\tpath /mnt/pve/nas
\tserver 192.0.2.1
\texport /x
\tcontent images

dir: renamed
\tpath /srv/renamed
\tcontent images,iso
\tcontent-dirs images=disks,iso=isos
`;

const settings = (allowedDirs: string[]): Settings =>
  ({
    node: 'pve1',
    images: { allowedDirs, allowBlockDevices: false, allowedStorages: [] },
    paths: { root: '/', stateDir: '/run/pve-usb-gadget', pveConfigDir: '/etc/pve/qemu-server' },
  }) as unknown as Settings;

const WIDE = ['/var/lib/vz', '/mnt/pve/nas', '/srv/renamed'];
const block = Buffer.alloc(4096).toString();

describe('image policy: paths inside storages and VM disks', () => {
  let t: TmpRoot;
  beforeEach(() => {
    t = tmpRoot('pvug-policy-storage-');
    t.put('/etc/pve/storage.cfg', STORAGE_CFG);
    for (const f of [
      '/var/lib/vz/images/101/vm-101-disk-0.raw',
      '/var/lib/vz/images/100/vm-100-disk-0.raw',
      '/var/lib/vz/images/100/vm-100-disk-1.raw',
      '/var/lib/vz/images/100/vm-100-disk-2.qcow2',
      '/var/lib/vz/images/100/base-100-disk-3.raw',
      '/var/lib/vz/images/stray.raw',
      '/var/lib/vz/dump/vzdump-qemu-101-2026_01_01-00_00_00.vma',
      '/var/lib/vz/template/iso/tools.iso',
      '/var/lib/vz/usb-gadget/a.img',
      '/var/lib/vz/usb-gadget/b.img',
      '/var/lib/vz/usb-gadget/c.img',
      '/mnt/pve/nas/images/101/vm-101-disk-0.raw',
      '/srv/renamed/disks/101/vm-101-disk-0.raw',
      '/srv/renamed/isos/x.iso',
    ]) {
      t.put(f, block);
    }
    // VM 101 is stopped (no pid file): its disks are its own all the same
    t.put('/etc/pve/qemu-server/101.conf', 'scsi0: local:101/vm-101-disk-0.raw,size=4K\nscsi1: /var/lib/vz/usb-gadget/b.img\nide2: local:iso/tools.iso,media=cdrom\n');
    t.put('/etc/pve/qemu-server/100.conf', 'scsi0: local:100/vm-100-disk-0.raw,size=4K\n');
    // a VM on another node of the cluster, seen through pmxcfs
    t.put('/etc/pve/nodes/pve2/qemu-server/300.conf', 'virtio0: /var/lib/vz/usb-gadget/c.img\n');
  });
  afterEach(() => t.remove());

  const check = (image: string, readonly = false, allowed = WIDE) => {
    const s = settings(allowed);
    return checkImage(t.fs, s, 'usb-gadget.image', image, readonly, imageContext(t.fs, s, 100));
  };
  const refusal = (image: string, readonly = false, allowed = WIDE): string => {
    try {
      check(image, readonly, allowed);
    } catch (err) {
      expect(err).toBeInstanceOf(ImagePolicyError);
      expect((err as ImagePolicyError).key).toBe('usb-gadget.image');
      return (err as Error).message;
    }
    throw new Error(`${image} was accepted`);
  };

  it("refuses another VM's disk file by its path, whether that VM runs or not", () => {
    expect(refusal('/var/lib/vz/images/101/vm-101-disk-0.raw')).toMatch(/VM 101's folder of storage 'local'.*a VM may only use its own volumes/);
    // read-only does not make another tenant's data ours
    expect(refusal('/var/lib/vz/images/101/vm-101-disk-0.raw', true)).toMatch(/VM 101's folder/);
  });

  it('judges every storage that has a folder, allowed_storages or not (NFS, content-dirs)', () => {
    expect(refusal('/mnt/pve/nas/images/101/vm-101-disk-0.raw')).toMatch(/VM 101's folder of storage 'nas'/);
    expect(refusal('/srv/renamed/disks/101/vm-101-disk-0.raw')).toMatch(/VM 101's folder of storage 'renamed'/);
    expect(refusal('/srv/renamed/isos/x.iso')).toMatch(/ISO image is shared by every VM/);
    expect(check('/srv/renamed/isos/x.iso', true)).toBe('/srv/renamed/isos/x.iso');
  });

  it('follows symlinks first: a link in an allowed folder to a disk is that disk', () => {
    symlinkSync(join(t.root, '/var/lib/vz/images/101/vm-101-disk-0.raw'), join(t.root, '/var/lib/vz/usb-gadget/evil.img'));
    expect(refusal('/var/lib/vz/usb-gadget/evil.img', false, ['/var/lib/vz/usb-gadget', '/var/lib/vz/images'])).toMatch(/-> \/var\/lib\/vz\/images\/101\/.*VM 101's folder/);
  });

  it('applies the volume rules to this VM\'s own files: templates, formats, stray files, other content', () => {
    expect(check('/var/lib/vz/images/100/vm-100-disk-1.raw')).toBe('/var/lib/vz/images/100/vm-100-disk-1.raw');
    expect(refusal('/var/lib/vz/images/100/base-100-disk-3.raw')).toMatch(/base volume of a template/);
    expect(refusal('/var/lib/vz/images/100/vm-100-disk-2.qcow2')).toMatch(/qcow2 volume; only raw/);
    expect(refusal('/var/lib/vz/images/stray.raw')).toMatch(/in no VM's folder/);
    expect(refusal('/var/lib/vz/dump/vzdump-qemu-101-2026_01_01-00_00_00.vma')).toMatch(/backup content of storage 'local'/);
    expect(refusal('/var/lib/vz/template/iso/tools.iso')).toMatch(/must not be written/);
  });

  it("refuses any VM config's drive: this VM's own, a stopped VM's, another node's", () => {
    expect(refusal('/var/lib/vz/images/100/vm-100-disk-0.raw')).toMatch(/this VM's disk scsi0/);
    expect(refusal('/var/lib/vz/usb-gadget/b.img')).toMatch(/VM 101's disk scsi1 \(its config names it, running or not\)/);
    expect(refusal('/var/lib/vz/usb-gadget/c.img')).toMatch(/VM 300's disk virtio0/);
    // a CD drive's ISO may be shared read-only, never written
    expect(check('/var/lib/vz/template/iso/tools.iso', true)).toBe('/var/lib/vz/template/iso/tools.iso');
  });

  it('leaves files outside the storage folders to allowed_dirs', () => {
    expect(check('/var/lib/vz/usb-gadget/a.img')).toBe('/var/lib/vz/usb-gadget/a.img');
  });

  it('refuses a regular file with more than one hard link, and says why', () => {
    linkSync(join(t.root, '/var/lib/vz/images/101/vm-101-disk-0.raw'), join(t.root, '/var/lib/vz/usb-gadget/linked.img'));
    expect(refusal('/var/lib/vz/usb-gadget/linked.img', false, ['/var/lib/vz/usb-gadget'])).toMatch(/2 hard links: its other names may be anywhere/);
    t.put('/var/lib/vz/usb-gadget/own.img', block);
    linkSync(join(t.root, '/var/lib/vz/usb-gadget/own.img'), join(t.root, '/var/lib/vz/usb-gadget/own-too.img'));
    expect(refusal('/var/lib/vz/usb-gadget/own.img', true, ['/var/lib/vz/usb-gadget'])).toMatch(/hard links/);
  });
});
