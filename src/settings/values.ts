/** Parsers for settings values. Each returns the value or a message saying what is allowed. */

import { hasInvisibleChar } from '../notes/shown.js';
import { storageIdProblem } from '../storage/volume-id.js';
import { SPEEDS, type Speed } from '../spec/types.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

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

/** The API base URL: https only (the token travels in a header), no credentials, path or query. */
export function parseApiUrl(raw: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('must be a URL like https://127.0.0.1:8006');
  }
  if (url.protocol !== 'https:') return fail('must start with https:// (the token must not travel in clear text)');
  if (url.username || url.password) return fail('must not contain a user or password');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return fail('must be the server only, like https://127.0.0.1:8006 (no /api2/json path)');
  }
  return ok(`${url.protocol}//${url.host}`);
}

/** USER@REALM!TOKENID, as Proxmox shows it when the token is created. */
export function parseTokenId(raw: string): Parsed<string> {
  return /^[^\s@!]{1,64}@[A-Za-z][A-Za-z0-9._-]{0,31}![A-Za-z][A-Za-z0-9._-]{0,63}$/.test(raw)
    ? ok(raw)
    : fail('must look like USER@REALM!TOKENID, e.g. pve-usb-gadget@pve!hook');
}

/** A Proxmox node name: a DNS label. */
export function parseNodeName(raw: string): Parsed<string> {
  return /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(raw)
    ? ok(raw)
    : fail('must be the node name as shown in the Proxmox tree (letters, digits, "-")');
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
