// Which dummy_hcd.c is tried for which kernel, and how a candidate is fetched (kernel.org or the store).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { HostFs } from '../../src/ports/host-fs.js';
import { refText, seriesHasHrtimer, sourceCandidates } from '../../src/kernel/candidates.js';
import { fetchSource, type Download } from '../../src/kernel/fetch-source.js';
import { schedulerOfModule, schedulerOfSource } from '../../src/kernel/scheduler.js';
import { SourceStore } from '../../src/kernel/source-store.js';
import { HRTIMER_FILE, JIFFIES_FILE, makefile } from './kernel-fixtures.js';
import { compareVersions, parseVersion, versionFromMakefile, versionFromVersionH, versionOfRelease } from '../../src/kernel/version.js';

const v = (s: string) => parseVersion(s) ?? { major: -1, minor: -1, patch: -1 };
const order = (kernel: string) => sourceCandidates(v(kernel)).map((c) => refText(c.ref));

describe('versions', () => {
  it('reads a Makefile, a version.h (sublevel over 255 included) and a release string', () => {
    expect(versionFromMakefile(makefile('6.6.120'))).toEqual({ major: 6, minor: 6, patch: 120 });
    expect(versionFromMakefile('all:\n\techo\n')).toBeUndefined();
    const h = '#define LINUX_VERSION_CODE 393648\n#define LINUX_VERSION_MAJOR 6\n#define LINUX_VERSION_PATCHLEVEL 1\n#define LINUX_VERSION_SUBLEVEL 276\n';
    expect(versionFromVersionH(h)).toEqual({ major: 6, minor: 1, patch: 276 });
    expect(versionFromVersionH('#define LINUX_VERSION_CODE 395264\n')).toEqual({ major: 6, minor: 8, patch: 0 });
    expect(versionOfRelease('6.8.12-4-pve')).toEqual({ major: 6, minor: 8, patch: 12 });
    expect(compareVersions(v('6.12.9'), v('6.12.10'))).toBeLessThan(0);
    expect(parseVersion('6.8.12-4-pve')).toBeUndefined();
  });
});

describe('candidates', () => {
  it('a long-term series: its own newest file, then the exact release', () => {
    expect(order('6.12.95')).toEqual(['linux-6.12.y', 'v6.12.95']);
    expect(order('6.1.176')).toEqual(['linux-6.1.y', 'v6.1.176']);
  });
  it('Proxmox VE 8\'s 6.8 gets the newest 6.6 file first: 6.8.y never had the hrtimer scheduler', () => {
    expect(order('6.8.12')).toEqual(['linux-6.6.y', 'linux-6.8.y', 'v6.8.12']);
    expect(seriesHasHrtimer('6.8')).toBe(false);
    expect(seriesHasHrtimer('6.6')).toBe(true);
  });
  it('Proxmox VE 9\'s 6.14, 6.17 and 7.0: the long-term file below first, then their own series', () => {
    expect(order('6.14.11')).toEqual(['linux-6.12.y', 'linux-6.14.y', 'v6.14.11']);
    expect(order('6.17.4')).toEqual(['linux-6.12.y', 'linux-6.17.y', 'v6.17.4']);
    expect(order('7.0.2')).toEqual(['linux-6.18.y', 'linux-7.0.y', 'v7.0.2']);
  });
  it('a series before any hrtimer backport has only its own files', () => {
    expect(order('5.15.160')).toEqual(['linux-5.15.y', 'v5.15.160']);
    expect(seriesHasHrtimer('5.15')).toBe(false);
  });
  it('every candidate says why it is there', () => {
    for (const c of sourceCandidates(v('6.8.12'))) expect(c.why.length).toBeGreaterThan(20);
  });
});

describe('scheduler', () => {
  it('from the source and from a module\'s symbols', () => {
    expect(schedulerOfSource(HRTIMER_FILE)).toBe('hrtimer');
    expect(schedulerOfSource(JIFFIES_FILE)).toBe('jiffies');
    expect(schedulerOfSource('int x;')).toBe('unknown');
    expect(schedulerOfModule('\0hrtimer_start_range_ns\0')).toBe('hrtimer');
    expect(schedulerOfModule('\0mod_timer\0')).toBe('jiffies');
  });
});

describe('fetchSource', () => {
  let root: string;
  let fs: HostFs;
  let store: SourceStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pvug-src-'));
    fs = nodeHostFs(root);
    store = new SourceStore(fs);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const BASE = 'https://mirror.test/plain';
  const urls: string[] = [];
  const online: Download = async (url) => {
    urls.push(url);
    if (url === `${BASE}/Makefile?h=linux-6.6.y`) return makefile('6.6.120');
    if (url === `${BASE}/drivers/usb/gadget/udc/dummy_hcd.c?h=v6.6.120`) return HRTIMER_FILE;
    if (url.includes('?h=v6.8.12')) return '<html>404</html>';
    throw new Error('ENOTFOUND');
  };

  it('resolves a series to its newest release through the branch Makefile, downloads and stores it', async () => {
    const got = await fetchSource({ kind: 'series', series: '6.6' }, store, online, BASE);
    expect(got.detail).toBe('v6.6.120 (downloaded)');
    expect(got.source?.version).toEqual(v('6.6.120'));
    expect(store.get(v('6.6.120'))?.origin).toBe(`${BASE}/drivers/usb/gadget/udc/dummy_hcd.c?h=v6.6.120`);
    // a second time it is not downloaded again
    urls.length = 0;
    expect((await fetchSource({ kind: 'series', series: '6.6' }, store, online, BASE)).detail).toBe('v6.6.120 (stored)');
    expect(urls).toEqual([`${BASE}/Makefile?h=linux-6.6.y`]);
  });
  it('refuses what is not a dummy_hcd.c (an error page) and says so', async () => {
    const got = await fetchSource({ kind: 'release', version: '6.8.12' }, store, online, BASE);
    expect(got.source).toBeUndefined();
    expect(got.detail).toMatch(/none stored, download failed: .*is not a dummy_hcd\.c/);
  });
  it('offline: the newest stored file of the series, or the exact release', async () => {
    store.put(v('6.12.90'), HRTIMER_FILE, '/given/a');
    store.put(v('6.12.118'), HRTIMER_FILE, '/given/b');
    store.put(v('6.1.176'), HRTIMER_FILE, '/given/c');
    const series = await fetchSource({ kind: 'series', series: '6.12' }, store, undefined);
    expect(series.source?.version).toEqual(v('6.12.118'));
    expect(series.detail).toBe('v6.12.118 (stored; no download)');
    const failing = await fetchSource({ kind: 'series', series: '6.12' }, store, online, BASE);
    expect(failing.detail).toBe('v6.12.118 (stored; download failed: ENOTFOUND)');
    expect((await fetchSource({ kind: 'release', version: '6.12.90' }, store, undefined)).source?.origin).toBe('/given/a');
    expect((await fetchSource({ kind: 'release', version: '6.12.91' }, store, undefined)).source).toBeUndefined();
    expect((await fetchSource({ kind: 'series', series: '6.6' }, store, undefined)).detail).toBe('none stored, no download');
  });
});
