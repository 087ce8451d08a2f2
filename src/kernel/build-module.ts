/**
 * `pve-usb-gadget kernel-module`: build dummy_hcd with DKMS for one kernel. Facts first (headers and
 * their version, what DKMS has), then the candidates in order (candidates.ts; sources the admin gave
 * come first), each fetched (fetch-source.ts) and built until one with the hrtimer scheduler builds; a
 * jiffies file only when nothing else builds. Whatever happens ends in a record (records.ts).
 */
import { createHash } from 'node:crypto';
import type { HostFs } from '../ports/host-fs.js';
import type { Exec } from '../ports/exec.js';
import { refText, sourceCandidates } from './candidates.js';
import * as dkms from './dkms.js';
import { fetchSource, type Download } from './fetch-source.js';
import type { GivenSource } from './import-source.js';
import { inTreeDummyHcd, headersVersion } from './kernel-facts.js';
import { readRecord, writeRecord, type Attempt, type KernelRecord } from './records.js';
import { JIFFIES_WARNING, schedulerOfSource, type Scheduler } from './scheduler.js';
import { SourceStore } from './source-store.js';
import { seriesText, versionText, type LinuxVersion } from './version.js';

export interface KernelModuleDeps {
  fs: HostFs;
  exec: Exec;
  /** undefined: offline, use stored and given files only */
  download?: Download;
  baseUrl?: string;
  /** folder with dkms/dkms.conf and dkms/Makefile */
  templatesDir: string;
  now: () => Date;
  say: (line: string) => void;
  warn: (line: string) => void;
}

export interface BuildRequest {
  kernel: string;
  given: readonly GivenSource[];
  /** build again even when a module is installed for this kernel */
  rebuild: boolean;
}

interface Try {
  label: string;
  text: string;
  version?: LinuxVersion;
  origin: string;
}

export async function buildKernelModule(deps: KernelModuleDeps, req: BuildRequest): Promise<KernelRecord> {
  const { fs, exec } = deps;
  const store = new SourceStore(fs);
  const kernel = req.kernel;
  const record = (r: Omit<KernelRecord, 'kernel' | 'at'>): KernelRecord => {
    const full = { kernel, ...r, at: deps.now().toISOString() };
    writeRecord(fs, full);
    return full;
  };
  await pinLegacyTrees(deps);
  const kver = headersVersion(fs, kernel);
  if (kver === undefined) {
    return record({
      status: 'no-headers',
      attempts: [],
      message: `dummy_hcd is not built for kernel ${kernel}: its headers are not installed (/lib/modules/${kernel}/build)`,
    });
  }
  for (const g of req.given) if (g.version) store.put(g.version, g.text, g.path);

  // built before, from the file given now (or with nothing given): nothing to do
  const installed = (await dkms.status(exec)).find((i) => i.kernel === kernel && i.state === 'installed');
  const installedText = installed && fs.readTextIfExists(`${dkms.dkmsSourceDir(installed.version)}/dummy_hcd.c`);
  if (installed && installedText !== undefined && !req.rebuild && (req.given.length === 0 || req.given[0]?.text === installedText)) {
    const v = installed.version;
    const text = installedText;
    // keep what the build recorded (source, candidates tried); only a missing record is made anew
    const before = readRecord(fs, kernel);
    if (before?.status === 'built' && before.dkmsVersion === v) return { ...before, message: `dummy_hcd is already built for ${kernel} (DKMS ${dkms.DKMS_NAME}/${v})` };
    return record({
      status: 'built',
      dkmsVersion: v,
      source: { version: v.replace(/-k[0-9.]+$/, ''), ref: 'installed before', origin: dkms.dkmsSourceDir(v) },
      scheduler: schedulerOfSource(text),
      attempts: [],
      message: `dummy_hcd is already built for ${kernel} (DKMS ${dkms.DKMS_NAME}/${v})`,
    });
  }

  const attempts: Attempt[] = [];
  const tried = new Set<string>();
  const deferred: Try[] = [];
  const candidates: (() => Promise<Try | undefined>)[] = [
    ...req.given.map((g) => async () => ({ label: g.path, text: g.text, version: g.version, origin: g.path })),
    ...sourceCandidates(kver).map((c) => async () => {
      const got = await fetchSource(c.ref, store, deps.download, deps.baseUrl);
      if (!got.source) {
        attempts.push({ ref: refText(c.ref), result: 'no-source', detail: got.detail });
        return undefined;
      }
      return { label: refText(c.ref), text: got.source.text, version: got.source.version, origin: got.source.origin };
    }),
  ];
  const attempt = async (t: Try, scheduler: Scheduler): Promise<KernelRecord | undefined> => {
    const version = t.version ? versionText(t.version) : undefined;
    const built = await tryBuild(deps, kernel, kver, t);
    attempts.push({ ref: t.label, version, result: built.ok ? 'built' : 'build-failed', detail: built.ok ? undefined : built.log });
    if (!built.ok) {
      deps.say(`${t.label}${version ? ` (Linux ${version})` : ''} does not build against ${kernel}: ${built.log}`);
      return undefined;
    }
    const from = `Linux ${version ?? 'of unknown version'} (${t.label}${t.origin !== t.label ? `, ${t.origin}` : ''})`;
    if (scheduler === 'jiffies') {
      deps.warn(`${JIFFIES_WARNING}: built for ${kernel} from ${from}, the only file that builds. Fix: give a newer file of the same API generation with --kernel-source`);
    }
    return record({
      status: 'built',
      dkmsVersion: built.dkmsVersion,
      source: { version: version ?? 'unknown', ref: t.label, origin: t.origin },
      scheduler,
      attempts,
      message: `dummy_hcd built for ${kernel} from ${from}, ${scheduler} scheduler (DKMS ${dkms.DKMS_NAME}/${built.dkmsVersion})`,
    });
  };

  for (const next of candidates) {
    const t = await next();
    if (t === undefined) continue;
    const key = createHash('sha256').update(t.text).digest('hex');
    if (tried.has(key)) {
      attempts.push({ ref: t.label, version: t.version && versionText(t.version), result: 'same-file' });
      continue;
    }
    tried.add(key);
    const scheduler = schedulerOfSource(t.text);
    if (scheduler === 'jiffies') {
      attempts.push({ ref: t.label, version: t.version && versionText(t.version), result: 'jiffies-skipped', detail: 'tried last' });
      deferred.push(t);
      continue;
    }
    const done = await attempt(t, scheduler);
    if (done) return done;
  }
  for (const t of deferred) {
    const done = await attempt(t, 'jiffies');
    if (done) return done;
  }
  const why = attempts.map((a) => `${a.ref}${a.version ? ` (${a.version})` : ''}: ${a.result}${a.detail ? ` (${a.detail})` : ''}`).join('; ');
  return record({
    status: 'failed',
    attempts,
    message: `dummy_hcd is not built for kernel ${kernel}: no source could be had or built (${why || 'nothing tried'})`,
  });
}

async function tryBuild(deps: KernelModuleDeps, kernel: string, kver: LinuxVersion, t: Try): Promise<{ ok: boolean; log: string; dkmsVersion: string }> {
  const tree: dkms.DkmsTree = { fs: deps.fs, exec: deps.exec, templatesDir: deps.templatesDir };
  // a file without a version (a bare dummy_hcd.c) is named by its content
  const dkmsVersion = t.version
    ? dkms.dkmsVersion(t.version, kver)
    : `0.${createHash('sha256').update(t.text).digest('hex').slice(0, 8)}-k${seriesText(kver)}`;
  deps.say(`building dummy_hcd for ${kernel} from ${t.label}${t.version ? ` (Linux ${versionText(t.version)})` : ''} with DKMS`);
  await dkms.addTree(tree, dkmsVersion, dkms.seriesRegex(kver), t.text);
  const built = await dkms.build(deps.exec, dkmsVersion, kernel);
  if (!built.ok) {
    const usedElsewhere = (await dkms.status(deps.exec)).some((i) => i.version === dkmsVersion && i.state === 'installed');
    if (!usedElsewhere) await dkms.remove(tree, dkmsVersion);
    return { ...built, dkmsVersion };
  }
  // one version of ours per kernel: the new one replaces what was there
  for (const other of (await dkms.status(deps.exec)).filter((i) => i.kernel === kernel && i.version !== dkmsVersion && i.state === 'installed')) {
    await dkms.remove(tree, other.version, kernel);
  }
  // an in-tree dummy_hcd of the same source has the same srcversion: DKMS would skip ours unless forced
  const inst = await dkms.install(deps.exec, dkmsVersion, kernel, inTreeDummyHcd(deps.fs, kernel) !== undefined);
  return { ...inst, dkmsVersion };
}

/**
 * Trees laid down before BUILD_EXCLUSIVE_KERNEL existed here (version = upstream version, AUTOINSTALL
 * on): DKMS's own hook would rebuild them for every new kernel and fail apt. Rewrite their dkms.conf
 * from the template, pinned to their own series; what is built stays built.
 */
export async function pinLegacyTrees(deps: Pick<KernelModuleDeps, 'fs' | 'templatesDir' | 'say'>): Promise<string[]> {
  const pinned: string[] = [];
  const prefix = `${dkms.DKMS_NAME}-`;
  for (const name of deps.fs.list('/usr/src')) {
    if (!name.startsWith(prefix)) continue;
    const version = name.slice(prefix.length);
    const conf = deps.fs.readTextIfExists(`/usr/src/${name}/dkms.conf`);
    if (conf === undefined || /^BUILD_EXCLUSIVE_KERNEL=/m.test(conf)) continue;
    const series = /^(\d+)\.(\d+)/.exec(version);
    if (!series) continue;
    const v = { major: Number(series[1]), minor: Number(series[2]), patch: 0 };
    const text = dkms.renderDkmsConf(deps.fs.readText(`${deps.templatesDir}/dkms/dkms.conf`), version, dkms.seriesRegex(v));
    deps.fs.writeAtomic(`/usr/src/${name}/dkms.conf`, text, 0o644);
    deps.say(`pinned the DKMS tree ${name} to ${seriesText(v)} kernels (no AUTOINSTALL: kernel upgrades cannot fail on it)`);
    pinned.push(version);
  }
  return pinned;
}
