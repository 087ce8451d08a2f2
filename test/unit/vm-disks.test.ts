import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import { diskPath, diskUses, vmConfigDisks } from '../../src/host/vm-disks.js';
import { parseStorageConfig } from '../../src/storage/storage-config.js';

const storageCfg = `dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,images

lvmthin: local-lvm
\tthinpool data
\tvgname pve

nfs: shared
\tpath /mnt/pve/shared
\tserver 10.0.0.1

btrfs: fast
\tpath /mnt/fast
`;

describe('disks of VM configs', () => {
  it('maps drive options to files, for the file storages only', () => {
    const s = parseStorageConfig(storageCfg);
    expect(diskPath('local:100/vm-100-disk-0.raw,size=8G', s)).toBe('/var/lib/vz/images/100/vm-100-disk-0.raw');
    expect(diskPath('local:100/base-100-disk-0.raw/101/vm-101-disk-0.qcow2', s)).toBe('/var/lib/vz/images/101/vm-101-disk-0.qcow2');
    expect(diskPath('shared:iso/x.iso,media=cdrom', s)).toBe('/mnt/pve/shared/template/iso/x.iso');
    expect(diskPath('fast:100/vm-100-disk-0.raw', s)).toBe('/mnt/fast/images/100/vm-100-disk-0/disk.raw');
    expect(diskPath('/var/lib/vz/usb-gadget/a.img,cache=none', s)).toBe('/var/lib/vz/usb-gadget/a.img');
    expect(diskPath('file=/var/lib/vz/usb-gadget/a.img,cache=none', s)).toBe('/var/lib/vz/usb-gadget/a.img');
    expect(diskPath('local-lvm:vm-100-disk-0', s)).toBeUndefined();
    expect(diskPath('none,media=cdrom', s)).toBeUndefined();
  });

  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists the drives of every VM config, running or not, the VM itself and other nodes included, once each', () => {
    root = mkdtempSync(join(tmpdir(), 'pvug-disks-'));
    const fs = nodeHostFs(root);
    for (const d of ['/etc/pve/qemu-server', '/etc/pve/nodes/pve2/qemu-server', '/var/lib/vz/usb-gadget', '/var/lib/vz/template/iso']) fs.mkdir(d, { recursive: true });
    fs.write('/etc/pve/storage.cfg', storageCfg);
    for (const f of ['a.img', 'b.img', 'c.img']) fs.write(`/var/lib/vz/usb-gadget/${f}`, 'x');
    fs.write('/var/lib/vz/template/iso/x.iso', 'x');
    const conf101 = '#notes\nscsi1: /var/lib/vz/usb-gadget/a.img,size=1M\nide2: local:iso/x.iso,media=cdrom\nunused0: /var/lib/vz/usb-gadget/c.img\n';
    fs.write('/etc/pve/qemu-server/101.conf', conf101);
    fs.write('/etc/pve/qemu-server/100.conf', 'scsi1: /var/lib/vz/usb-gadget/b.img\nscsi2: /var/lib/vz/usb-gadget/gone.img\n');
    fs.write('/etc/pve/nodes/pve2/qemu-server/300.conf', 'sata0: /var/lib/vz/usb-gadget/c.img\n');
    // the same VM seen again (/etc/pve/qemu-server is a link to this node's folder): counted once
    fs.write('/etc/pve/nodes/pve2/qemu-server/101.conf', conf101);
    const disks = vmConfigDisks(fs, parseStorageConfig(storageCfg), '/etc/pve/qemu-server');
    expect(disks).toEqual([
      { vmid: 100, key: 'scsi1', image: '/var/lib/vz/usb-gadget/b.img', cdrom: false },
      { vmid: 101, key: 'scsi1', image: '/var/lib/vz/usb-gadget/a.img', cdrom: false },
      { vmid: 101, key: 'ide2', image: '/var/lib/vz/template/iso/x.iso', cdrom: true },
      { vmid: 300, key: 'sata0', image: '/var/lib/vz/usb-gadget/c.img', cdrom: false },
    ]);
    expect(diskUses(disks.slice(1, 3))).toEqual([
      { image: '/var/lib/vz/usb-gadget/a.img', readonly: false, by: 'VM 101 (as its disk scsi1)' },
      { image: '/var/lib/vz/template/iso/x.iso', readonly: true, by: 'VM 101 (as its CD drive ide2)' },
    ]);
  });
});
