/**
 * PVE's answers read into the client's types. proxmox-api types each endpoint's answer after PVE's schema
 * (often `any`, or fields PVE leaves out), so the client takes every answer as `unknown` and narrows it
 * here with type guards: one place that knows the shapes, tolerant of missing fields as PVE's are, and
 * no casts. An answer that is not even the object or list an endpoint returns (an empty 200) is a
 * 'server' error naming the request.
 */
import { ProxmoxApiError } from './errors.js';
import type {
  ClusterVm,
  ConfigValue,
  PveVersion,
  StorageEntry,
  StorageStatus,
  TaskStatus,
  UsbMapping,
  VmConfig,
  VmStatus,
  VolumeInfo,
} from './types.js';

type Row = Record<string, unknown>;

export function isRecord(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The answer as an object; `request` ("GET /version") names it when it is not one. */
export function recordOf(raw: unknown, request: string): Row {
  if (isRecord(raw)) return raw;
  throw unexpected(request, 'an object');
}

/** The answer as a list of objects (rows that are not objects are skipped). */
export function rowsOf(raw: unknown, request: string): Row[] {
  if (Array.isArray(raw)) return raw.filter(isRecord);
  throw unexpected(request, 'a list');
}

function unexpected(request: string, what: string): ProxmoxApiError {
  return new ProxmoxApiError(`Proxmox API ${request} answered without ${what}`, {
    kind: 'server',
    request,
    fix: 'api.url must point at pveproxy itself (https://<host>:8006); see journalctl -u pveproxy on the node',
  });
}

const optString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** PVE's booleans are 0/1 (integers in JSON; strings in some lists) */
const flag = (v: unknown): boolean => v === 1 || v === true;

export function toVersion(r: Row): PveVersion {
  return { version: String(r.version ?? ''), release: String(r.release ?? ''), repoid: String(r.repoid ?? '') };
}

export function toNode(r: Row): { node: string; status: string } {
  return { node: String(r.node), status: String(r.status) };
}

/** /cluster/resources rows of type qemu (the others are containers, storages, nodes). */
export function toClusterVms(rows: Row[]): ClusterVm[] {
  return rows
    .filter((r) => r.type === 'qemu')
    .map((r) => ({
      vmid: Number(r.vmid),
      node: String(r.node),
      name: optString(r.name),
      status: optString(r.status),
      template: flag(r.template),
    }));
}

/**
 * The config's options; PVE sends the digest among them. Options come as strings or numbers; anything
 * else (PVE sends none) is kept as its text.
 */
export function toVmConfig(r: Row): VmConfig {
  const config: Record<string, ConfigValue> = {};
  let digest = '';
  for (const [k, v] of Object.entries(r)) {
    if (k === 'digest') digest = String(v ?? '');
    else if (typeof v === 'string' || typeof v === 'number') config[k] = v;
    else if (v !== undefined) config[k] = String(v);
  }
  return { config, digest };
}

export function toTaskStatus(upid: string, r: Row): TaskStatus {
  return { upid, status: String(r.status), exitstatus: optString(r.exitstatus) };
}

export function toVmStatus(r: Row): VmStatus {
  return {
    status: String(r.status),
    qmpstatus: optString(r.qmpstatus),
    name: optString(r.name),
    lock: optString(r.lock),
    uptime: typeof r.uptime === 'number' ? r.uptime : undefined,
  };
}

export function toMapping(id: string, r: Row): UsbMapping {
  const map = Array.isArray(r.map) ? r.map.map(String) : typeof r.map === 'string' ? [r.map] : [];
  return { id, map, description: optString(r.description), digest: optString(r.digest) };
}

/** { path: { privilege: propagate(0|1) } } */
export function toPermissions(r: Row): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [path, privs] of Object.entries(r)) {
    if (!isRecord(privs)) continue;
    const set: Record<string, number> = {};
    for (const [priv, propagate] of Object.entries(privs)) if (typeof propagate === 'number') set[priv] = propagate;
    out[path] = set;
  }
  return out;
}

export function toStorageEntry(r: Row): StorageEntry {
  const list = (v: unknown) => (typeof v === 'string' ? v.split(/[,;\s]+/).filter(Boolean) : []);
  const nodes = list(r.nodes);
  return {
    storage: String(r.storage ?? ''),
    type: String(r.type ?? ''),
    shared: flag(r.shared) || r.shared === '1',
    nodes: nodes.length > 0 ? nodes : undefined,
    disabled: flag(r.disable) || r.disable === '1',
    content: list(r.content),
    path: optString(r.path),
  };
}

export function toStorageStatus(r: Row): StorageStatus {
  return {
    type: String(r.type ?? ''),
    active: flag(r.active),
    enabled: r.enabled === undefined ? true : flag(r.enabled),
    shared: flag(r.shared),
    content: String(r.content ?? '').split(',').filter(Boolean),
  };
}

export function toVolumeInfo(r: Row): VolumeInfo {
  return { path: String(r.path ?? ''), format: String(r.format ?? ''), size: Number(r.size ?? 0) };
}
