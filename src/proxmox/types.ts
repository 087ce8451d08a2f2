/** Shapes the ProxmoxClient takes and returns. */
import type { FetchLike } from './tls.js';

export interface ProxmoxClientOptions {
  /** https://host:port, e.g. https://127.0.0.1:8006 (a trailing /api2/json is accepted) */
  url: string;
  /** USER@REALM!TOKENID */
  tokenId: string;
  /** the token secret (a UUID); never appears in any message */
  secret: string;
  /** cluster CA PEM the server certificate must chain to */
  caPem: string;
  /** replaces the pinned fetch (tests); then caPem is not used */
  fetch?: FetchLike;
  /** per-request timeout, default 30 s (PVE itself waits 10 s for a config lock) */
  timeoutMs?: number;
}

export type ConfigValue = string | number;

export interface VmConfig {
  config: Record<string, ConfigValue>;
  digest: string;
}

export interface VmStatus {
  /** 'running' | 'stopped' (PVE may add others) */
  status: string;
  qmpstatus?: string;
  name?: string;
  lock?: string;
  uptime?: number;
}

export interface UsbMapping {
  id: string;
  description?: string;
  /** entries "node=<node>,id=<VID:PID>[,path=...]" */
  map: string[];
  /** digest of the whole mapping file (changes when any mapping changes) */
  digest?: string;
}

export interface TaskStatus {
  upid: string;
  status: 'running' | 'stopped' | string;
  /** 'OK' or the error text, once stopped */
  exitstatus?: string;
}

export interface PveVersion {
  version: string;
  release: string;
  repoid: string;
}

export interface ClusterVm {
  vmid: number;
  node: string;
  name?: string;
  status?: string;
  template?: boolean;
}

export interface UpdateOptions {
  /** options to remove */
  delete?: string[];
  /** refuse the change if the config changed since this digest was read */
  digest?: string;
}

/** One storage as GET /storage lists it (its storage.cfg section). */
export interface StorageEntry {
  storage: string;
  /** plugin type: dir, lvm, lvmthin, zfspool, rbd, nfs, ... */
  type: string;
  /** shared flag (always set for the shared-by-nature types: rbd, nfs, cifs, cephfs, iscsi, ...) */
  shared: boolean;
  /** node restriction; undefined = every node */
  nodes?: string[];
  disabled: boolean;
  content: string[];
  /** directory of file-based storages */
  path?: string;
}

/** GET /nodes/{node}/storage/{storage}/status (the parts that matter here). */
export interface StorageStatus {
  type: string;
  /** reachable/mounted on that node */
  active: boolean;
  enabled: boolean;
  shared: boolean;
  content: string[];
}

/** GET /nodes/{node}/storage/{storage}/content/{volume} */
export interface VolumeInfo {
  /** what PVE::Storage::path gives (a device, a file, or for RBD without krbd an rbd: URL) */
  path: string;
  /** raw, qcow2, vmdk, subvol, iso, ... */
  format: string;
  size: number;
}
