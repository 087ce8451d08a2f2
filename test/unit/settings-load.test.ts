import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SettingsError } from '../../src/errors.js';
import type { FileWithStat } from '../../src/settings/file-access.js';
import { DEFAULT_SETTINGS_PATH, loadSettings, SETTINGS_PATH_ENV } from '../../src/settings/load.js';
import type { Settings } from '../../src/settings/types.js';

const DEFAULTS: Settings = {
  node: 'pve1',
  images: { allowedDirs: ['/var/lib/vz/usb-gadget'], allowBlockDevices: false },
  modules: { controllers: 8, keepLoaded: false },
  defaultSpeed: 'super',
  enumerationTimeoutMs: 15_000,
  isolateHostStorage: true,
  paths: { root: '/', stateDir: '/run/pve-usb-gadget', pveConfigDir: '/etc/pve/qemu-server' },
};

/** loadSettings on `text` given as the file's content, without touching the disk. */
function fromText(text: string): Settings {
  return loadSettings({ path: '/etc/x/settings.ini', hostname: 'pve1.example.com', readFile: () => text });
}

function errorOf(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SettingsError) return e;
    throw e;
  }
  throw new Error('expected a SettingsError');
}

const enoent = () => {
  throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
};

describe('loadSettings: defaults and paths', () => {
  it('uses every default when the default file does not exist', () => {
    const seen: string[] = [];
    const s = loadSettings({
      env: {},
      hostname: 'pve1.example.com',
      readFileWithStat: (p) => {
        seen.push(p);
        return enoent();
      },
    });
    expect(seen).toEqual([DEFAULT_SETTINGS_PATH]);
    expect(s).toEqual(DEFAULTS);
  });

  it('takes the path from the environment, and then a missing file is an error', () => {
    const e = errorOf(() =>
      loadSettings({ env: { [SETTINGS_PATH_ENV]: '/srv/s.ini' }, hostname: 'h', readFileWithStat: enoent }),
    );
    expect(e.path).toBe('/srv/s.ini');
    expect(e.errno).toBe('ENOENT');
    expect(errorOf(() => loadSettings({ env: { [SETTINGS_PATH_ENV]: 'rel.ini' } })).key).toBe(SETTINGS_PATH_ENV);
  });

  it('gives the template exactly the defaults', () => {
    const template = readFileSync(fileURLToPath(new URL('../../templates/settings.ini', import.meta.url)), 'utf8');
    expect(fromText(template)).toEqual(DEFAULTS);
  });

  it('reads every key', () => {
    const s = fromText(
      [
        '[API]',
        'url = https://pve.example.com:8006/',
        'Token_ID = gadget@pve!hook',
        'secret_file = /root/secret',
        'ca_file = /etc/ca.pem',
        '[host]',
        'node = node-2',
        '[images]',
        'allowed_dirs = /srv/a/, /srv/b ,/srv/a',
        'allow_block_devices = yes',
        '[modules]',
        'controllers = 32',
        'keep_loaded = 1',
        '[gadget]',
        'default_speed = HIGH ; comment',
        'enumeration_timeout = 300',
        'isolate_host_storage = false',
        '[paths]',
        'root = /tmp/root',
        'state_dir = /tmp/state',
        'pve_config_dir = /tmp/pve',
      ].join('\n'),
    );
    expect(s).toEqual({
      api: { url: 'https://pve.example.com:8006', tokenId: 'gadget@pve!hook', secretFile: '/root/secret', caFile: '/etc/ca.pem' },
      node: 'node-2',
      images: { allowedDirs: ['/srv/a', '/srv/b'], allowBlockDevices: true },
      modules: { controllers: 32, keepLoaded: true },
      defaultSpeed: 'high',
      enumerationTimeoutMs: 300_000,
      isolateHostStorage: false,
      paths: { root: '/tmp/root', stateDir: '/tmp/state', pveConfigDir: '/tmp/pve' },
    });
  });

  it('takes the API URL as Proxmox shows it, /api2/json included, as the server only (the client adds the path)', () => {
    expect(fromText('[api]\ntoken_id = a@pam!hook\nurl = https://h:8006/api2/json/').api?.url).toBe('https://h:8006');
  });

  it('defaults the rest of [api] when only token_id is given', () => {
    expect(fromText('[api]\ntoken_id = a@pam!hook').api).toEqual({
      url: 'https://127.0.0.1:8006',
      tokenId: 'a@pam!hook',
      secretFile: '/etc/pve-usb-gadget/token.secret',
      caFile: '/etc/pve/pve-root-ca.pem',
    });
  });
});

describe('loadSettings: errors', () => {
  const cases: [string, string, string][] = [
    ['[images]\nallowed_dir = /srv', 'images.allowed_dir', 'closest: images.allowed_dirs'],
    ['[image]\nallowed_dirs = /srv', '[image]', 'closest: [images]'],
    ['node = x', 'node', 'must be inside a section'],
    ['[modules]\ncontrollers = 33', 'modules.controllers', 'from 1 to 32'],
    ['[modules]\ncontrollers = 0', 'modules.controllers', 'from 1 to 32'],
    ['[gadget]\nenumeration_timeout = 301', 'gadget.enumeration_timeout', 'from 1 to 300 (seconds)'],
    ['[gadget]\ndefault_speed = ultra', 'gadget.default_speed', 'super, high, full'],
    ['[gadget]\nisolate_host_storage = maybe', 'gadget.isolate_host_storage', 'true or false'],
    ['[images]\nallowed_dirs = /', 'images.allowed_dirs', '"/" is not allowed'],
    ['[images]\nallowed_dirs = /srv, relative', 'images.allowed_dirs', 'absolute path'],
    ['[images]\nallowed_dirs = /srv/../etc', 'images.allowed_dirs', '".." segments'],
    ['[images]\nallowed_dirs = ,', 'images.allowed_dirs', 'at least one'],
    ['[paths]\nstate_dir = run', 'paths.state_dir', 'absolute path'],
    ['[api]\nurl = https://127.0.0.1:8006', 'api.token_id', 'is required'],
    ['[api]\ntoken_id = a@pam!hook\nurl = http://127.0.0.1:8006', 'api.url', 'https://'],
    ['[api]\ntoken_id = a@pam!hook\nurl = https://h:8006/pve', 'api.url', 'other than /api2/json'],
    // the API client's rule too: a token name of one character is no Proxmox token id
    ['[api]\ntoken_id = a@pam!b', 'api.token_id', 'USER@REALM!TOKENID'],
    ['[api]\ntoken_id = a=b@pam!hook', 'api.token_id', 'USER@REALM!TOKENID'],
    ['[api]\ntoken_id = a@pam!hook\nurl = https://u:p@h:8006', 'api.url', 'user or password'],
    ['[api]\ntoken_id = root@pam', 'api.token_id', 'USER@REALM!TOKENID'],
    ['[host]\nnode = a b', 'host.node', 'node name'],
    ['[host]\nnode = a\nNODE = b', 'host.node', 'set twice'],
    ['[host]\n[host]', '[host]', 'appears twice'],
    ['[host]\nnode', '[host]', 'expected "key = value"'],
    ['x y', 'settings', 'expected "key = value"'],
  ];
  it.each(cases)('%j → %s', (text, key, message) => {
    const e = errorOf(() => fromText(text));
    expect(e.key).toBe(key);
    expect(e.message).toContain(message);
    expect(e.message).toContain('/etc/x/settings.ini');
    expect(e.path).toBe('/etc/x/settings.ini');
    expect(e.fix).toContain('edit /etc/x/settings.ini');
  });

  it('reports every problem at once with line numbers', () => {
    const e = errorOf(() => fromText('[modules]\ncontrollers = 99\n[gadget]\nspeed = high'));
    expect(e.message).toContain('line 2: modules.controllers');
    expect(e.message).toContain('line 4: gadget.speed');
  });
});

describe('loadSettings: file ownership', () => {
  const file = (over: Partial<FileWithStat>): FileWithStat => ({ content: '', uid: 0, mode: 0o100644, ...over });
  const load = (f: FileWithStat) =>
    loadSettings({ path: '/s.ini', hostname: 'h', readFileWithStat: () => f, trustedUids: [0] });

  it('accepts a root-owned file writable by root only', () => {
    expect(load(file({ content: '[modules]\ncontrollers = 2' })).modules.controllers).toBe(2);
  });

  it('refuses a file writable by group or others, owned by another user, or not a file', () => {
    expect(errorOf(() => load(file({ mode: 0o100664 }))).fix).toBe('chmod go-w /s.ini');
    expect(errorOf(() => load(file({ mode: 0o100646 }))).message).toContain('writable by group or others');
    expect(errorOf(() => load(file({ uid: 1000 }))).message).toContain('owned by uid 1000');
    expect(errorOf(() => load(file({ mode: 0o040755 }))).message).toContain('not a regular file');
  });

  describe('on the real filesystem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-settings-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads a real file owned by the current user and refuses it once group-writable', () => {
      const path = join(dir, 'settings.ini');
      writeFileSync(path, '[gadget]\ndefault_speed = full\n', { mode: 0o644 });
      chmodSync(path, 0o644);
      expect(loadSettings({ path, hostname: 'h' }).defaultSpeed).toBe('full');
      chmodSync(path, 0o664);
      expect(errorOf(() => loadSettings({ path, hostname: 'h' })).message).toContain('writable by group');
    });
  });
});
