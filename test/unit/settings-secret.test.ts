import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GadgetError, SettingsError } from '../../src/errors.js';
import type { FileWithStat } from '../../src/settings/file-access.js';
import { readTokenSecret } from '../../src/settings/secret.js';

const SECRET = '7c2c9c1e-5b7d-4c3f-9a51-0d2f6f0a9b11';
const settings = {
  api: { url: 'https://127.0.0.1:8006', tokenId: 'a@pve!b', secretFile: '/etc/pvug/token', caFile: '/ca.pem' },
};

function withFile(over: Partial<FileWithStat>, ownerUid = 0) {
  const file: FileWithStat = { content: `${SECRET}\n`, uid: 0, mode: 0o100600, ...over };
  return () => readTokenSecret(settings, { readFileWithStat: () => file, ownerUid });
}

/** Runs fn, expects a SettingsError and checks that the secret is nowhere in it. */
function refusal(fn: () => unknown): SettingsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    const err = e as SettingsError;
    const everything = [err.message, err.toLine(), err.stack ?? '', JSON.stringify(err), String(err.cause ?? '')];
    for (const text of everything) expect(text).not.toContain(SECRET);
    expect(err.key).toBe('api.secret_file');
    return err;
  }
  throw new Error('expected a SettingsError');
}

describe('readTokenSecret', () => {
  it('returns the trimmed secret from a root-owned 0600 or 0400 file', () => {
    expect(withFile({})()).toBe(SECRET);
    expect(withFile({ mode: 0o100400, content: `  ${SECRET}\r\n` })()).toBe(SECRET);
  });

  it('refuses a file readable or writable by group or others', () => {
    for (const mode of [0o100640, 0o100620, 0o100604, 0o100602, 0o100644, 0o100666]) {
      const e = refusal(withFile({ mode }));
      expect(e.message).toContain('group or others');
      expect(e.fix).toContain('chmod 600 /etc/pvug/token');
    }
  });

  it('refuses a file not owned by root (the expected uid is injectable)', () => {
    expect(refusal(withFile({ uid: 1000 })).message).toContain('owned by uid 1000, not root');
    expect(withFile({ uid: 1000 }, 1000)()).toBe(SECRET);
    expect(refusal(withFile({ uid: 0 }, 1000)).message).toContain('not uid 1000');
  });

  it('refuses something that is not a regular file', () => {
    expect(refusal(withFile({ mode: 0o010600 })).message).toContain('not a regular file');
  });

  it('refuses empty, multi-line or blank-containing content without showing it', () => {
    // not a UUID: visible ASCII the API client would refuse later, and an upper-cased one (PVE compares exactly)
    for (const content of ['', '\n', `${SECRET}\n${SECRET}`, `${SECRET} x`, `${SECRET}\u0000`, 'ü', 'not-a-uuid', SECRET.toUpperCase()]) {
      expect(refusal(withFile({ content })).message).toContain('a lower-case UUID as pveum printed it');
    }
  });

  it('turns a read error into a SettingsError with the errno only', () => {
    const e = refusal(() =>
      readTokenSecret(settings, {
        readFileWithStat: () => {
          throw Object.assign(new Error(`EACCES ${SECRET}`), { code: 'EACCES' });
        },
      }),
    );
    expect(e.errno).toBe('EACCES');
    expect(e.path).toBe('/etc/pvug/token');
    expect(e.cause).toBeUndefined();
  });

  it('says so when no [api] section is configured', () => {
    expect(() => readTokenSecret({})).toThrow(GadgetError);
    expect(() => readTokenSecret({})).toThrow('no API token is configured');
  });

  describe('on the real filesystem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-secret-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const uid = process.getuid?.() ?? 0;

    it('reads a 0600 file and refuses it at 0644', () => {
      const path = join(dir, 'token');
      writeFileSync(path, `${SECRET}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
      const s = { api: { ...settings.api, secretFile: path } };
      expect(readTokenSecret(s, { ownerUid: uid })).toBe(SECRET);
      chmodSync(path, 0o644);
      expect(() => readTokenSecret(s, { ownerUid: uid })).toThrow('group or others');
    });

    it('refuses a FIFO in place of the file without blocking on it', () => {
      const path = join(dir, 'fifo');
      execFileSync('mkfifo', ['-m', '600', path]);
      const s = { api: { ...settings.api, secretFile: path } };
      expect(refusal(() => readTokenSecret(s, { ownerUid: uid })).message).toContain('not a regular file');
    });

    it('reports a missing file as ENOENT', () => {
      const s = { api: { ...settings.api, secretFile: join(dir, 'missing') } };
      expect(refusal(() => readTokenSecret(s)).errno).toBe('ENOENT');
    });
  });
});
