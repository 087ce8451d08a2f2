import type { HostFs } from '../apply/host-fs.js';
import { driveVolume, isCdromDrive, isDriveKey } from '../proxmox/drives.js';
import { parseLocalVmConfig } from '../proxmox/local-config.js';
import type { StorageConfig } from '../storage/storage-config.js';
import { volumeFile } from '../storage/storage-dirs.js';
import type { ImageUse, VmDisk } from './image-uses.js';

/** pmxcfs keeps every node's VM configs here; /etc/pve/qemu-server is a link to this node's folder. */
const NODES_DIR = '/etc/pve/nodes';

/** The file a drive option points at, when that can be known without running pvesm (the hook is on the start path). */
export function diskPath(value: string, storages: StorageConfig): string | undefined {
  const volume = driveVolume(value);
  if (volume === undefined) return undefined;
  return volume.startsWith('/') ? volume : volumeFile(storages, volume);
}

/** The folders holding VM configs: this node's, then every node's (pmxcfs), each VM once. */
export function vmConfigFiles(fs: HostFs, pveConfigDir: string): { vmid: number; file: string }[] {
  const dirs = [pveConfigDir, ...fs.list(NODES_DIR).map((n) => `${NODES_DIR}/${n}/qemu-server`)];
  const seen = new Set<number>();
  const out: { vmid: number; file: string }[] = [];
  for (const dir of dirs) {
    for (const name of fs.list(dir)) {
      const vmid = Number(/^([1-9]\d*)\.conf$/.exec(name)?.[1]);
      if (!vmid || seen.has(vmid)) continue;
      seen.add(vmid);
      out.push({ vmid, file: `${dir}/${name}` });
    }
  }
  return out;
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
  for (const { vmid, file } of vmConfigFiles(fs, pveConfigDir)) {
    const text = fs.readTextIfExists(file);
    if (!text) continue;
    for (const [key, value] of Object.entries(parseLocalVmConfig(text).options)) {
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
