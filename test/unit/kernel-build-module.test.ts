// kernel-module's decisions with a DKMS stand-in: the order it tries files in, hrtimer before jiffies,
// what it records, replacing a kernel's old build, and pinning trees laid down by the old install.sh.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostFs } from '../../src/ports/host-fs.js';
import { checkKernels } from '../../src/cli/doctor-kernels.js';
import { buildKernelModule, pinLegacyTrees, type KernelModuleDeps } from '../../src/kernel/build-module.js';
import type { Download } from '../../src/kernel/fetch-source.js';
import { listKernels, nextBootKernel } from '../../src/kernel/kernel-facts.js';
import { readRecord } from '../../src/kernel/records.js';
import { SourceStore } from '../../src/kernel/source-store.js';
import { parseVersion } from '../../src/kernel/version.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';
import { fakeDkms, HRTIMER_FILE, JIFFIES_FILE, makefile, versionH, type FakeDkms } from './kernel-fixtures.js';

/** where install.sh puts templates/dkms, inside the test's root */
const TEMPLATES = '/usr/local/share/pve-usb-gadget';
let root: string;
let fs: HostFs;
let put: TmpRoot['put'];
let tmp: TmpRoot;
let lines: string[];
/** a kernel with headers of upstream version `ver` (and, unless headersOnly, its package's module tree) */
const kernel = (release: string, ver: string, headersOnly = false) => {
  put(`/lib/modules/${release}/build/include/generated/uapi/linux/version.h`, versionH(ver));
  if (!headersOnly) put(`/lib/modules/${release}/modules.builtin`, '');
};
const v = (s: string) => parseVersion(s) ?? { major: 0, minor: 0, patch: 0 };
/** a file that builds only on the series it names: "fits:6.6,6.8" */
const fits = (series: string, text = HRTIMER_FILE) => `${text}/* fits:${series} */\n`;
const buildsOn = (text: string, k: string) => (/fits:([0-9.,]+)/.exec(text)?.[1] ?? '').split(',').some((s) => k.startsWith(`${s}.`));

function deps(dk: FakeDkms, download?: Download): KernelModuleDeps {
  return {
    fs,
    exec: dk.exec,
    download,
    baseUrl: 'https://mirror.test/plain',
    templatesDir: TEMPLATES,
    now: () => new Date('2026-12-04T00:00:00Z'),
    say: (l) => lines.push(l),
    warn: (l) => lines.push(`WARN ${l}`),
  };
}

beforeEach(() => {
  tmp = tmpRoot('pvug-kmod-');
  ({ root, fs, put } = tmp);
  lines = [];
  for (const f of ['dkms.conf', 'Makefile']) put(`${TEMPLATES}/dkms/${f}`, readFileSync(resolve('templates/dkms', f), 'utf8'));
});
afterEach(() => tmp.remove());

describe('buildKernelModule', () => {
  it('6.8 (Proxmox VE 8): the stored 6.6 file, not the 6.8 one, and the DKMS tree is pinned to 6.8', async () => {
    kernel('6.8.12-4-pve', '6.8.12');
    const store = new SourceStore(fs);
    store.put(v('6.6.120'), fits('6.6,6.8'), '/given/6.6');
    store.put(v('6.8.12'), fits('6.8', JIFFIES_FILE), '/given/6.8');
    const dk = fakeDkms(fs, buildsOn);
    const rec = await buildKernelModule(deps(dk), { kernel: '6.8.12-4-pve', given: [], rebuild: false });
    expect(rec).toMatchObject({ status: 'built', dkmsVersion: '6.6.120-k6.8', scheduler: 'hrtimer', source: { version: '6.6.120', ref: 'linux-6.6.y' } });
    expect(dk.installed).toEqual(new Set(['6.6.120-k6.8 6.8.12-4-pve']));
    const conf = fs.readText('/usr/src/pve-usb-gadget-dummy-hcd-6.6.120-k6.8/dkms.conf');
    expect(conf).toMatch(/^BUILD_EXCLUSIVE_KERNEL="\^6\\\.8\[\.-\]"$/m);
    expect(conf).toMatch(/^PACKAGE_VERSION="6\.6\.120-k6\.8"$/m);
    expect(conf).not.toMatch(/^AUTOINSTALL/m);
    expect(readRecord(fs, '6.8.12-4-pve')?.status).toBe('built');
  });

  it('an API the older file uses is gone: it does not build, the next candidate does; failures are recorded', async () => {
    kernel('6.17.2-1-pve', '6.17.2');
    const store = new SourceStore(fs);
    store.put(v('6.12.118'), fits('6.12,6.14'), '/given/6.12');
    store.put(v('6.17.13'), fits('6.17'), '/given/6.17');
    const dk = fakeDkms(fs, buildsOn);
    const rec = await buildKernelModule(deps(dk), { kernel: '6.17.2-1-pve', given: [], rebuild: false });
    expect(rec.source?.version).toBe('6.17.13');
    expect(rec.attempts.map((a) => `${a.ref} ${a.result}`)).toEqual(['linux-6.12.y build-failed', 'linux-6.17.y built']);
    // the failed tree is gone again
    expect(fs.exists('/usr/src/pve-usb-gadget-dummy-hcd-6.12.118-k6.17')).toBe(false);
    expect(lines.some((l) => /linux-6\.12\.y \(Linux 6\.12\.118\) does not build against 6\.17\.2-1-pve: .*Bad return status/.test(l))).toBe(true);
  });

  it('a jiffies file only when nothing else builds, with the loud warning', async () => {
    kernel('6.8.12-4-pve', '6.8.12');
    const store = new SourceStore(fs);
    store.put(v('6.6.120'), fits('6.6'), '/given/6.6');
    store.put(v('6.8.12'), fits('6.8', JIFFIES_FILE), '/given/6.8');
    const dk = fakeDkms(fs, buildsOn);
    const rec = await buildKernelModule(deps(dk), { kernel: '6.8.12-4-pve', given: [], rebuild: false });
    expect(rec).toMatchObject({ status: 'built', scheduler: 'jiffies', dkmsVersion: '6.8.12-k6.8' });
    expect(rec.attempts.map((a) => `${a.ref} ${a.result}`)).toEqual(['linux-6.6.y build-failed', 'linux-6.8.y jiffies-skipped', 'v6.8.12 same-file', 'linux-6.8.y built']);
    expect(lines.find((l) => l.startsWith('WARN'))).toMatch(/jiffies transfer scheduler: about 1 MB\/s.*Fix: give a newer file/);
  });

  it('downloads the newest file of the series when kernel.org answers', async () => {
    kernel('6.12.95+deb12-amd64', '6.12.95');
    const download: Download = async (url) => {
      if (url.endsWith('/Makefile?h=linux-6.12.y')) return makefile('6.12.120');
      if (url.endsWith('/drivers/usb/gadget/udc/dummy_hcd.c?h=v6.12.120')) return fits('6.12');
      throw new Error(`unexpected ${url}`);
    };
    const rec = await buildKernelModule(deps(fakeDkms(fs, buildsOn), download), { kernel: '6.12.95+deb12-amd64', given: [], rebuild: false });
    expect(rec.source).toEqual({ version: '6.12.120', ref: 'linux-6.12.y', origin: 'https://mirror.test/plain/drivers/usb/gadget/udc/dummy_hcd.c?h=v6.12.120' });
  });

  it('nothing to be had: a failed record naming each candidate, and no DKMS tree left', async () => {
    kernel('7.0.1-1-pve', '7.0.1');
    const dk = fakeDkms(fs, buildsOn);
    const rec = await buildKernelModule(deps(dk), { kernel: '7.0.1-1-pve', given: [], rebuild: false });
    expect(rec.status).toBe('failed');
    expect(rec.message).toMatch(/^dummy_hcd is not built for kernel 7\.0\.1-1-pve: no source could be had or built \(linux-6\.18\.y: no-source \(none stored, no download\); linux-7\.0\.y: no-source/);
    expect(fs.list('/usr/src')).toEqual([]);
    expect(readRecord(fs, '7.0.1-1-pve')?.status).toBe('failed');
  });

  it('no headers: recorded as such, nothing tried', async () => {
    const rec = await buildKernelModule(deps(fakeDkms(fs, buildsOn)), { kernel: '6.14.8-2-pve', given: [], rebuild: false });
    expect(rec).toMatchObject({ status: 'no-headers', attempts: [] });
  });

  it('given files come first; a second run with the same file builds nothing; a new file replaces the old build', async () => {
    kernel('6.12.95+deb12-amd64', '6.12.95');
    const dk = fakeDkms(fs, buildsOn);
    const given = [{ path: '/src/a', text: fits('6.12'), version: v('6.12.95') }];
    const first = await buildKernelModule(deps(dk), { kernel: '6.12.95+deb12-amd64', given, rebuild: false });
    expect(first.source?.ref).toBe('/src/a');
    const builds = dk.calls.filter((c) => c.startsWith('build')).length;
    const again = await buildKernelModule(deps(dk), { kernel: '6.12.95+deb12-amd64', given, rebuild: false });
    expect(again.message).toMatch(/already built/);
    expect(again.source?.ref).toBe('/src/a');
    expect(dk.calls.filter((c) => c.startsWith('build')).length).toBe(builds);
    const newer = [{ path: '/src/b', text: fits('6.12', `${HRTIMER_FILE}/* newer */`), version: v('6.12.118') }];
    await buildKernelModule(deps(dk), { kernel: '6.12.95+deb12-amd64', given: newer, rebuild: false });
    expect(dk.installed).toEqual(new Set(['6.12.118-k6.12 6.12.95+deb12-amd64']));
  });
});

describe('pinLegacyTrees', () => {
  it('rewrites a tree of the old install.sh (AUTOINSTALL, no pin) to its own series, and leaves pinned ones', async () => {
    put('/usr/src/pve-usb-gadget-dummy-hcd-6.1.176/dkms.conf', 'PACKAGE_NAME="pve-usb-gadget-dummy-hcd"\nPACKAGE_VERSION="6.1.176"\nAUTOINSTALL="yes"\n');
    put('/usr/src/pve-usb-gadget-dummy-hcd-6.12.118-k6.12/dkms.conf', 'BUILD_EXCLUSIVE_KERNEL="^6\\.12[.-]"\n');
    put('/usr/src/other-module-1.0/dkms.conf', 'AUTOINSTALL="yes"\n');
    const pinned = await pinLegacyTrees({ fs, templatesDir: TEMPLATES, say: (l) => lines.push(l) });
    expect(pinned).toEqual(['6.1.176']);
    const conf = fs.readText('/usr/src/pve-usb-gadget-dummy-hcd-6.1.176/dkms.conf');
    expect(conf).toMatch(/^PACKAGE_VERSION="6\.1\.176"$/m);
    expect(conf).toMatch(/^BUILD_EXCLUSIVE_KERNEL="\^6\\\.1\[\.-\]"$/m);
    expect(conf).not.toMatch(/^AUTOINSTALL/m);
    expect(fs.readText('/usr/src/other-module-1.0/dkms.conf')).toBe('AUTOINSTALL="yes"\n');
  });
});

describe('kernels on the node, and doctor', () => {
  it('lists installed kernels in version order; the pin decides what boots next, else the newest', () => {
    kernel('6.8.12-4-pve', '6.8.12');
    kernel('6.14.8-2-pve', '6.14.8');
    kernel('6.8.12-10-pve', '6.8.12');
    kernel('6.17.2-1-pve', '6.17.2', true); // headers only: not a kernel that can boot
    const ks = listKernels(fs);
    expect(ks.map((k) => `${k.release}${k.installed ? '' : ' (headers)'}`)).toEqual(['6.8.12-4-pve', '6.8.12-10-pve', '6.14.8-2-pve', '6.17.2-1-pve (headers)']);
    expect(nextBootKernel(fs, ks)).toEqual({ release: '6.14.8-2-pve', why: 'the newest installed kernel' });
    put('/etc/kernel/proxmox-boot-pin', '6.8.12-10-pve\n');
    expect(nextBootKernel(fs, ks)?.release).toBe('6.8.12-10-pve');
    put('/etc/kernel/next-boot-pin', '6.8.12-4-pve\n');
    expect(nextBootKernel(fs, ks)).toEqual({ release: '6.8.12-4-pve', why: 'pinned for the next boot (/etc/kernel/next-boot-pin)' });
  });

  it('one line per kernel: module, source, scheduler; a missing module fails where it runs or boots next', async () => {
    kernel('6.8.12-4-pve', '6.8.12');
    kernel('6.14.8-2-pve', '6.14.8');
    put('/proc/sys/kernel/osrelease', '6.8.12-4-pve\n');
    const dk = fakeDkms(fs, buildsOn);
    new SourceStore(fs).put(v('6.6.120'), fits('6.6,6.8'), '/given/6.6');
    await buildKernelModule(deps(dk), { kernel: '6.8.12-4-pve', given: [], rebuild: false });
    put('/lib/modules/6.8.12-4-pve/updates/dkms/dummy_hcd.ko', '');
    await buildKernelModule(deps(dk), { kernel: '6.14.8-2-pve', given: [], rebuild: false });
    const checks = await checkKernels(fs, dk.exec);
    expect(checks.map((c) => [c.check, c.status])).toEqual([
      ['kernel 6.8.12-4-pve (running)', 'ok'],
      ['kernel 6.14.8-2-pve (boots next: the newest installed kernel)', 'fail'],
    ]);
    expect(checks[0]?.detail).toBe('dummy_hcd: DKMS 6.6.120-k6.8 from Linux 6.6.120 (linux-6.6.y), hrtimer scheduler (/lib/modules/6.8.12-4-pve/updates/dkms/dummy_hcd.ko)');
    expect(checks[1]?.detail).toMatch(/^dummy_hcd is not built for kernel 6\.14\.8-2-pve: no source could be had or built/);
    expect(checks[1]?.fix).toBe('run install.sh --kernel-module --kernel 6.14.8-2-pve (or, with its headers installed: pve-usb-gadget kernel-module --kernel 6.14.8-2-pve)');
  });
});
