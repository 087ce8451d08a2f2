/**
 * Every VM config of the cluster as pmxcfs shows it on this node, without the API (the hook is on the
 * start path and must decide before any effect): /etc/pve/nodes/<node>/qemu-server/<vmid>.conf for each
 * node, plus the configured pveConfigDir (on Proxmox /etc/pve/qemu-server, a link to this node's folder;
 * in tests a plain folder). The nodes folder is pveConfigDir's sibling. Parsed with the same reader as
 * the VM's own config (proxmox/local-config.ts); vmids are unique in a cluster, so the first file found
 * for a vmid wins (pveConfigDir is a link to this node's folder: the same file twice). The one lister of
 * VM configs: the GUID check (hook/identity-check.ts) and the image policy's disks (host/vm-disks.ts).
 */
import { posix } from 'node:path';
import type { HostFs } from '../ports/host-fs.js';
import { parseLocalVmConfig, type LocalVmConfig } from '../proxmox/local-config.js';

export interface ClusterVm extends LocalVmConfig {
  vmid: number;
  /** the node whose folder holds the config; undefined for pveConfigDir itself */
  node?: string;
}

const CONF = /^([1-9]\d{0,8})\.conf$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

export function clusterVms(fs: HostFs, pveConfigDir: string): ClusterVm[] {
  const nodesDir = posix.join(posix.dirname(pveConfigDir), 'nodes');
  const folders: { dir: string; node?: string }[] = fs
    .list(nodesDir)
    .filter((n) => NODE.test(n))
    .map((node) => ({ dir: `${nodesDir}/${node}/qemu-server`, node }));
  folders.push({ dir: pveConfigDir });
  const seen = new Map<number, ClusterVm>();
  for (const { dir, node } of folders) {
    for (const name of fs.list(dir)) {
      const vmid = Number(CONF.exec(name)?.[1]);
      if (!vmid || seen.has(vmid)) continue;
      const text = fs.readTextIfExists(`${dir}/${name}`);
      if (text === undefined) continue;
      seen.set(vmid, { vmid, ...(node === undefined ? {} : { node }), ...parseLocalVmConfig(text) });
    }
  }
  return [...seen.values()].sort((a, b) => a.vmid - b.vmid);
}
