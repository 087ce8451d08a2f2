/**
 * /storage, /nodes/{node}/storage/{storage}/status and /nodes/{node}/storage/{storage}/content/{volume},
 * after pve-storage PVE/API2/Storage/Config.pm (index), Status.pm (read_status; `content` is registered
 * with fragmentDelimiter '' because volume ids contain "/") and Content.pm (info: $real_volume_id,
 * PVE::Storage::check_volume_access, path, volume_size_info). Paths are built the way the plugins build
 * them (Plugin.pm filesystem_path, LVMPlugin, ZFSPoolPlugin, RBDPlugin path).
 */
import type { FakeCluster } from './cluster.js';
import { die, paramError, permissionDenied } from './pve-error.js';
import { NODE_SPEC, str, type ParamSpec } from './params.js';
import type { Ctx, Route } from './route.js';

export interface FakeStorage {
  type: string;
  /** storage.cfg `shared`; forced on for the shared-by-nature types, as parse_config does */
  shared?: boolean;
  nodes?: string[];
  disabled?: boolean;
  content?: string[];
  path?: string;
  vgname?: string;
  pool?: string;
  krbd?: boolean;
  /** RBD: cluster fsid (for /dev/rbd-pve paths) and external monitors */
  fsid?: string;
  monhost?: string;
  /** nodes where the storage is configured but not reachable (NFS down, ...) */
  inactiveOn?: string[];
}

export interface FakeVolume {
  size: number;
  /** default: what the name says (.qcow2/.vmdk) or raw */
  format?: string;
}

const SHARED_TYPES = ['iscsi', 'nfs', 'cifs', 'rbd', 'cephfs', 'iscsidirect', 'zfs', 'drbd', 'pbs'];
const DIR_TYPES = ['dir', 'nfs', 'cifs', 'cephfs', 'btrfs'];
const STORAGE_SPEC: ParamSpec = { pattern: /^[a-z][a-z0-9._-]*[a-z0-9]$/i };

/** Storages and volumes; a local (non-shared) storage's volumes exist per node. */
export class FakeStorageState {
  readonly storages = new Map<string, FakeStorage>();
  /** volid → node → volume ('*' = on the shared storage, seen from every node) */
  readonly volumes = new Map<string, Map<string, FakeVolume>>();

  shared(id: string): boolean {
    const s = this.storages.get(id);
    return !!s && (s.shared === true || SHARED_TYPES.includes(s.type));
  }

  addVolume(volid: string, vol: FakeVolume, node?: string): void {
    const storage = volid.split(':')[0] ?? '';
    if (!this.storages.has(storage)) throw new Error(`fake-pve: no storage ${storage}`);
    const where = this.shared(storage) ? '*' : node;
    if (!where) throw new Error(`fake-pve: ${storage} is local: say on which node ${volid} is`);
    const byNode = this.volumes.get(volid) ?? new Map<string, FakeVolume>();
    byNode.set(where, vol);
    this.volumes.set(volid, byNode);
  }

  volume(volid: string, node: string): FakeVolume | undefined {
    const byNode = this.volumes.get(volid);
    return byNode?.get('*') ?? byNode?.get(node);
  }

  enabledOn(id: string, node: string): boolean {
    const s = this.storages.get(id);
    return !!s && !s.disabled && (!s.nodes || s.nodes.includes(node));
  }
}

interface Parsed {
  vtype: 'images' | 'iso' | 'other';
  owner?: number;
  name: string;
  format: string;
}

/** The plugins' parse_volname, reduced to what the fake needs; throws PVE's messages. */
function parseVolname(s: FakeStorage, volname: string): Parsed {
  const ext = (n: string) => /\.(raw|qcow2|vmdk|subvol)$/.exec(n)?.[1];
  if (DIR_TYPES.includes(s.type)) {
    let m = /^(\d+)\/([^/]+)$/.exec(volname);
    if (m && ext(m[2] ?? '')) return { vtype: 'images', owner: Number(m[1]), name: m[2] ?? '', format: ext(m[2] ?? '') ?? 'raw' };
    m = /^iso\/([^/]+\.(?:iso|img))$/i.exec(volname);
    if (m) return { vtype: 'iso', name: m[1] ?? '', format: 'iso' };
    if (/^(?:vztmpl|backup|snippets|import)\//.test(volname)) return { vtype: 'other', name: volname, format: 'raw' };
    throw die(`unable to parse directory volume name '${volname}'`);
  }
  let m: RegExpExecArray | null;
  switch (s.type) {
    case 'lvm':
    case 'lvmthin':
      if ((m = /^(?:vm|base)-(\d+)-\S+$/.exec(volname))) return { vtype: 'images', owner: Number(m[1]), name: volname, format: volname.endsWith('.qcow2') ? 'qcow2' : 'raw' };
      throw die(`unable to parse lvm volume name '${volname}'`);
    case 'zfspool':
      if ((m = /^(?:(?:base|basevol)-\d+-\S+\/)?((?:base|basevol|vm|subvol)-(\d+)-\S+)$/.exec(volname))) {
        return { vtype: 'images', owner: Number(m[2]), name: m[1] ?? '', format: /^(?:subvol|basevol)-/.test(m[1] ?? '') ? 'subvol' : 'raw' };
      }
      throw die(`unable to parse zfs volume name '${volname}'`);
    case 'rbd':
      if ((m = /^(?:base-\d+-\S+\/)?((?:base|vm)?-(\d+)-\S+)$/.exec(volname))) return { vtype: 'images', owner: Number(m[2]), name: m[1] ?? '', format: 'raw' };
      throw die(`unable to parse rbd volume name '${volname}'`);
    case 'iscsi':
      if ((m = /^\d+\.\d+\.\d+\.([^/\s]+)$/.exec(volname))) return { vtype: 'images', name: m[1] ?? '', format: 'raw' };
      throw die(`unable to parse iscsi volume name '${volname}'`);
    default:
      throw die(`unable to parse volume name '${volname}'`);
  }
}

function pathOf(id: string, s: FakeStorage, volname: string, p: Parsed): string {
  if (DIR_TYPES.includes(s.type)) {
    const base = s.path ?? `/mnt/pve/${id}`;
    return p.vtype === 'iso' ? `${base}/template/iso/${p.name}` : p.vtype === 'images' ? `${base}/images/${p.owner}/${p.name}` : `${base}/${volname}`;
  }
  switch (s.type) {
    case 'lvm':
    case 'lvmthin':
      return `/dev/${s.vgname}/${p.name}`;
    case 'zfspool':
      return p.format === 'subvol' ? `/${s.pool}/${p.name}` : `/dev/zvol/${s.pool}/${p.name}`;
    case 'rbd': {
      const pool = s.pool ?? 'rbd';
      if (s.krbd) return `/dev/rbd-pve/${s.fsid}/${pool}/${p.name}`;
      const mon = s.monhost ? `:mon_host=${s.monhost.replace(/:/g, '\\:')}:auth_supported=cephx:id=admin:keyring=/etc/pve/priv/ceph/${id}.keyring` : ':conf=/etc/pve/ceph.conf';
      return `rbd:${pool}/${p.name}${mon}`;
    }
    case 'iscsi':
      return `/dev/disk/by-id/${p.name}`;
    default:
      return `${s.type}://${id}/${volname}`;
  }
}

/** PVE::Storage::check_volume_access for the API caller (never root@pam here: a token). */
function checkVolumeAccess(c: Ctx, storage: string, p: Parsed, volid: string): void {
  const cl: FakeCluster = c.cluster;
  if (cl.has(c.authId, `/storage/${storage}`, 'Datastore.Allocate')) return;
  if (p.vtype === 'iso') {
    cl.check(c.authId, `/storage/${storage}`, ['Datastore.AllocateSpace', 'Datastore.Audit'], true);
  } else if (p.vtype === 'images' && p.owner !== undefined) {
    cl.check(c.authId, `/storage/${storage}`, ['Datastore.Audit']);
    cl.check(c.authId, `/vms/${p.owner}`, ['VM.Config.Disk']);
  } else {
    throw die(`missing privileges to access ${volid}`);
  }
}

export function storageRoutes(state: FakeStorageState): Route[] {
  const visible = (c: Ctx, id: string) =>
    c.cluster.has(c.authId, `/storage/${id}`, 'Datastore.Audit') || c.cluster.has(c.authId, `/storage/${id}`, 'Datastore.AllocateSpace');
  return [
    {
      method: 'GET',
      path: '/storage',
      perm: () => undefined,
      schema: { type: { optional: true } },
      handler: (c) =>
        [...state.storages]
          .filter(([id, s]) => visible(c, id) && (!str(c.params, 'type') || str(c.params, 'type') === s.type))
          .map(([id, s]) => ({
            storage: id,
            type: s.type,
            digest: 'f00d',
            content: (s.content ?? ['images']).join(','),
            ...(state.shared(id) ? { shared: 1 } : {}),
            ...(s.nodes ? { nodes: s.nodes.join(',') } : {}),
            ...(s.disabled ? { disable: 1 } : {}),
            ...(s.path ? { path: s.path } : {}),
            ...(s.vgname ? { vgname: s.vgname } : {}),
            ...(s.pool ? { pool: s.pool } : {}),
            ...(s.type === 'rbd' ? { krbd: s.krbd ? 1 : 0 } : {}),
          })),
    },
    {
      method: 'GET',
      path: '/nodes/{node}/storage/{storage}/status',
      proxyNode: true,
      perm: (c) => c.cluster.check(c.authId, `/storage/${str(c.params, 'storage')}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true),
      schema: { node: NODE_SPEC, storage: STORAGE_SPEC },
      handler: (c) => {
        const id = str(c.params, 'storage') ?? '';
        const node = str(c.params, 'node') ?? '';
        const s = state.storages.get(id);
        if (!s) throw paramError({ storage: 'No such storage.' });
        const enabled = state.enabledOn(id, node);
        return {
          type: s.type,
          content: (s.content ?? ['images']).join(','),
          shared: state.shared(id) ? 1 : 0,
          enabled: enabled ? 1 : 0,
          active: enabled && !(s.inactiveOn ?? []).includes(node) ? 1 : 0,
          total: 0,
          used: 0,
          avail: 0,
        };
      },
    },
    {
      method: 'GET',
      path: '/nodes/{node}/storage/{storage}/content/{volume+}',
      proxyNode: true,
      perm: () => undefined,
      schema: { node: NODE_SPEC, storage: { ...STORAGE_SPEC, optional: true }, volume: {} },
      handler: (c) => {
        const node = str(c.params, 'node') ?? '';
        const storageParam = str(c.params, 'storage');
        const volume = str(c.params, 'volume') ?? '';
        // $real_volume_id
        let volid = volume;
        let storage = storageParam ?? '';
        if (volume.includes(':')) {
          const m = /^([a-z][a-z0-9._-]*[a-z0-9]):(.+)$/i.exec(volume);
          if (!m) throw paramError({ volume: `unable to parse volume ID '${volume}'\n` });
          if (storageParam && m[1] !== storageParam) throw paramError({ volume: `storage ID mismatch (${m[1]} != ${storageParam})\n` });
          storage = m[1] ?? '';
        } else {
          if (!storageParam) throw paramError({ volume: 'no storage specified - incomplete volume ID' });
          volid = `${storageParam}:${volume}`;
        }
        const s = state.storages.get(storage);
        if (!s) throw die(`storage '${storage}' does not exist`);
        const volname = volid.slice(storage.length + 1);
        const parsed = parseVolname(s, volname);
        checkVolumeAccess(c, storage, parsed, volid);
        const path = pathOf(storage, s, volname, parsed);
        if (!state.enabledOn(storage, node)) throw die(`storage '${storage}' is not available on node '${node}'`);
        const vol = state.volume(volid, node);
        if (!vol) throw die(`volume_size_info on '${volid}' failed - no format`);
        return { path, size: vol.size, used: vol.size, format: vol.format ?? parsed.format };
      },
    },
  ];
}
