import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import { diskPath, fileStoragePaths, runningVmDisks } from '../../src/host/vm-disks.js';

const storageCfg = `dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,images

lvmthin: local-lvm
\tthinpool data
\tvgname pve

nfs: shared
\tpath /mnt/pve/shared
\tserver 10.0.0.1
`;

describe('disks of running VMs', () => {
  it('knows the paths of file storages only', () => {
    expect([...fileStoragePaths(storageCfg)]).toEqual([
      ['local', '/var/lib/vz'],
      ['shared', '/mnt/pve/shared'],
    ]);
  });

  it('maps disk options to files', () => {
    const s = fileStoragePaths(storageCfg);
    expect(diskPath('local:100/vm-100-disk-0.raw,size=8G', s)).toBe('/var/lib/vz/images/100/vm-100-disk-0.raw');
    expect(diskPath('shared:iso/x.iso,media=cdrom', s)).toBe('/mnt/pve/shared/template/iso/x.iso');
    expect(diskPath('/var/lib/vz/usb-gadget/a.img,cache=none', s)).toBe('/var/lib/vz/usb-gadget/a.img');
    expect(diskPath('local-lvm:vm-100-disk-0', s)).toBeUndefined();
    expect(diskPath('none,media=cdrom', s)).toBeUndefined();
  });

  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists the disks of running VMs, not of stopped ones or of the VM itself', () => {
    root = mkdtempSync(join(tmpdir(), 'pvug-disks-'));
    const fs = nodeHostFs(root);
    for (const d of ['/etc/pve/qemu-server', '/var/run/qemu-server', '/proc/4242', '/var/lib/vz/usb-gadget']) fs.mkdir(d, { recursive: true });
    fs.write('/etc/pve/storage.cfg', storageCfg);
    fs.write('/var/lib/vz/usb-gadget/a.img', 'x');
    fs.write('/var/lib/vz/usb-gadget/b.img', 'x');
    fs.write('/etc/pve/qemu-server/101.conf', '#notes\nscsi1: /var/lib/vz/usb-gadget/a.img,size=1M\n');
    fs.write('/etc/pve/qemu-server/102.conf', 'scsi1: /var/lib/vz/usb-gadget/b.img\n');
    fs.write('/etc/pve/qemu-server/100.conf', 'scsi1: /var/lib/vz/usb-gadget/b.img\n');
    fs.write('/var/run/qemu-server/101.pid', '4242\n');
    fs.write('/var/run/qemu-server/100.pid', '4242\n');
    fs.write('/var/run/qemu-server/102.pid', '999999\n'); // stale pid file: not running
    expect(runningVmDisks(fs, '/etc/pve/qemu-server', 100)).toEqual([
      { image: '/var/lib/vz/usb-gadget/a.img', readonly: false, by: 'VM 101 (as its disk scsi1)' },
    ]);
  });
});
