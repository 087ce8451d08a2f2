/**
 * On which cluster nodes a VM's stick can be built, from where its images live. Pure.
 *
 * - An absolute path is a file or device of one node: the node the VM is on.
 * - A volume on a local storage (lvm, lvmthin, zfspool, dir without `shared`) exists on one node only.
 *   Another node may hold a volume with the same name on its own storage of the same id: a different
 *   disk, so the VM must not start there with it either.
 * - A volume on a shared storage (rbd, nfs, cifs, cephfs, or `shared 1`) is the same on every node the
 *   storage is available on (all nodes, or its `nodes` list).
 *
 * The USB mapping is Proxmox's own gate for offline migration: qemu-server refuses to migrate a VM with
 * `usbN: mapping=<id>` to a node that has no entry in that mapping ("missing mapped devices"), and it
 * refuses live migration of a running VM with a mapped USB device altogether. Entries for exactly these
 * nodes therefore make Proxmox allow the migrations that can work and refuse the others.
 */
import type { StorageConfig } from './storage-config.js';
import { looksLikeVolumeId, parseVolumeId } from './volume-id.js';

export type LunLocation =
  | { kind: 'path' }
  | { kind: 'volume'; storage: string; shared: boolean; nodes?: readonly string[]; disabled?: boolean };

export interface Placement {
  /** nodes where every LUN's image is reachable */
  nodes: string[];
  /** why other nodes are out, one reason per LUN that restricts */
  limits: string[];
}

export function placement(luns: readonly { index: number; location: LunLocation }[], clusterNodes: readonly string[], vmNode: string): Placement {
  let nodes = [...new Set([...clusterNodes, vmNode])].sort();
  const limits: string[] = [];
  for (const { index, location } of luns) {
    let here: readonly string[];
    if (location.kind === 'path') {
      here = [vmNode];
      limits.push(`lun${index} is a path on ${vmNode}`);
    } else if (location.disabled) {
      here = [];
      limits.push(`lun${index}: storage ${location.storage} is disabled`);
    } else if (!location.shared) {
      here = [vmNode];
      limits.push(`lun${index} is on ${location.storage}, a local storage of ${vmNode}`);
    } else {
      here = location.nodes ?? clusterNodes;
      if (location.nodes) limits.push(`lun${index}: storage ${location.storage} is only on ${location.nodes.join(', ')}`);
    }
    nodes = nodes.filter((n) => here.includes(n));
  }
  return { nodes, limits };
}

/** Where each LUN's image lives, from the notes' images and storage.cfg (unknown storages: this node only). */
export function lunLocations(luns: readonly { index: number; image: string }[], storages: StorageConfig): { index: number; location: LunLocation }[] {
  return luns.map(({ index, image }) => {
    const id = looksLikeVolumeId(image) ? parseVolumeId(image) : undefined;
    const def = id?.ok ? storages.get(id.value.storage) : undefined;
    const location: LunLocation = def ? { kind: 'volume', storage: def.id, shared: def.shared, nodes: def.nodes, disabled: def.disabled } : { kind: 'path' };
    return { index, location };
  });
}
