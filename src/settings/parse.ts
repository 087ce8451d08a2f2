/**
 * Host settings file format (ini, parsed by the strict parser in notes/ini-lines.ts: `key = value`,
 * `;`/`#` comments, section and key names case-insensitive, unknown or duplicate keys are errors).
 * templates/settings.ini is the commented copy of this block that the installer ships.
 *
 *   [api]                       ; optional: without it the hook reads the local VM config only
 *   url = https://127.0.0.1:8006          ; https only, server part only
 *   token_id = USER@REALM!TOKENID         ; required when [api] is present
 *   secret_file = /etc/pve-usb-gadget/token.secret  ; root-owned, mode 0600 or stricter
 *   ca_file = /etc/pve/pve-root-ca.pem    ; CA the API certificate is checked against
 *
 *   [host]
 *   node = <short hostname>               ; this node's name in the cluster
 *
 *   [images]
 *   allowed_dirs = /var/lib/vz/usb-gadget ; comma-separated absolute directories, "/" refused
 *   allow_block_devices = false
 *   allowed_storages =                    ; Proxmox storage ids notes may use as image = storage:volume
 *
 *   [modules]
 *   controllers = 8                       ; dummy_hcd num=, 1..32 (= how many VMs at once)
 *   keep_loaded = false
 *
 *   [gadget]
 *   default_speed = super                 ; super | high | full, for notes without `speed`
 *   enumeration_timeout = 15              ; seconds, 1..300
 *   isolate_host_storage = true           ; keep the host's usb-storage driver off the stick
 *
 *   [backup]
 *   fail_on_copy_error = false            ; true: a failed stick copy fails that VM's vzdump backup
 *
 *   [paths]                               ; for tests; leave alone on a real host
 *   root = /
 *   state_dir = /run/pve-usb-gadget
 *   pve_config_dir = /etc/pve/qemu-server
 */

import { SettingsError } from '../errors.js';
import { parseStrictIni } from '../notes/ini-lines.js';
import { escapeText } from '../notes/shown.js';
import { closestName } from '../spec/closest.js';
import type { Settings } from './types.js';
import {
  parseAbsolutePath,
  parseApiUrl,
  parseBoolean,
  parseDirectoryList,
  parseIntegerIn,
  parseNodeName,
  parseSpeed,
  parseStorageList,
  parseTokenId,
  type Parsed,
} from './values.js';

export const DEFAULT_API_URL = 'https://127.0.0.1:8006';
export const DEFAULT_SECRET_FILE = '/etc/pve-usb-gadget/token.secret';
export const DEFAULT_CA_FILE = '/etc/pve/pve-root-ca.pem';
export const DEFAULT_ALLOWED_DIR = '/var/lib/vz/usb-gadget';
export const DEFAULT_PVE_CONFIG_DIR = '/etc/pve/qemu-server';

const SCHEMA = {
  api: { url: parseApiUrl, token_id: parseTokenId, secret_file: parseAbsolutePath, ca_file: parseAbsolutePath },
  host: { node: parseNodeName },
  images: { allowed_dirs: parseDirectoryList, allow_block_devices: parseBoolean, allowed_storages: parseStorageList },
  modules: { controllers: parseIntegerIn(1, 32), keep_loaded: parseBoolean },
  gadget: {
    default_speed: parseSpeed,
    enumeration_timeout: parseIntegerIn(1, 300, ' (seconds)'),
    isolate_host_storage: parseBoolean,
  },
  backup: { fail_on_copy_error: parseBoolean },
  paths: { root: parseAbsolutePath, state_dir: parseAbsolutePath, pve_config_dir: parseAbsolutePath },
} as const;

type Schema = typeof SCHEMA;
type Section = keyof Schema;
type ValueOf<S extends Section, K extends keyof Schema[S]> = Schema[S][K] extends (raw: string) => Parsed<infer T>
  ? T
  : never;

const SECTIONS = Object.keys(SCHEMA) as Section[];

function keysOf(section: Section): string[] {
  return Object.keys(SCHEMA[section]);
}

interface Problem {
  key: string;
  line: number;
  message: string;
}

/** Parses the settings text; `file` is only used in messages, `hostname` gives the default node. */
export function parseSettings(text: string, file: string, hostname: string): Settings {
  const problems: Problem[] = [];
  const values = new Map<string, unknown>();
  const lines = new Map<string, number>();
  const doc = parseStrictIni(text);
  for (const p of doc.problems) {
    const section = doc.sections[p.sectionIndex];
    const key = section ? `[${escapeText(section.name.toLowerCase(), 40)}]` : 'settings';
    problems.push({ key, line: p.line, message: p.message });
  }
  for (const e of doc.preamble) {
    problems.push({ key: escapeText(e.key, 40), line: e.line, message: `must be inside a section: ${sectionList()}` });
  }
  const seenSections = new Map<string, number>();
  for (const section of doc.sections) {
    const name = section.name.toLowerCase();
    if (!(SECTIONS as string[]).includes(name)) {
      const shownName = escapeText(name, 40);
      problems.push({
        key: `[${shownName}]`,
        line: section.line,
        message: `unknown section (closest: [${closestName(name, SECTIONS)}]); allowed: ${sectionList()}`,
      });
      continue;
    }
    const firstLine = seenSections.get(name);
    if (firstLine !== undefined) {
      problems.push({ key: `[${name}]`, line: section.line, message: `appears twice (first on line ${firstLine})` });
      continue;
    }
    seenSections.set(name, section.line);
    const allowed = keysOf(name as Section);
    for (const entry of section.entries) {
      const key = entry.key.toLowerCase();
      const full = `${name}.${escapeText(key, 40)}`;
      if (!allowed.includes(key)) {
        problems.push({
          key: full,
          line: entry.line,
          message: `unknown key (closest: ${name}.${closestName(key, allowed)}); allowed in [${name}]: ${allowed.join(', ')}`,
        });
        continue;
      }
      if (lines.has(full)) {
        problems.push({ key: full, line: entry.line, message: `set twice (first on line ${lines.get(full)})` });
        continue;
      }
      lines.set(full, entry.line);
      const parser = (SCHEMA[name as Section] as Record<string, (raw: string) => Parsed<unknown>>)[key];
      const parsed = parser ? parser(entry.value) : { ok: false as const, message: 'unknown key' };
      if (parsed.ok) values.set(full, parsed.value);
      else problems.push({ key: full, line: entry.line, message: parsed.message });
    }
  }
  if (seenSections.has('api') && !lines.has('api.token_id')) {
    problems.push({ key: 'api.token_id', line: seenSections.get('api') ?? 0, message: 'is required in [api]' });
  }
  if (problems.length > 0) throw settingsError(file, problems);

  const get = <S extends Section, K extends keyof Schema[S] & string>(s: S, k: K, fallback: ValueOf<S, K>) =>
    (values.has(`${s}.${k}`) ? values.get(`${s}.${k}`) : fallback) as ValueOf<S, K>;

  return {
    ...(seenSections.has('api')
      ? {
          api: {
            url: get('api', 'url', DEFAULT_API_URL),
            tokenId: get('api', 'token_id', ''),
            secretFile: get('api', 'secret_file', DEFAULT_SECRET_FILE),
            caFile: get('api', 'ca_file', DEFAULT_CA_FILE),
          },
        }
      : {}),
    node: get('host', 'node', hostname.split('.')[0] ?? hostname),
    images: {
      allowedDirs: get('images', 'allowed_dirs', [DEFAULT_ALLOWED_DIR]),
      allowBlockDevices: get('images', 'allow_block_devices', false),
      ...(values.has('images.allowed_storages') ? { allowedStorages: get('images', 'allowed_storages', []) } : {}),
    },
    modules: {
      controllers: get('modules', 'controllers', 8),
      keepLoaded: get('modules', 'keep_loaded', false),
    },
    defaultSpeed: get('gadget', 'default_speed', 'super'),
    enumerationTimeoutMs: get('gadget', 'enumeration_timeout', 15) * 1000,
    isolateHostStorage: get('gadget', 'isolate_host_storage', true),
    ...(seenSections.has('backup') ? { backup: { failOnCopyError: get('backup', 'fail_on_copy_error', false) } } : {}),
    paths: {
      root: get('paths', 'root', '/'),
      stateDir: get('paths', 'state_dir', '/run/pve-usb-gadget'),
      pveConfigDir: get('paths', 'pve_config_dir', DEFAULT_PVE_CONFIG_DIR),
    },
  };
}

function sectionList(): string {
  return SECTIONS.map((s) => `[${s}]`).join(', ');
}

function settingsError(file: string, problems: Problem[]): SettingsError {
  const shownProblems = problems.slice(0, 20);
  const more = problems.length > shownProblems.length ? `; and ${problems.length - shownProblems.length} more` : '';
  const text = shownProblems.map((p) => `line ${p.line}: ${p.key}: ${p.message}`).join('; ');
  return new SettingsError(`invalid settings file ${file}: ${text}${more}`, {
    key: problems[0]?.key,
    path: file,
    fix: `edit ${file}; every key with its default is in the settings.ini template`,
  });
}
