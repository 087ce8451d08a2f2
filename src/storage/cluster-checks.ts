/**
 * doctor's cluster view of one VM's stick: on which nodes it can be built (placement.ts), whether each
 * of those nodes sees the volume (storage active, volume there, raw), and whether the USB mapping has
 * the entries Proxmox demands before an offline migration. Asks the API, because a node cannot see
 * another node's storage state: GET /storage, /nodes/{n}/storage/{s}/status and
 * /nodes/{n}/storage/{s}/content/{volume} (needs Datastore.Audit on the storage and VM.Config.Disk on
 * the VM; without them the checks say what they could not check).
 */
import { GadgetError } from '../errors.js';
import type { ProxmoxClient } from '../proxmox/client.js';
import { isProxmoxApiError } from '../proxmox/errors.js';
import { mappingName, parseMapEntry } from '../proxmox/mapping.js';
import { placement, type LunLocation } from './placement.js';
import { looksLikeVolumeId, parseVolumeId } from './volume-id.js';

/** Same shape as the CLI's doctor CheckResult. */
export interface StorageFinding {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export type StorageCheckApi = Pick<ProxmoxClient, 'listNodes' | 'listStorages' | 'getStorageStatus' | 'getVolumeInfo' | 'getUsbMapping'>;

export interface VmStick {
  vmid: number;
  /** the node the VM is on now */
  node: string;
  /** VID:PID of the stick */
  usbId: string;
  luns: readonly { index: number; image: string }[];
}

const message = (err: unknown) => (err instanceof GadgetError ? err.message : err instanceof Error ? err.message : String(err));

/** What a caller checking many VMs has already read once: the cluster's nodes, every USB mapping. */
export interface ClusterKnown {
  clusterNodes?: readonly string[];
  mappings?: readonly { id: string; map: string[] }[];
}

export async function checkVmStorage(api: StorageCheckApi, vm: VmStick, known: ClusterKnown = {}): Promise<StorageFinding[]> {
  const check = `VM ${vm.vmid} placement`;
  const findings: StorageFinding[] = [];
  const clusterNodes = known.clusterNodes ?? (await api.listNodes()).map((n) => n.node);
  const storages = vm.luns.some((l) => looksLikeVolumeId(l.image)) ? await api.listStorages() : [];
  const located: { index: number; location: LunLocation }[] = [];
  for (const lun of vm.luns) {
    if (!looksLikeVolumeId(lun.image)) {
      located.push({ index: lun.index, location: { kind: 'path' } });
      continue;
    }
    const parsed = parseVolumeId(lun.image);
    if (!parsed.ok) continue; // validate reports it
    const volid = lun.image;
    const entry = storages.find((s) => s.storage === parsed.value.storage);
    if (!entry) {
      findings.push({
        check,
        status: 'warn',
        detail: `lun${lun.index}: storage ${parsed.value.storage} is not visible to the API token (missing, or no Datastore.Audit on /storage/${parsed.value.storage}): not checked`,
        fix: `pveum acl modify /storage/${parsed.value.storage} --tokens <token> --roles PVEDatastoreUser`,
      });
      located.push({ index: lun.index, location: { kind: 'path' } });
      continue;
    }
    const location: LunLocation = { kind: 'volume', storage: entry.storage, shared: entry.shared, nodes: entry.nodes, disabled: entry.disabled };
    located.push({ index: lun.index, location });
    const nodes = entry.shared ? (entry.nodes ?? clusterNodes) : [vm.node];
    findings.push(...(await checkVolumeOnNodes(api, check, lun.index, volid, entry.storage, nodes)));
  }

  const where = placement(located, clusterNodes, vm.node);
  const offline = 'offline migration only: Proxmox refuses to live-migrate a running VM with a mapped USB device';
  if (clusterNodes.length > 1 && where.nodes.length <= 1) {
    findings.push({
      check,
      status: 'warn',
      detail: `the stick can only be built on ${where.nodes.join(', ') || 'no node'} (${where.limits.join('; ')}): migration or HA recovery to another node fails at pre-start`,
      fix: 'put the image on a shared storage (Ceph RBD, NFS, CIFS, CephFS) listed in [images] allowed_storages on every node',
    });
  } else {
    findings.push({ check, status: 'ok', detail: `the stick can be built on ${where.nodes.join(', ')}; ${offline}` });
  }
  findings.push(...(await checkMappingNodes(api, check, vm, where.nodes, known.mappings)));
  return findings;
}

async function checkVolumeOnNodes(api: StorageCheckApi, check: string, index: number, volid: string, storage: string, nodes: readonly string[]): Promise<StorageFinding[]> {
  const out: StorageFinding[] = [];
  const missing: string[] = [];
  for (const node of nodes) {
    try {
      const status = await api.getStorageStatus(node, storage);
      if (!status.enabled || !status.active) {
        missing.push(`${node} (storage ${status.enabled ? 'not active' : 'disabled'})`);
        continue;
      }
      const info = await api.getVolumeInfo(node, volid);
      if (info.format !== 'raw' && info.format !== 'iso') {
        out.push({ check, status: 'fail', detail: `lun${index}: ${volid} is ${info.format}; only raw volumes can back a USB stick`, fix: 'convert it to raw (qemu-img convert -O raw) or allocate a raw volume' });
        return out;
      }
    } catch (err) {
      if (isProxmoxApiError(err, 'permission')) {
        out.push({ check, status: 'warn', detail: `lun${index}: cannot check ${volid} on ${node}: ${message(err)}`, fix: err.fix });
        return out;
      }
      missing.push(`${node} (${message(err)})`);
    }
  }
  if (missing.length > 0) {
    out.push({ check, status: 'warn', detail: `lun${index}: ${volid} is not usable on ${missing.join(', ')}: the VM would not start there`, fix: 'check the storage on those nodes: pvesm status' });
  }
  return out;
}

async function checkMappingNodes(
  api: StorageCheckApi,
  check: string,
  vm: VmStick,
  nodes: readonly string[],
  mappings: ClusterKnown['mappings'],
): Promise<StorageFinding[]> {
  const name = mappingName(vm.vmid);
  let map: string[];
  try {
    map = mappings ? (mappings.find((m) => m.id === name)?.map ?? []) : ((await api.getUsbMapping(name))?.map ?? []);
  } catch (err) {
    return [{ check, status: 'warn', detail: `cannot read mapping ${name}: ${message(err)}` }];
  }
  const present = new Set(map.map((e) => parseMapEntry(e)?.node).filter((n): n is string => n !== undefined));
  const lacking = nodes.filter((n) => !present.has(n) && n !== vm.node);
  if (lacking.length === 0) return [];
  const all = [...new Set([...nodes])].map((n) => `--map node=${n},id=${vm.usbId}`).join(' ');
  return [
    {
      check,
      status: 'warn',
      detail: `mapping ${name} has no entry for ${lacking.join(', ')}: Proxmox refuses an offline migration there ("missing mapped devices") until the mapping has one`,
      fix: `pvesh set /cluster/mapping/usb/${name} ${all}`,
    },
  ];
}
