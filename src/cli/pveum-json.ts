/**
 * The one reader of what `pveum ... --output-format json` prints, for the commands that read it
 * (setup-api.ts, mapping-acl.ts): the list commands print a JSON array of objects (pve-access-control's
 * API2 index methods through PVE::CLIFormatter), `user token add` one object whose `value` is the new
 * secret. Replaces install.sh's grep/sed on the same text.
 */
import { CommandError } from '../errors.js';
import { isTokenSecret } from '../values/proxmox-ids.js';

export type PveumRow = Readonly<Record<string, unknown>>;

const fix = (what: string) => `run pveum ${what} --output-format json as root and report what it prints`;

/** The rows of a list command's output; `what` names the command ("acl list") in the error. */
export function pveumRows(json: string, what: string): PveumRow[] {
  // nothing printed is an empty list, as install.sh's grep read it
  if (json.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new CommandError(`pveum ${what} printed no JSON`, { fix: fix(what) });
  }
  if (!Array.isArray(value)) throw new CommandError(`pveum ${what} printed no list`, { fix: fix(what) });
  return value.filter((r): r is PveumRow => typeof r === 'object' && r !== null && !Array.isArray(r));
}

const column = (json: string, what: string, key: string): string[] =>
  pveumRows(json, what)
    .map((r) => r[key])
    .filter((v): v is string => typeof v === 'string');

/** `pveum role list`: the role ids, built-in ones included. */
export const roleIds = (json: string): string[] => column(json, 'role list', 'roleid');

/** `pveum user list`: USER@REALM ids. */
export const userIds = (json: string): string[] => column(json, 'user list', 'userid');

/** `pveum user token list USER`: the token names (without `USER!`). */
export const tokenNames = (json: string): string[] => column(json, 'user token list', 'tokenid');

/**
 * `pveum user token add ...`: the new secret, or undefined when the output holds none in the form PVE
 * generates (a UUID). Never quotes the text in an error: it may hold the secret.
 */
export function newTokenSecret(json: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const secret = typeof value === 'object' && value !== null ? (value as PveumRow).value : undefined;
  return typeof secret === 'string' && isTokenSecret(secret) ? secret : undefined;
}
