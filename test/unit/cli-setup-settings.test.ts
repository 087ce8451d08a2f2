// `pve-usb-gadget setup settings`: the settings file install.sh writes. The renderer gives the bytes
// install.sh's sed gave (the sed lines are run here as the reference), the hook loads what it renders,
// and the writer never replaces a file the admin edited.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SetupError, SettingsError } from '../../src/errors.js';
import { NODE_STATE } from '../../src/cli/setup-records.js';
import { renderSettings, SETTINGS_HEADER, type SettingsInputs } from '../../src/cli/setup-settings-render.js';
import { writeSettings } from '../../src/cli/setup-settings.js';
import { parseSettings } from '../../src/settings/parse.js';
import { recordingReport } from './setup-fakes.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const TEMPLATE_FILE = resolve(__dirname, '../../templates/settings.ini');
const TEMPLATE = readFileSync(TEMPLATE_FILE, 'utf8');
const API = { url: 'https://[::1]:8006', tokenId: 'pve-usb-gadget@pve!hook', secretFile: '/etc/pve/priv/pve-usb-gadget/token.secret', caFile: '/etc/pve/pve-root-ca.pem' };

/** install.sh's render_settings (run by bash there; the same with sh) before `setup settings` (commit 08edaa5), as the reference */
function sedRender(template: string, i: SettingsInputs): string {
  const script = `printf '%s' "$1"
if [ -n "$3" ]; then
  sed -e 's|^;\\[api\\]$|[api]|' -e "s|^;url = .*|url = $3|" -e "s|^;token_id = .*|token_id = $4|" \\
    -e "s|^;secret_file = .*|secret_file = $5|" -e "s|^;ca_file = .*|ca_file = $6|" \\
    -e "s|^controllers = .*|controllers = $2|"
else
  sed -e "s|^controllers = .*|controllers = $2|"
fi`;
  const a = i.api;
  return execFileSync('sh', ['-c', script, 'render', SETTINGS_HEADER, String(i.controllers), a?.url ?? '', a?.tokenId ?? '', a?.secretFile ?? '', a?.caFile ?? ''], { input: template, encoding: 'utf8', env: { LC_ALL: 'C', PATH: process.env.PATH } });
}

describe('renderSettings', () => {
  const cases: [string, string, SettingsInputs][] = [
    ['the template with [api]', TEMPLATE, { controllers: 12, api: API }],
    ['the template without [api]', TEMPLATE, { controllers: 8 }],
    ['no final newline, CRLF lines, a key twice', ';[api]\n;url = x\r\n;token_id = y\n;url = z\n;[api]\r\ncontrollers = 3\ncontrollers = 4', { controllers: 5, api: API }],
  ];
  it.each(cases)("gives install.sh's sed bytes: %s", (_, template, inputs) => {
    expect(renderSettings(template, inputs)).toBe(sedRender(template, inputs));
  });

  it('renders what the hook loads', () => {
    const s = parseSettings(renderSettings(TEMPLATE, { controllers: 12, api: API }), 'rendered', 'pve1');
    expect(s.api).toEqual(API);
    expect(s.modules.controllers).toBe(12);
    expect(parseSettings(renderSettings(TEMPLATE, { controllers: 8 }), 'rendered', 'pve1').api).toBeUndefined();
  });

  it('refuses a template without the lines to fill in', () => {
    expect(() => renderSettings('[modules]\n', { controllers: 8 }, '/src/templates/settings.ini')).toThrow(SetupError);
    expect(() => renderSettings('[modules]\n', { controllers: 8 })).toThrow("templates/settings.ini has no 'controllers =' line");
    expect(() => renderSettings('controllers = 1\n', { controllers: 8, api: API })).toThrow("has no ';[api]' block to fill in");
  });
});

describe('writeSettings', () => {
  let t: TmpRoot | undefined;
  afterEach(() => t?.remove());
  const PATH = '/etc/pve-usb-gadget/settings.ini';
  const write = (text: string) => {
    const report = recordingReport();
    writeSettings({ fs: (t as TmpRoot).fs, report, node: 'pve1' }, { path: PATH, text, template: '/src/templates/settings.ini' });
    return report.lines;
  };

  it('writes, then says up to date, then rewrites its own file when the inputs change', () => {
    t = tmpRoot('pvug-setup-settings-');
    const v1 = renderSettings(TEMPLATE, { controllers: 8, api: API });
    expect(write(v1)).toEqual([`changed: wrote ${PATH}`]);
    expect(t.fs.readText(PATH)).toBe(v1);
    expect(t.fs.stat(PATH).mode & 0o777).toBe(0o644);
    expect(t.fs.readText(NODE_STATE)).toMatch(/^settings_sha256=[0-9a-f]{64}\n$/);
    expect(write(v1)).toEqual([`ok: ${PATH} is up to date`]);
    const v2 = renderSettings(TEMPLATE, { controllers: 4, api: API });
    expect(write(v2)).toEqual([`changed: wrote ${PATH}`]);
    expect(t.fs.readText(PATH)).toBe(v2);
  });

  it("keeps the admin's edits, and a file it never wrote, with a warning", () => {
    t = tmpRoot('pvug-setup-settings-');
    t.put(NODE_STATE, 'packages= nodejs\n');
    const edited = '[modules]\ncontrollers = 2\n';
    t.put(PATH, edited);
    expect(write(renderSettings(TEMPLATE, { controllers: 8 }))).toEqual([`WARNING: ${PATH} was edited by hand: left as it is (compare with /src/templates/settings.ini)`]);
    expect(t.fs.readText(PATH)).toBe(edited);
    expect(t.fs.readText(NODE_STATE)).toBe('packages= nodejs\n');
  });

  it('replaces nothing with a file the hook would not load', () => {
    t = tmpRoot('pvug-setup-settings-');
    expect(() => write(renderSettings(TEMPLATE, { controllers: 8, api: { ...API, url: 'http://x' } }))).toThrow(SettingsError);
    expect(t.fs.exists(PATH)).toBe(false);
  });
});
