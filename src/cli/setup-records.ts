/**
 * install.sh's records of what it made, so that --uninstall removes exactly that and nothing the admin
 * had before. Two files, the formats install.sh's own state_get/state_set and cluster_state_add read and
 * write (the bash and these functions share them while both exist):
 *   NODE_STATE     this node: `key=value` lines, the last one of a key counts
 *   CLUSTER_STATE  the cluster (pmxcfs, root-only): one line per thing made once for all nodes, e.g.
 *                  `snippets:<storage>` when install.sh enabled that content type
 */
import { posix } from 'node:path';
import type { HostFs } from '../ports/host-fs.js';

export const SETUP_ETC = '/etc/pve-usb-gadget';
export const NODE_STATE = `${SETUP_ETC}/installed`;
export const CLUSTER_DIR = '/etc/pve/priv/pve-usb-gadget';
export const CLUSTER_STATE = `${CLUSTER_DIR}/created`;
/** one empty file per node that installed with the API: the last one to uninstall removes the cluster parts */
export const NODES_DIR = `${CLUSTER_DIR}/nodes`;

// What install.sh creates once per cluster (setup-api.ts), named here only: install.sh keeps a bash copy
// of SECRET_FILE, CLUSTER_DIR and CLUSTER_STATE for its help and --uninstall (cli-install-sh.test.ts
// checks they are equal); the other names it no longer needs.
export const API_USER = 'pve-usb-gadget@pve';
export const TOKEN_NAME = 'hook';
export const TOKEN_ID = `${API_USER}!${TOKEN_NAME}`;
/** cluster-wide and root-only: pmxcfs shows /etc/pve/priv as 0600 root and every node's hook reads it */
export const SECRET_FILE = `${CLUSTER_DIR}/token.secret`;

const lines = (text: string | undefined) => (text ?? '').split('\n').filter((l) => l !== '');
const joined = (ls: readonly string[]) => ls.map((l) => `${l}\n`).join('');

/** state_get: the last `key=` value, or undefined. */
export function nodeStateGet(fs: HostFs, key: string): string | undefined {
  const hits = lines(fs.readTextIfExists(NODE_STATE)).filter((l) => l.startsWith(`${key}=`));
  return hits.at(-1)?.slice(key.length + 1);
}

/** state_set: drops the key's old lines and appends the new one. */
export function nodeStateSet(fs: HostFs, key: string, value: string): void {
  const kept = lines(fs.readTextIfExists(NODE_STATE)).filter((l) => !l.startsWith(`${key}=`));
  fs.mkdir(posix.dirname(NODE_STATE), { recursive: true, mode: 0o755 });
  fs.writeAtomic(NODE_STATE, joined([...kept, `${key}=${value}`]), 0o644);
}

export function clusterRecords(fs: HostFs): string[] {
  return lines(fs.readTextIfExists(CLUSTER_STATE));
}

/** cluster_state_add: once. */
export function addClusterRecord(fs: HostFs, record: string): void {
  const now = clusterRecords(fs);
  if (now.includes(record)) return;
  fs.mkdir(CLUSTER_DIR, { recursive: true });
  fs.writeAtomic(CLUSTER_STATE, joined([...now, record]), 0o600);
}

/** What --uninstall undid is no longer a record (the file itself goes with CLUSTER_DIR at the end). */
export function removeClusterRecord(fs: HostFs, record: string): void {
  const now = clusterRecords(fs);
  if (now.includes(record)) fs.writeAtomic(CLUSTER_STATE, joined(now.filter((l) => l !== record)), 0o600);
}
