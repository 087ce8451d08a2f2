/**
 * The API token secret. It lives in its own root-only file (never in settings.ini, which may be shown
 * or copied around), and it never appears in an error, a log line or an exception's cause.
 */

import { errnoOf, SettingsError } from '../errors.js';
import { isRegularFile, readFileWithStat, type FileWithStat } from './file-access.js';
import type { Settings } from './types.js';
import { isTokenSecret } from '../values/proxmox-ids.js';

export interface SecretFileDeps {
  /** default: open + fstat + read of the real file (owner and mode from the same descriptor) */
  readFileWithStat?: (path: string) => FileWithStat;
  /** the uid the file must belong to: 0 (root) on a real host; a seam for unprivileged tests */
  ownerUid?: number;
}


export function readTokenSecret(settings: Pick<Settings, 'api'>, deps: SecretFileDeps = {}): string {
  if (!settings.api) {
    throw new SettingsError('no API token is configured', {
      key: 'api',
      fix: 'add an [api] section with token_id and secret_file to the settings file',
    });
  }
  const path = settings.api.secretFile;
  const details = { key: 'api.secret_file', path };
  let file: FileWithStat;
  try {
    file = (deps.readFileWithStat ?? readFileWithStat)(path);
  } catch (err) {
    if (err instanceof SettingsError) throw err;
    const errno = errnoOf(err);
    // the fs error names only the path; still, keep just its code rather than the error itself
    throw new SettingsError('cannot read the API token secret file', {
      ...details,
      errno,
      fix: `create ${path} holding only the token secret (mode 0600, owner root)`,
    });
  }
  const ownerUid = deps.ownerUid ?? 0;
  if (!isRegularFile(file.mode)) {
    throw new SettingsError('the API token secret file is not a regular file', { ...details, fix: 'point api.secret_file at a file' });
  }
  if (file.uid !== ownerUid) {
    throw new SettingsError(`the API token secret file is owned by uid ${file.uid}, not ${ownerUid === 0 ? 'root' : `uid ${ownerUid}`}`, {
      ...details,
      fix: `chown root:root ${path}`,
    });
  }
  if ((file.mode & 0o066) !== 0) {
    throw new SettingsError('the API token secret file is readable or writable by group or others', {
      ...details,
      fix: `chmod 600 ${path}, then create a new token secret: the old one may have been read`,
    });
  }
  const secret = file.content.trim();
  if (!isTokenSecret(secret)) {
    throw new SettingsError(
      'the API token secret file must hold only the secret: one line, a lower-case UUID as pveum printed it (like 3c9e7a1b-5d2f-4e8a-9b6c-1f0e2d3c4b5a)',
      { ...details, fix: `write only the secret Proxmox showed when the token was created into ${path}` },
    );
  }
  return secret;
}
