/**
 * `pve-usb-gadget [--settings FILE] setup settings --template FILE [options]`: writes the settings file
 * install.sh renders (setup-settings-render.ts), but never over the admin's own edits: the file is
 * replaced only while it is still exactly what install.sh last wrote (its sha256 is recorded in the node
 * state), so an edited file stays, with a warning. `--print` only prints what it would write.
 */
import { Command, CommanderError } from 'commander';
import { createHash } from 'node:crypto';
import { posix, resolve } from 'node:path';
import { DEFAULT_SETTINGS_PATH } from '../settings/load.js';
import { DEFAULT_API_URL, DEFAULT_CA_FILE, parseSettings } from '../settings/parse.js';
import { nodeStateGet, nodeStateSet, SECRET_FILE, TOKEN_ID } from './setup-records.js';
import type { SetupDeps } from './setup-report.js';
import { renderSettings, type SettingsInputs } from './setup-settings-render.js';

const SUM_KEY = 'settings_sha256';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export interface WriteSettings {
  /** the settings file */
  path: string;
  /** the rendered text */
  text: string;
  /** named in the warning about an edited file */
  template: string;
}

export function writeSettings(deps: Pick<SetupDeps, 'fs' | 'report' | 'node'>, o: WriteSettings): void {
  const { fs, report } = deps;
  const sum = sha256(o.text);
  const now = fs.readTextIfExists(o.path);
  if (now !== undefined) {
    const nowSum = sha256(now);
    if (nowSum === sum) return report.ok(`${o.path} is up to date`);
    if (nowSum !== nodeStateGet(fs, SUM_KEY)) return report.warn(`${o.path} was edited by hand: left as it is (compare with ${o.template})`);
  }
  // what the hook will load: a bad value (an option, or the template) stops here, before the file is replaced
  parseSettings(o.text, o.path, deps.node);
  fs.mkdir(posix.dirname(o.path), { recursive: true, mode: 0o755 });
  fs.writeAtomic(o.path, o.text, 0o644);
  nodeStateSet(fs, SUM_KEY, sum);
  report.changed(`wrote ${o.path}`);
}

interface Options {
  template: string;
  controllers: number;
  api: boolean;
  apiUrl: string;
  tokenId: string;
  secretFile: string;
  caFile: string;
  print?: boolean;
}

function controllers(v: string): number {
  if (!/^[0-9]{1,2}$/.test(v) || Number(v) < 1 || Number(v) > 32) throw new CommanderError(2, 'usage', '--controllers must be 1..32');
  return Number(v);
}

export function registerSetupSettings(setup: Command, deps: () => SetupDeps, settingsPath: () => string | undefined): void {
  setup
    .command('settings')
    .description(`write the settings file (--settings, default ${DEFAULT_SETTINGS_PATH}) from the template, unless the admin edited it`)
    .requiredOption('--template <file>', "templates/settings.ini of the release being installed")
    .option('--controllers <n>', 'dummy_hcd controllers, 1..32', controllers, 8)
    .option('--no-api', 'no [api] section: the hook reads the local VM config only')
    .option('--api-url <url>', 'Proxmox API of this node', DEFAULT_API_URL)
    .option('--token-id <id>', 'API token id (default: the one `setup api` creates)', TOKEN_ID)
    .option('--secret-file <file>', 'file holding the token secret', SECRET_FILE)
    .option('--ca-file <file>', 'CA of the API certificate', DEFAULT_CA_FILE)
    .option('--print', 'print the file it would write, change nothing')
    .action((o: Options) => {
      const d = deps();
      const inputs: SettingsInputs = {
        controllers: o.controllers,
        api: o.api ? { url: o.apiUrl, tokenId: o.tokenId, secretFile: o.secretFile, caFile: o.caFile } : undefined,
      };
      const template = resolve(o.template);
      const text = renderSettings(d.fs.readText(template), inputs, template);
      if (o.print) return void process.stdout.write(text);
      writeSettings(d, { path: settingsPath() ?? DEFAULT_SETTINGS_PATH, text, template });
    });
}
