import type { HostFs } from '../apply/host-fs.js';
import { parseLocalVmConfig } from '../proxmox/local-config.js';
import type { ImageUse } from './image-policy.js';

const QEMU_RUN_DIR = '/var/run/qemu-server';
const STORAGE_CFG = '/etc/pve/storage.cfg';
const DISK_KEY = /^(ide|sata|scsi|virtio)\d+$|^(efidisk|tpmstate)0$/;
/** storage types whose volumes are files below `path` (PVE::Storage::Plugin layout) */
const FILE_STORAGES = new Set(['dir', 'nfs', 'cifs', 'cephfs', 'glusterfs', 'btrfs']);

/** storage id → path, for the file-based storages in /etc/pve/storage.cfg */
export function fileStoragePaths(storageCfg: string): Map<string, string> {
  const paths = new Map<string, string>();
  let current: string | undefined;
  for (const line of storageCfg.split('\n')) {
    const head = /^(\w+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      current = FILE_STORAGES.has(head[1] ?? '') ? head[2] : undefined;
      continue;
    }
    const path = /^\s+path\s+(\S+)\s*$/.exec(line);
    if (current && path?.[1]) paths.set(current, path[1]);
  }
  return paths;
}

/** The file a disk option points at, when that can be known without running pvesm (the hook is on the start path). */
export function diskPath(value: string, storages: ReadonlyMap<string, string>): string | undefined {
  const volume = value.split(',')[0]?.trim() ?? '';
  if (volume.startsWith('/')) return volume;
  const m = /^([a-zA-Z][\w.-]*):(.+)$/.exec(volume);
  if (!m?.[1] || !m[2]) return undefined;
  const base = storages.get(m[1]);
  if (!base) return undefined;
  const vol = m[2];
  if (/^\d+\/[^/]+$/.test(vol)) return `${base}/images/${vol}`;
  if (/^iso\/[^/]+$/.test(vol)) return `${base}/template/${vol}`;
  return undefined;
}

function isRunning(fs: HostFs, vmid: number): boolean {
  const pid = fs.readTextIfExists(`${QEMU_RUN_DIR}/${vmid}.pid`)?.trim();
  return !!pid && /^\d+$/.test(pid) && fs.exists(`/proc/${pid}`);
}

/**
 * Disks of the running VMs on this node (absolute paths and file-storage volumes), as ImageUse entries:
 * an image a running VM has as a disk is in use read-write, whatever the other VM's notes say.
 */
export function runningVmDisks(fs: HostFs, pveConfigDir: string, exceptVmid: number): ImageUse[] {
  const storages = fileStoragePaths(fs.readTextIfExists(STORAGE_CFG) ?? '');
  const uses: ImageUse[] = [];
  for (const name of fs.list(pveConfigDir)) {
    const vmid = Number(/^([1-9]\d*)\.conf$/.exec(name)?.[1]);
    if (!vmid || vmid === exceptVmid || !isRunning(fs, vmid)) continue;
    const text = fs.readTextIfExists(`${pveConfigDir}/${name}`);
    if (!text) continue;
    for (const [key, value] of Object.entries(parseLocalVmConfig(text).options)) {
      if (!DISK_KEY.test(key)) continue;
      const path = diskPath(value, storages);
      if (!path) continue;
      let image = path;
      try {
        image = fs.realpath(path);
      } catch {
        // a missing disk file cannot be one of our images
        continue;
      }
      uses.push({ image, readonly: false, by: `VM ${vmid} (as its disk ${key})` });
    }
  }
  return uses;
}
