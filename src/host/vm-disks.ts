import type { HostFs } from '../ports/host-fs.js';
import { driveVolume, isCdromDrive, isDriveKey } from '../proxmox/drives.js';
import type { StorageConfig } from '../storage/storage-config.js';
import { volumeFile } from '../storage/storage-dirs.js';
import { clusterVms } from './cluster-vms.js';
import type { ImageUse, VmDisk } from './image-uses.js';

/** The file a drive option points at, when that can be known without running pvesm (the hook is on the start path). */
export function diskPath(value: string, storages: StorageConfig): string | undefined {
  const volume = driveVolume(value);
  if (volume === undefined) return undefined;
  return volume.startsWith('/') ? volume : volumeFile(storages, volume);
}

/**
 * The disks every VM config names, running or not, this VM's own included: a file that is a VM's disk
 * is that VM's, whatever any notes say (QEMU writes it whenever the VM runs, and a stopped VM's disk
 * handed to another VM is another tenant's data). Drives whose file cannot be known without pvesm
 * (LVM, ZFS, RBD volumes) are left out: notes can name those only as volume ids, whose rules check
 * ownership themselves.
 */
export function vmConfigDisks(fs: HostFs, storages: StorageConfig, pveConfigDir: string): VmDisk[] {
  const disks: VmDisk[] = [];
  for (const { vmid, options } of clusterVms(fs, pveConfigDir)) {
    for (const [key, value] of Object.entries(options)) {
      if (!isDriveKey(key)) continue;
      const path = diskPath(value, storages);
      if (!path) continue;
      let image: string;
      try {
        image = fs.realpath(path);
      } catch {
        // a missing disk file cannot be one of our images
        continue;
      }
      disks.push({ vmid, key, image, cdrom: isCdromDrive(key, value) });
    }
  }
  return disks;
}

/** VM disks as uses of their image: read-write, but for CD drives (a read-only LUN may share an ISO). */
export function diskUses(disks: readonly VmDisk[]): ImageUse[] {
  return disks.map((d) => ({ image: d.image, readonly: d.cdrom, by: `VM ${d.vmid} (as its ${d.cdrom ? 'CD drive' : 'disk'} ${d.key})` }));
}
