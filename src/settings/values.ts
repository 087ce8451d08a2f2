/**
 * Parsers for settings values. Each returns the value or a message saying what is allowed. The Proxmox
 * identifiers (node, token id, API URL) have their one rule in values/proxmox-ids.ts, shared with the
 * API client and the CLI.
 */

import { hasInvisibleChar } from '../notes/shown.js';
import { storageIdProblem } from '../storage/volume-id.js';
import { SPEEDS, type Speed } from '../spec/types.js';
import { fail, ok, type Parsed } from '../values/parsed.js';

export type { Parsed } from '../values/parsed.js';
export { parseApiUrl, parseNodeName, parseTokenId } from '../values/proxmox-ids.js';

export function parseBoolean(raw: string): Parsed<boolean> {
  const v = raw.toLowerCase();
  if (v === 'true' || v === 'yes' || v === '1') return ok(true);
  if (v === 'false' || v === 'no' || v === '0') return ok(false);
  return fail('must be true or false (yes/no and 1/0 work too)');
}

export function parseIntegerIn(min: number, max: number, unit = '') {
  return (raw: string): Parsed<number> => {
    const n = /^[0-9]{1,9}$/.test(raw) ? Number.parseInt(raw, 10) : Number.NaN;
    return n >= min && n <= max ? ok(n) : fail(`must be a whole number from ${min} to ${max}${unit}`);
  };
}

export function parseSpeed(raw: string): Parsed<Speed> {
  const v = raw.toLowerCase();
  return (SPEEDS as readonly string[]).includes(v) ? ok(v as Speed) : fail('must be one of super, high, full');
}

/** An absolute, normalized path; one trailing "/" is dropped ("/var/x/" → "/var/x"). */
export function parseAbsolutePath(raw: string): Parsed<string> {
  const path = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (hasInvisibleChar(path)) return fail('must not contain control or invisible characters');
  if (!path.startsWith('/')) return fail('must be an absolute path (starting with /)');
  if (path.length > 4096) return fail('must be at most 4096 characters long');
  if (path === '/') return ok(path);
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '.' || s === '..')) return fail('must not contain "." or ".." segments');
  if (segments.some((s) => s === '')) return fail('must not contain "//"');
  return ok(path);
}

/** Comma-separated absolute directories; "/" is refused (it would allow any file as an image). */
export function parseDirectoryList(raw: string): Parsed<string[]> {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return fail('must list at least one absolute directory (comma-separated)');
  const dirs: string[] = [];
  for (const item of items) {
    const p = parseAbsolutePath(item);
    if (!p.ok) return fail(`"${item.slice(0, 80)}" ${p.message}`);
    if (p.value === '/') return fail('"/" is not allowed: it would let notes use any file on the host');
    if (!dirs.includes(p.value)) dirs.push(p.value);
  }
  return ok(dirs);
}

/** Comma-separated Proxmox storage ids (e.g. "local-lvm, ceph"); empty means none. */
export function parseStorageList(raw: string): Parsed<string[]> {
  const ids: string[] = [];
  for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const problem = storageIdProblem(item);
    if (problem) return fail(`"${item.slice(0, 80)}": ${problem.replace('the storage id', 'a storage id')}`);
    if (!ids.includes(item)) ids.push(item);
  }
  return ok(ids);
}
