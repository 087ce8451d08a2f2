import type { HostFs } from '../ports/host-fs.js';
import { gadgetName } from '../plan/ops.js';
import type { Settings } from '../settings/types.js';
import { readStorageConfig } from '../storage/storage-config.js';
import { exportedImages } from './conflicts.js';
import type { ImageContext } from './image-policy.js';
import { diskUses, vmConfigDisks } from './vm-disks.js';

/**
 * Everything the image policies compare a LUN with, read once per decision: storage.cfg, the drives of
 * every VM config, and what other gadgets export (configfs). Pre-start reads it before any effect and
 * again under the host lock, where another VM may have started meanwhile.
 */
export function imageContext(fs: HostFs, settings: Settings, vmid: number, vmConfig?: Readonly<Record<string, string>>): ImageContext {
  const storages = readStorageConfig(fs);
  return {
    vmid,
    node: settings.node,
    storages,
    vmDisks: vmConfigDisks(fs, storages, settings.paths.pveConfigDir),
    inUse: exportedImages(fs, gadgetName(vmid)),
    vmConfig,
  };
}

/** Uses a resolved volume is compared with: other gadgets' exports and every VM's drives. */
export function volumeUses(ctx: ImageContext) {
  return [...ctx.inUse, ...diskUses(ctx.vmDisks)];
}
