/**
 * The cluster USB resource mapping that lets a VM use its emulated stick: one mapping per VM
 * ("usb-gadget-<vmid>"), one entry per node ("node=<node>,id=<VID:PID>"). qemu-server resolves it when it
 * builds the QEMU command line, after pre-start, on whichever node the VM starts; it refuses more than one
 * entry per node ("More than one USB mapping per host not supported"), so an entry is replaced, never added
 * twice. Entries of other nodes are left exactly as they are.
 */
import { normalizeUsbId as normalizeVidPid } from '../values/usb-id.js';
import { ProxmoxApiError } from './errors.js';
import type { ProxmoxClient, UsbMapping } from './client.js';

export const MAPPING_PREFIX = 'usb-gadget-';

export function mappingName(vmid: number): string {
  if (!Number.isInteger(vmid) || vmid < 1) throw new RangeError(`not a VM id: ${String(vmid)}`);
  return `${MAPPING_PREFIX}${vmid}`;
}

/** The vmid a mapping name belongs to, or undefined for mappings that are not ours. */
export function vmidOfMapping(name: string): number | undefined {
  const m = /^usb-gadget-([1-9]\d*)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export interface MapEntry {
  node?: string;
  /** VID:PID as written */
  id?: string;
  path?: string;
  description?: string;
}

/** Parses "node=pve1,id=1d6b:0104[,path=1-2][,description=...]"; undefined when it is not key=value pairs. */
export function parseMapEntry(entry: string): MapEntry | undefined {
  const out: MapEntry = {};
  for (const part of entry.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 'node' || key === 'id' || key === 'path' || key === 'description') out[key] = value;
  }
  return out;
}

export function formatMapEntry(node: string, usbId: string): string {
  return `node=${node},id=${normalizeUsbId(usbId)}`;
}

/** "1D6B:0104" / "0x1d6b:0x0104" → "1d6b:0104"; throws on anything else. */
export function normalizeUsbId(usbId: string): string {
  const id = normalizeVidPid(usbId);
  if (id === undefined) throw new RangeError(`not a VID:PID: '${usbId}'`);
  return id;
}

/**
 * The map with exactly one entry for `node`, pointing at `usbId` without a path (the gadget's bus number
 * changes between module loads). Keeps the position of this node's first entry and all other entries.
 */
export function withNodeEntry(map: readonly string[], node: string, usbId: string): { map: string[]; changed: boolean } {
  const wanted = formatMapEntry(node, usbId);
  const out: string[] = [];
  let placed = false;
  for (const entry of map) {
    if (parseMapEntry(entry)?.node !== node) {
      out.push(entry);
    } else if (!placed) {
      out.push(wanted);
      placed = true;
    }
  }
  if (!placed) out.push(wanted);
  const changed = out.length !== map.length || out.some((e, i) => e !== map[i]);
  return { map: changed ? out : [...map], changed };
}

/** The map without `node`'s entries. */
export function withoutNodeEntry(map: readonly string[], node: string): { map: string[]; changed: boolean } {
  const out = map.filter((e) => parseMapEntry(e)?.node !== node);
  return { map: out, changed: out.length !== map.length };
}

export type MappingClient = Pick<ProxmoxClient, 'getUsbMapping' | 'createUsbMapping' | 'updateUsbMapping'>;

export interface EnsureMappingResult {
  id: string;
  action: 'created' | 'updated' | 'unchanged';
  map: string[];
}

/**
 * Creates or updates the VM's mapping so this node's entry points at `usbId`. Safe against two nodes
 * doing it at once: updates carry the digest read before, and a lost race (digest mismatch, or the
 * mapping appearing between read and create) is retried from a fresh read.
 */
export async function ensureMapping(
  client: MappingClient,
  args: { vmid: number; node: string; usbId: string; description?: string },
  attempts = 4,
): Promise<EnsureMappingResult> {
  const id = mappingName(args.vmid);
  const usbId = normalizeUsbId(args.usbId);
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const existing: UsbMapping | undefined = await client.getUsbMapping(id);
    try {
      if (!existing) {
        const map = [formatMapEntry(args.node, usbId)];
        await client.createUsbMapping({
          id,
          map,
          description: args.description ?? `pve-usb-gadget: emulated USB stick of VM ${args.vmid}`,
        });
        return { id, action: 'created', map };
      }
      const next = withNodeEntry(existing.map, args.node, usbId);
      if (!next.changed) return { id, action: 'unchanged', map: next.map };
      await client.updateUsbMapping(id, { map: next.map, digest: existing.digest });
      return { id, action: 'updated', map: next.map };
    } catch (err) {
      // conflict = another writer won the race; not-found = it deleted the mapping in between
      const retry = err instanceof ProxmoxApiError && (err.kind === 'conflict' || err.notFound?.type === 'mapping');
      if (!retry) throw err;
      lastError = err;
    }
  }
  throw lastError;
}
