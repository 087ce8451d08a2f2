/**
 * Loads the host settings (format: see settings/parse.ts and templates/settings.ini).
 *
 * Path: `opts.path`, else env PVE_USB_GADGET_SETTINGS, else /etc/pve-usb-gadget/settings.ini.
 * A missing file at the default path means "all defaults" (a host set up without a token works);
 * a missing file at a path given explicitly is an error, since someone expected it to be read.
 *
 * The settings decide which directories images may come from and the hook runs as root, so a file on
 * disk must not be writable by group or others and must be owned by root (or by the user running the
 * program, so unprivileged test runs work: for the root hook that is root again).
 */

import { hostname as osHostname } from 'node:os';
import { errnoOf, SettingsError } from '../errors.js';
import { isRegularFile, readFileWithStat, type FileWithStat } from './file-access.js';
import { parseSettings } from './parse.js';
import type { Settings } from './types.js';

export const DEFAULT_SETTINGS_PATH = '/etc/pve-usb-gadget/settings.ini';
export const SETTINGS_PATH_ENV = 'PVE_USB_GADGET_SETTINGS';

export interface LoadSettingsOptions {
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** default: os.hostname(); its first label is the default node name */
  hostname?: string;
  /**
   * Test seam: the file's text. When given, the owner/mode check is skipped (there is no file);
   * `readFileWithStat` replaces both and keeps the check.
   */
  readFile?: (path: string) => string;
  /** default: open + fstat + read of the real file */
  readFileWithStat?: (path: string) => FileWithStat;
  /** uids that may own the file; default [0, the current uid] */
  trustedUids?: readonly number[];
}

function settingsPath(opts: LoadSettingsOptions): { path: string; explicit: boolean } {
  if (opts.path !== undefined) return { path: opts.path, explicit: true };
  const fromEnv = (opts.env ?? process.env)[SETTINGS_PATH_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fromEnv.startsWith('/')) {
      throw new SettingsError(`${SETTINGS_PATH_ENV} must be an absolute path`, {
        key: SETTINGS_PATH_ENV,
        fix: `set ${SETTINGS_PATH_ENV}=/absolute/path/settings.ini or unset it`,
      });
    }
    return { path: fromEnv, explicit: true };
  }
  return { path: DEFAULT_SETTINGS_PATH, explicit: false };
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function checkOwnership(path: string, file: FileWithStat, trusted: readonly number[]): void {
  if (!isRegularFile(file.mode)) {
    throw new SettingsError(`settings file ${path} is not a regular file`, { path, fix: 'point it at a file' });
  }
  if (!trusted.includes(file.uid)) {
    throw new SettingsError(`settings file ${path} is owned by uid ${file.uid}, not root`, {
      path,
      fix: `chown root:root ${path}`,
    });
  }
  if ((file.mode & 0o022) !== 0) {
    throw new SettingsError(`settings file ${path} is writable by group or others`, {
      path,
      fix: `chmod go-w ${path}`,
    });
  }
}

export function loadSettings(opts: LoadSettingsOptions = {}): Settings {
  const { path, explicit } = settingsPath(opts);
  const host = opts.hostname ?? osHostname();
  let text: string;
  try {
    if (opts.readFile && !opts.readFileWithStat) {
      text = opts.readFile(path);
    } else {
      const file = (opts.readFileWithStat ?? readFileWithStat)(path);
      const uid = currentUid();
      checkOwnership(path, file, opts.trustedUids ?? (uid === undefined ? [0] : [0, uid]));
      text = file.content;
    }
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    const errno = errnoOf(err);
    if (errno === 'ENOENT' && !explicit) return parseSettings('', path, host);
    throw new SettingsError(`cannot read settings file ${path}`, {
      path,
      errno,
      cause: err,
      fix: errno === 'ENOENT' ? `create ${path} (see the settings.ini template) or fix the path` : undefined,
    });
  }
  return parseSettings(text, path, host);
}
