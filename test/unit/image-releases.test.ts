import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageCreateCommand, imageDownloadCommand, imageReleasesCommand } from '../../src/image/commands.js';
import { ImageError } from '../../src/image/errors.js';
import { inspectImage } from '../../src/image/inspect.js';
import { silentProgress, type ProgressSink } from '../../src/image/progress.js';
import { downloadRelease, findRelease, releasesForBranch, unraidReleases } from '../../src/image/releases.js';
import { buildFakeUnraidZip } from '../image/fake-unraid.js';
import { recordingExec, requireHostTools } from '../image/host-tools.js';

let work: string;
let server: Server;
let base: string;
let zipBytes: Buffer;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

beforeAll(async () => {
  requireHostTools();
  work = mkdtempSync(path.join(tmpdir(), 'pvug-releases-'));
  zipBytes = readFileSync(buildFakeUnraidZip(work, 'served'));
  const routes = (): Record<string, unknown> => ({
    '/branches.json': [
      { name: 'Stable', url: '/stable.json' },
      { name: 'Next', url: `${base}/next.json` },
    ],
    '/stable.json': [
      { name: 'Unraid Server 7.0.1', url: '/dl/unRAIDServer-7.0.1-x86_64.zip', md5: md5(zipBytes).toUpperCase(), size: zipBytes.length, date: '2025-02-25' },
      { name: 'script', url: 'javascript:alert(1)', md5: md5(zipBytes) },
      { version: '6.12.4\x1b[2J', url: '/dl/unRAIDServer-6.12.4-x86_64.zip', md5: md5(zipBytes) },
      { version: '6.9.2', url: '/dl/unRAIDServer-6.9.2-x86_64.zip' },
      'not an object',
    ],
    '/next.json': [{ version: '7.1.0-rc.1', basefile: 'unRAIDServer-7.1.0-rc.1-x86_64.zip', url: '/dl/unRAIDServer-7.1.0-rc.1-x86_64.zip', md5: 'f'.repeat(32), date: '2025-04-01' }],
    '/combined.json': { stable: [{ version: '7.0.1', name: 'Unraid 7.0.1', url: `${base}/dl/unRAIDServer-7.0.1-x86_64.zip`, sha256: createHash('sha256').update(zipBytes).digest('hex'), size: String(zipBytes.length) }], next: [] },
    '/weird.json': { hello: 'world' },
  });
  server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/dl/')) {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zipBytes.length });
      // in pieces, so progress sees several updates
      for (let i = 0; i < zipBytes.length; i += 64 * 1024) res.write(zipBytes.subarray(i, i + 64 * 1024));
      res.end();
      return;
    }
    const body = routes()[url];
    if (body === undefined) {
      res.writeHead(404).end('no');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

function recordingProgress(): ProgressSink & { updates: number[]; totals: (number | undefined)[] } {
  const updates: number[] = [];
  const totals: (number | undefined)[] = [];
  return { updates, totals, start: (_l, t) => totals.push(t), update: (d) => updates.push(d), end: () => {} };
}

describe('unRAID release lists', () => {
  it('reads the creator-style branch list, resolving relative URLs', async () => {
    const branches = await unraidReleases({ branchesUrl: `${base}/branches.json`, fetch });
    expect(branches).toEqual([
      { name: 'Stable', url: `${base}/stable.json` },
      { name: 'Next', url: `${base}/next.json` },
    ]);
  });

  it('reads a branch: versions from the file name, hostile entries skipped or cleaned', async () => {
    const releases = await releasesForBranch({ branch: { name: 'Stable', url: `${base}/stable.json` }, fetch });
    expect(releases.map((r) => r.version)).toEqual(['7.0.1', '6.12.4?[2J', '6.9.2']);
    expect(releases[0]).toMatchObject({ date: '2025-02-25', md5: md5(zipBytes), size: zipBytes.length, fileName: 'unRAIDServer-7.0.1-x86_64.zip' });
    expect(releases.every((r) => r.url.startsWith(base))).toBe(true);
  });

  it('reads the combined {branch: [...]} shape', async () => {
    const branches = await unraidReleases({ branchesUrl: `${base}/combined.json`, fetch });
    expect(branches.map((b) => b.name)).toEqual(['stable', 'next']);
    expect(branches[0]?.releases?.[0]).toMatchObject({ version: '7.0.1', size: zipBytes.length });
  });

  it('says what is wrong with a missing or odd list', async () => {
    await expect(unraidReleases({ branchesUrl: `${base}/missing.json`, fetch })).rejects.toThrow(/HTTP 404/);
    await expect(unraidReleases({ branchesUrl: `${base}/weird.json`, fetch })).rejects.toThrow(/unknown shape/);
    await expect(unraidReleases({ branchesUrl: 'http://127.0.0.1:1/x.json', fetch })).rejects.toBeInstanceOf(ImageError);
  });

  it('prints the lists for `image releases`', async () => {
    const lines: string[] = [];
    const all = await imageReleasesCommand({ branchesUrl: `${base}/branches.json` }, { fetch, print: (l) => lines.push(l) });
    expect(all).toHaveLength(4);
    expect(lines[0]).toBe('Stable:');
    expect(lines.find((l) => l.includes('6.9.2'))).toContain('(no checksum)');
    expect(lines).toContain('Next:');
    expect(lines.join('\n')).not.toContain('\x1b');
  });
});

describe('downloading a release', () => {
  it('downloads with progress and a verified MD5', async () => {
    const dir = mkdtempSync(path.join(work, 'dl-'));
    const release = await findRelease({ branchesUrl: `${base}/branches.json`, version: '7.0.1', fetch });
    const progress = recordingProgress();
    const r = await downloadRelease({ release, destDir: dir, fetch, progress });
    expect(r).toMatchObject({ file: path.join(dir, 'unRAIDServer-7.0.1-x86_64.zip'), bytes: zipBytes.length, md5: md5(zipBytes), reused: false });
    expect(readFileSync(r.file).equals(zipBytes)).toBe(true);
    expect(progress.totals).toEqual([zipBytes.length]);
    expect(progress.updates.length).toBeGreaterThan(1);
    expect(progress.updates.at(-1)).toBe(zipBytes.length);
    expect(readdirSync(dir)).toEqual(['unRAIDServer-7.0.1-x86_64.zip']);
    // a second time: the file is there and checks out
    expect((await downloadRelease({ release, destDir: dir, fetch, progress: silentProgress })).reused).toBe(true);
  });

  it('verifies SHA-256 when that is what the list gives', async () => {
    const dir = mkdtempSync(path.join(work, 'sha-'));
    const [stable] = await unraidReleases({ branchesUrl: `${base}/combined.json`, fetch });
    const r = await downloadRelease({ release: stable!.releases![0]!, destDir: dir, fetch, progress: silentProgress });
    expect(r.bytes).toBe(zipBytes.length);
  });

  it('deletes a download whose MD5 is wrong and says so', async () => {
    const dir = mkdtempSync(path.join(work, 'bad-'));
    const release = await findRelease({ branchesUrl: `${base}/branches.json`, version: '7.1.0-rc.1', branch: 'next', fetch });
    const err = await downloadRelease({ release, destDir: dir, fetch, progress: silentProgress }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).message).toMatch(/MD5 mismatch: expected f{32}, got [0-9a-f]{32}.*the file was deleted/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a release without any checksum, and an unknown version', async () => {
    const dir = mkdtempSync(path.join(work, 'nosum-'));
    const release = await findRelease({ branchesUrl: `${base}/branches.json`, version: '6.9.2', fetch });
    await expect(downloadRelease({ release, destDir: dir, fetch, progress: silentProgress })).rejects.toThrow(/no checksum/);
    expect(readdirSync(dir)).toEqual([]);
    await expect(findRelease({ branchesUrl: `${base}/branches.json`, version: '1.0', fetch })).rejects.toMatchObject({
      fix: expect.stringContaining('7.0.1'),
    });
  });

  it('will not overwrite a different file of the same name without --force', async () => {
    const dir = mkdtempSync(path.join(work, 'clash-'));
    const release = await findRelease({ branchesUrl: `${base}/branches.json`, version: '7.0.1', fetch });
    writeFileSync(path.join(dir, release.fileName), 'something else');
    await expect(imageDownloadCommand({ branchesUrl: `${base}/branches.json`, version: '7.0.1', dir }, { fetch, progress: silentProgress, print: () => {} })).rejects.toThrow(/does not match/);
    const lines: string[] = [];
    await imageDownloadCommand({ branchesUrl: `${base}/branches.json`, version: '7.0.1', dir, force: true }, { fetch, progress: silentProgress, print: (l) => lines.push(l) });
    expect(readFileSync(path.join(dir, release.fileName)).equals(zipBytes)).toBe(true);
    expect(lines[0]).toMatch(/^downloaded: .*checksum ok/);
  });
});

describe('image create --unraid <version>', () => {
  it('downloads, verifies, builds a bootable UNRAID image and prints the notes', async () => {
    const dir = mkdtempSync(path.join(work, 'e2e-'));
    const lines: string[] = [];
    const img = path.join(dir, 'vm101-unraid.img');
    const r = await imageCreateCommand(
      { file: img, size: '64M', unraidVersion: '7.0.1', branchesUrl: `${base}/branches.json`, staticIp: '192.168.1.9/24', gateway: '192.168.1.1' },
      { exec: recordingExec().exec, fetch, progress: silentProgress, print: (l) => lines.push(l) },
    );
    expect(r.layout.filesystem.label).toBe('UNRAID');
    expect(existsSync(path.join(dir, 'unRAIDServer-7.0.1-x86_64.zip'))).toBe(true);
    expect(lines.slice(-2)).toEqual(['  [usb-gadget]', `  image = ${img}`]);
    const i = await inspectImage(img);
    expect(i.bios.bootable && i.uefi.bootable).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['unRAIDServer-7.0.1-x86_64.zip', 'vm101-unraid.img']);
  });

  it('checks option combinations before doing anything', async () => {
    const deps = { exec: recordingExec().exec, fetch, progress: silentProgress, print: () => {} };
    await expect(imageCreateCommand({ file: path.join(work, 'x.img'), staticIp: '10.0.0.2/24', gateway: '10.0.0.1' }, deps)).rejects.toThrow(/only apply to unRAID/);
    await expect(imageCreateCommand({ file: path.join(work, 'x.img'), unraid: true, staticIp: '10.0.0.2/24', fromZip: 'x.zip' }, deps)).rejects.toThrow(/needs --gateway/);
    await expect(imageCreateCommand({ file: path.join(work, 'x.img'), unraidVersion: '7.0.1' }, deps)).rejects.toMatchObject({ key: 'unraid.branches_url' });
    expect(existsSync(path.join(work, 'x.img'))).toBe(false);
  });
});
