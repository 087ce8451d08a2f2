/**
 * The one rule for each Proxmox identifier this project reads from argv, settings or the API, shared by
 * the hook, the CLI, the settings and the API client (so a value the settings accept is one the client
 * accepts too). Each follows the format pve-common / pve-access-control register for it.
 */
import { fail, ok, type Parsed } from './parsed.js';

/** pve-vmid: 100..999999999, written without leading zeros; the pattern, for names that embed a vmid. */
export const VMID_PATTERN = '[1-9][0-9]{2,8}';
export const VMID = new RegExp(`^${VMID_PATTERN}$`);

export function parseVmid(raw: string): Parsed<number> {
  return VMID.test(raw) ? ok(Number(raw)) : fail('must be a VM id: a whole number from 100 to 999999999');
}

/** pve-node: a DNS label. */
const NODE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function parseNodeName(raw: string): Parsed<string> {
  return NODE.test(raw) ? ok(raw) : fail('must be the node name as shown in the Proxmox tree (letters, digits, "-")');
}

/**
 * USER@REALM!TOKENID (pve-access-control: realm and token name are `[A-Za-z][A-Za-z0-9.-_]*[A-Za-z0-9]`,
 * at least two characters). The user part may hold neither blanks nor `@ ! : = /`: the id is sent as
 * `PVEAPIToken=<id>=<secret>`, where `=` would move the secret's start.
 */
const TOKEN_ID = /^[^\s@!:=/]{1,64}@[A-Za-z][A-Za-z0-9._-]{0,30}[A-Za-z0-9]![A-Za-z][A-Za-z0-9._-]{0,62}[A-Za-z0-9]$/;

export function parseTokenId(raw: string): Parsed<string> {
  return TOKEN_ID.test(raw) ? ok(raw) : fail('must look like USER@REALM!TOKENID, e.g. pve-usb-gadget@pve!hook');
}

/**
 * The token secret: a lower-case UUID, the form pveum prints when it creates the token (PVE generates
 * token secrets as UUIDs), and the only form proxmox-api accepts. Checked by the settings when the file
 * is read, so a bad file is refused there, naming the file, not later by the client.
 */
const SECRET = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isTokenSecret(raw: string): boolean {
  return SECRET.test(raw);
}

/**
 * The API base URL, returned as its origin. https only (the token travels in a header), no credentials,
 * query or fragment, no path but `/api2/json`: that is the API's own path, which Proxmox's docs and
 * pvesh show, so an admin pasting it means the same server; the client adds the path itself.
 */
export function parseApiUrl(raw: string): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return fail('must be a URL like https://127.0.0.1:8006');
  }
  if (url.protocol !== 'https:') return fail('must start with https:// (the token must not travel in clear text)');
  if (url.username || url.password) return fail('must not contain a user or password');
  const path = url.pathname.replace(/\/+$/, '');
  if ((path !== '' && path !== '/api2/json') || url.search || url.hash) {
    return fail('must be the server only, like https://127.0.0.1:8006 (a path other than /api2/json, a query or a fragment is not allowed)');
  }
  return ok(url.origin);
}
