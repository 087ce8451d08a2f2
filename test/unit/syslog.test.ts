// detachedLogger: the hook hands its lines to a logger it does not wait for; they must still all arrive.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detachedLogger } from '../../src/host/syslog.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readOr = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

describe('detachedLogger', () => {
  it('returns before the logger is done, and the logger still gets every line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-syslog-'));
    dirs.push(dir);
    const out = join(dir, 'out');
    // a slow "logger": starts reading only after 1.5 s, writes to a temporary name, then renames
    const write = detachedLogger(['sh', '-c', `sleep 1.5; cat > '${out}.tmp' && mv '${out}.tmp' '${out}'`]);
    const text = 'pve-usb-gadget[100]: pre-start: one\npve-usb-gadget[100]: pre-start: two\n';
    await write(text);
    // returned while the logger still sleeps: the old way (await its exit) would find the file here
    expect(readOr(out)).toBe('');
    await until(() => readOr(out) !== '');
    expect(readOr(out)).toBe(text);
  });

  it('hands over more than a pipe holds (waits for the logger to read it, then returns)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-syslog-'));
    dirs.push(dir);
    const out = join(dir, 'out');
    const text = `${'x'.repeat(99)}\n`.repeat(3000);
    await detachedLogger(['sh', '-c', `cat > '${out}.tmp' && mv '${out}.tmp' '${out}'`])(text);
    await until(() => readOr(out) !== '');
    expect(readOr(out)).toBe(text);
  });

  it('never throws when the logger cannot run', async () => {
    await expect(detachedLogger(['/nonexistent/logger'])('line\n')).resolves.toBeUndefined();
  });
});
