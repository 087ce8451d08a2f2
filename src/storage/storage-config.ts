/**
 * The cluster's storage definitions, read from `/etc/pve/storage.cfg` (pmxcfs, root-readable on every
 * node, the file PVE::Storage::config() parses). Format (pve-common PVE/SectionConfig.pm): a section
 * starts with `type: id` at column 0, its properties follow as indented `key value` lines (a boolean may
 * be a bare `key`), a blank line ends it, `#` lines are comments.
 *
 * As pve-storage does (PVE/Storage/Plugin.pm parse_config): `local` is always the dir storage
 * /var/lib/vz on every node, and the types in @SHARED_STORAGE are shared whatever the file says.
 */
import type { HostFs } from '../ports/host-fs.js';
import { STORAGE_ID } from './volume-id.js';

export const STORAGE_CFG = '/etc/pve/storage.cfg';

/** pve-storage Plugin.pm @SHARED_STORAGE: shared by nature, whatever their `shared` flag says. */
export const SHARED_BY_TYPE = ['iscsi', 'nfs', 'cifs', 'rbd', 'cephfs', 'iscsidirect', 'zfs', 'drbd', 'pbs', 'glusterfs'];

export interface StorageDefinition {
  id: string;
  /** plugin type: dir, lvm, lvmthin, zfspool, rbd, nfs, ... */
  type: string;
  /** same contents on every node it is available on */
  shared: boolean;
  /** the `nodes` restriction; undefined = every node */
  nodes?: string[];
  disabled: boolean;
  /** every property as written (values trimmed; bare boolean keys are "1") */
  props: Readonly<Record<string, string>>;
}

export type StorageConfig = ReadonlyMap<string, StorageDefinition>;

const HEADER = /^(\S+):\s*(\S+)\s*$/;
const PROPERTY = /^\s+(\S+)(?:\s+(.*\S))?\s*$/;

const truthy = (v: string | undefined) => v !== undefined && /^(1|on|yes|true)$/i.test(v);

function definition(id: string, type: string, props: Record<string, string>): StorageDefinition {
  const nodes = props.nodes
    ?.split(/[,;\s]+/)
    .map((n) => n.trim())
    .filter(Boolean);
  return {
    id,
    type,
    shared: SHARED_BY_TYPE.includes(type) || truthy(props.shared),
    nodes: nodes && nodes.length > 0 ? nodes : undefined,
    disabled: truthy(props.disable),
    props,
  };
}

/**
 * Parses storage.cfg text the way SectionConfig does: only an empty line ends a section; inside one, a
 * line that is not an indented property is ignored (a header without a blank line before it too).
 * Sections with an invalid id or a duplicate property are skipped, as PVE skips them (with a warning).
 */
export function parseStorageConfig(text: string): StorageConfig {
  const out = new Map<string, StorageDefinition>();
  let current: { id: string; type: string; props: Record<string, string>; bad: boolean } | undefined;
  const close = () => {
    if (current && !current.bad && !out.has(current.id)) out.set(current.id, definition(current.id, current.type, current.props));
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line === '') {
      close();
      continue;
    }
    if (!current) {
      const header = HEADER.exec(line);
      if (header) {
        const [, type = '', id = ''] = header;
        current = { id, type: type.toLowerCase(), props: Object.create(null) as Record<string, string>, bad: !STORAGE_ID.test(id) };
      }
      continue;
    }
    const prop = PROPERTY.exec(line);
    if (!prop) continue;
    const [, key = '', value] = prop;
    if (key in current.props) current.bad = true;
    else current.props[key] = value ?? '1';
  }
  close();
  const local = out.get('local');
  if (!local || local.type !== 'dir' || (local.props.path !== undefined && local.props.path !== '/var/lib/vz')) {
    out.set('local', definition('local', 'dir', { path: '/var/lib/vz', content: 'images,iso,vztmpl,backup,rootdir,snippets' }));
  } else if (local.nodes || local.props.path === undefined) {
    // PVE drops node restrictions from `local` and gives it its path
    out.set('local', { ...local, nodes: undefined, props: { ...local.props, path: '/var/lib/vz' } });
  }
  return out;
}

/** storage.cfg from the host; a missing file means "only `local`" (what PVE assumes too). */
export function readStorageConfig(fs: HostFs, path = STORAGE_CFG): StorageConfig {
  return parseStorageConfig(fs.readTextIfExists(path) ?? '');
}

/** Is the storage usable on `node` (enabled there)? */
export function availableOn(def: StorageDefinition, node: string): boolean {
  return !def.disabled && (def.nodes === undefined || def.nodes.includes(node));
}
