/**
 * unRAID release lists and downloads. Two shapes are published:
 * - unRAID's USB creator: a branch list `[{ "name": "Stable", "url": ".../stable.json" }, ...]`, each
 *   branch URL giving `[{ "name", "url", "md5", "size", ... }]`;
 * - the combined list (releases.unraid.net/os, releases-combined.json):
 *   `{ "stable": [{ "version", "name", "basefile", "date", "url", "md5", "size", "sha256" }], "next": [...] }`.
 * Both are read. Everything in them is untrusted text: URLs must be http(s), checksums hex, and names
 * are cleaned before they reach a terminal or a file name.
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { errnoOf } from '../errors.js';
import { ImageError } from './errors.js';
import type { ProgressSink } from './progress.js';
import { formatSize } from './size.js';

export type Fetch = typeof fetch;

export interface UnraidRelease {
  branch: string;
  version: string;
  name: string;
  date?: string;
  url: string;
  md5?: string;
  sha256?: string;
  size?: number;
  /** safe file name for the zip */
  fileName: string;
}

export interface UnraidBranch {
  name: string;
  /** where the branch's list lives (creator shape) */
  url?: string;
  /** already known (combined shape) */
  releases?: UnraidRelease[];
}

/** Printable text only: release lists are remote input that ends up on a terminal. */
export const clean = (s: string) => s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?').slice(0, 200);

const text = z.union([z.string(), z.number()]).transform(String);
const RawRelease = z.looseObject({
  version: text.optional(),
  name: text.optional(),
  basefile: text.optional(),
  date: text.optional(),
  url: z.string(),
  md5: z.string().optional(),
  sha256: z.string().optional(),
  size: text.optional(),
});
const BranchList = z.array(z.looseObject({ name: text, url: z.string() }));
const ReleaseList = z.array(z.unknown());
const Combined = z.record(z.string(), z.array(z.unknown()));

function absoluteUrl(u: string, base: string, what: string): string {
  let url: URL;
  try {
    url = new URL(u, base);
  } catch {
    throw new ImageError(`${what} has an unreadable URL "${clean(u)}"`, { path: base });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ImageError(`${what} has a URL that is not http(s): ${clean(u)}`, { path: base });
  }
  return url.toString();
}

function versionFrom(r: z.infer<typeof RawRelease>, url: string): string {
  const fromFile = /unRAIDServer-(.+?)-x86_64\.zip$/i.exec(r.basefile ?? path.posix.basename(new URL(url).pathname))?.[1];
  return r.version ?? fromFile ?? r.name?.split(/\s+/).pop() ?? 'unknown';
}

/** Parses one branch's release list; malformed entries are skipped, not fatal. */
export function parseReleases(branch: string, data: unknown, base: string): UnraidRelease[] {
  const list = ReleaseList.safeParse(data);
  if (!list.success) throw new ImageError(`the release list of branch ${clean(branch)} is not a JSON array`, { path: base });
  const out: UnraidRelease[] = [];
  for (const item of list.data) {
    const r = RawRelease.safeParse(item);
    if (!r.success) continue;
    let url: string;
    try {
      url = absoluteUrl(r.data.url, base, `branch ${branch}`);
    } catch {
      continue;
    }
    const version = clean(versionFrom(r.data, url));
    const md5 = r.data.md5?.trim().toLowerCase();
    const sha256 = r.data.sha256?.trim().toLowerCase();
    const size = Number(r.data.size);
    const urlName = path.posix.basename(new URL(url).pathname);
    out.push({
      branch: clean(branch),
      version,
      name: clean(r.data.name ?? `unRAID ${version}`),
      date: r.data.date === undefined ? undefined : clean(r.data.date),
      url,
      md5: md5 && /^[0-9a-f]{32}$/.test(md5) ? md5 : undefined,
      sha256: sha256 && /^[0-9a-f]{64}$/.test(sha256) ? sha256 : undefined,
      size: Number.isSafeInteger(size) && size > 0 ? size : undefined,
      fileName: /^[A-Za-z0-9][A-Za-z0-9._-]*\.zip$/.test(urlName) ? urlName : `unRAIDServer-${version.replace(/[^A-Za-z0-9._-]/g, '_')}-x86_64.zip`,
    });
  }
  return out;
}

async function fetchJson(fetchFn: Fetch, url: string, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new ImageError(`cannot fetch ${what} from ${url}: ${err instanceof Error ? err.message : String(err)}`, {
      path: url,
      fix: 'check the network and the URL in the settings',
      cause: err,
    });
  }
  if (!res.ok) throw new ImageError(`fetching ${what} from ${url} failed: HTTP ${res.status}`, { path: url, fix: 'check the URL in the settings' });
  try {
    return await res.json();
  } catch (err) {
    throw new ImageError(`${what} at ${url} is not JSON`, { path: url, cause: err });
  }
}

/** The branches: from a creator-style branch list, or a combined `{branch: [releases]}` object. */
export async function unraidReleases(opts: { branchesUrl: string; fetch: Fetch }): Promise<UnraidBranch[]> {
  const data = await fetchJson(opts.fetch, opts.branchesUrl, 'the unRAID branch list');
  const branches = BranchList.safeParse(data);
  if (branches.success) {
    return branches.data.map((b) => ({ name: clean(b.name), url: absoluteUrl(b.url, opts.branchesUrl, `branch ${b.name}`) }));
  }
  const combined = Combined.safeParse(data);
  if (combined.success) {
    return Object.entries(combined.data).map(([name, list]) => ({ name: clean(name), releases: parseReleases(name, list, opts.branchesUrl) }));
  }
  throw new ImageError(`the unRAID branch list at ${opts.branchesUrl} has an unknown shape`, {
    path: opts.branchesUrl,
    fix: 'point the setting at a branch list ([{"name","url"}]) or a combined release list ({"stable":[...]})',
  });
}

export async function releasesForBranch(opts: { branch: UnraidBranch; fetch: Fetch }): Promise<UnraidRelease[]> {
  if (opts.branch.releases) return opts.branch.releases;
  if (!opts.branch.url) return [];
  const data = await fetchJson(opts.fetch, opts.branch.url, `the ${opts.branch.name} release list`);
  return parseReleases(opts.branch.name, data, opts.branch.url);
}

/** Finds a version across branches (or in one branch, matched case-insensitively). */
export async function findRelease(opts: { branchesUrl: string; version: string; branch?: string; fetch: Fetch }): Promise<UnraidRelease> {
  const branches = (await unraidReleases(opts)).filter((b) => !opts.branch || b.name.toLowerCase() === opts.branch.toLowerCase());
  if (branches.length === 0) throw new ImageError(`no unRAID branch "${clean(opts.branch ?? '')}"`, { fix: 'list them with: pve-usb-gadget image releases' });
  const seen: string[] = [];
  for (const branch of branches) {
    for (const r of await releasesForBranch({ branch, fetch: opts.fetch })) {
      if (r.version === opts.version) return r;
      seen.push(r.version);
    }
  }
  throw new ImageError(`unRAID ${clean(opts.version)} is not in the release lists`, {
    fix: `choose one of: ${seen.slice(0, 12).join(', ') || '(none listed)'}`,
  });
}

export interface DownloadResult {
  file: string;
  bytes: number;
  md5: string;
  /** the file was already there with the right checksum */
  reused: boolean;
}

async function hashFile(file: string): Promise<{ md5: string; sha256: string; bytes: number }> {
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    md5.update(chunk as Buffer);
    sha.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { md5: md5.digest('hex'), sha256: sha.digest('hex'), bytes };
}

function checksumProblem(r: UnraidRelease, got: { md5: string; sha256: string }): string | undefined {
  if (r.md5 && r.md5 !== got.md5) return `MD5 mismatch: expected ${r.md5}, got ${got.md5}`;
  if (r.sha256 && r.sha256 !== got.sha256) return `SHA-256 mismatch: expected ${r.sha256}, got ${got.sha256}`;
  return undefined;
}

/** Downloads a release zip into `destDir`, verifying its checksum; a bad download is deleted. */
export async function downloadRelease(opts: {
  release: UnraidRelease;
  destDir: string;
  fetch: Fetch;
  progress: ProgressSink;
  force?: boolean;
}): Promise<DownloadResult> {
  const r = opts.release;
  if (!r.md5 && !r.sha256) {
    throw new ImageError(`the release list gives no checksum for unRAID ${r.version}; refusing an unverifiable download`, {
      path: r.url,
      fix: 'download it yourself, check it, and use --from-zip',
    });
  }
  const dest = path.join(path.resolve(opts.destDir), r.fileName);
  if (await stat(dest).then(() => true, () => false)) {
    const got = await hashFile(dest);
    if (!checksumProblem(r, got)) return { file: dest, bytes: got.bytes, md5: got.md5, reused: true };
    if (!opts.force) {
      throw new ImageError(`${dest} exists and does not match the release checksum`, { path: dest, fix: 'delete it or pass --force to download again' });
    }
  }
  const tmp = `${dest}.part-${randomBytes(4).toString('hex')}`;
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
  } catch (err) {
    throw new ImageError(`cannot write into ${path.dirname(dest)}`, { path: path.dirname(dest), errno: errnoOf(err), fix: 'choose a writable directory', cause: err });
  }
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  let bytes = 0;
  let progressStarted = false;
  try {
    let res: Response;
    try {
      res = await opts.fetch(r.url);
    } catch (err) {
      throw new ImageError(`cannot download ${r.url}: ${err instanceof Error ? err.message : String(err)}`, { path: r.url, cause: err });
    }
    if (!res.ok || !res.body) throw new ImageError(`downloading ${r.url} failed: HTTP ${res.status}`, { path: r.url });
    const length = Number(res.headers.get('content-length'));
    opts.progress.start(`downloading ${r.fileName}`, Number.isSafeInteger(length) && length > 0 ? length : r.size);
    progressStarted = true;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      md5.update(value);
      sha.update(value);
      await fh.write(value);
      bytes += value.length;
      opts.progress.update(bytes);
    }
    opts.progress.end();
    progressStarted = false;
    await fh.sync();
    await fh.close();
    fh = undefined;
    const got = { md5: md5.digest('hex'), sha256: sha.digest('hex') };
    const problem = checksumProblem(r, got);
    if (problem) {
      throw new ImageError(`download of unRAID ${r.version} is corrupt (${problem}, ${formatSize(bytes)}); the file was deleted`, {
        path: r.url,
        fix: 'try again; if it persists, the mirror or the release list is wrong',
      });
    }
    await rename(tmp, dest);
    return { file: dest, bytes, md5: got.md5, reused: false };
  } finally {
    if (progressStarted) opts.progress.end();
    if (fh) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
  }
}
