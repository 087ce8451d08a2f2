// --kernel-source in its four shapes (tree, folder, file, tarball) with real tar, and the DKMS text we
// read (dkms 2 and 3 status lines) and write (dkms.conf from templates/dkms).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostFs } from '../../src/ports/host-fs.js';
import { CommandError } from '../../src/errors.js';
import { execaExec } from '../../src/host/exec.js';
import { dkmsVersion, parseDkmsStatus, renderDkmsConf, seriesRegex } from '../../src/kernel/dkms.js';
import { importSource } from '../../src/kernel/import-source.js';
import { HRTIMER_FILE, makefile } from './kernel-fixtures.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

let root: string;
let fs: HostFs;
let put: TmpRoot['put'];
let tmp: TmpRoot;
beforeEach(() => {
  tmp = tmpRoot('pvug-import-');
  ({ root, fs, put } = tmp);
});
afterEach(() => tmp.remove());

describe('importSource', () => {
  it('a kernel tree: the file and the version of its Makefile', async () => {
    put('/src/linux/Makefile', makefile('6.6.120'));
    put('/src/linux/drivers/usb/gadget/udc/dummy_hcd.c', HRTIMER_FILE);
    expect(await importSource(fs, execaExec, '/src/linux')).toEqual({ path: '/src/linux', text: HRTIMER_FILE, version: { major: 6, minor: 6, patch: 120 } });
  });
  it('a folder holding dummy_hcd.c, or the bare file: no version', async () => {
    put('/src/d/dummy_hcd.c', HRTIMER_FILE);
    expect((await importSource(fs, execaExec, '/src/d')).version).toBeUndefined();
    expect((await importSource(fs, execaExec, '/src/d/dummy_hcd.c')).text).toBe(HRTIMER_FILE);
  });
  it('a kernel tarball: the file and its top-level Makefile, not another Makefile', async () => {
    put('/t/linux-6.12.118/Makefile', makefile('6.12.118'));
    put('/t/linux-6.12.118/drivers/usb/Makefile', 'obj-y += gadget/\n');
    put('/t/linux-6.12.118/drivers/usb/gadget/udc/dummy_hcd.c', HRTIMER_FILE);
    await execa('tar', ['-C', join(root, 't'), '-cJf', join(root, 'linux.tar.xz'), 'linux-6.12.118']);
    const got = await importSource(fs, execaExec, '/linux.tar.xz');
    expect(got.version).toEqual({ major: 6, minor: 12, patch: 118 });
    expect(got.text).toBe(HRTIMER_FILE);
  });
  it('refuses what is missing, not a dummy_hcd.c, or a tarball without it, naming the path', async () => {
    put('/src/other/dummy_hcd.c', 'int main(void) { return 0; }\n');
    put('/junk.tar', 'not a tarball');
    const refused = async (p: string) => importSource(fs, execaExec, p).then(() => 'accepted', (e: unknown) => (e instanceof CommandError ? e.toLine() : String(e)));
    expect(await refused('/nope')).toMatch(/^--kernel-source \/nope: does not exist \(\/nope\); fix: give a kernel source tree/);
    expect(await refused('/src/other')).toMatch(/--kernel-source \/src\/other: that is not a dummy_hcd\.c/);
    expect(await refused('/junk.tar')).toMatch(/--kernel-source \/junk\.tar: not a tarball tar can read/);
    expect(await refused('relative/path')).toMatch(/not an absolute path/);
  });
});

describe('DKMS text', () => {
  it('reads dkms 3 and dkms 2 status lines, and versions only added', () => {
    const text = [
      'pve-usb-gadget-dummy-hcd/6.6.120-k6.8, 6.8.12-4-pve, x86_64: installed',
      'pve-usb-gadget-dummy-hcd, 6.1.176, 6.1.0-50-amd64, x86_64: installed (original_module exists)',
      'pve-usb-gadget-dummy-hcd/6.12.118-k6.12: added',
      'zfs/2.2.7, 6.8.12-4-pve, x86_64: installed',
    ].join('\n');
    expect(parseDkmsStatus(text)).toEqual([
      { version: '6.6.120-k6.8', kernel: '6.8.12-4-pve', state: 'installed' },
      { version: '6.1.176', kernel: '6.1.0-50-amd64', state: 'installed' },
      { version: '6.12.118-k6.12', kernel: '', state: 'added' },
    ]);
  });
  it('dkms.conf from the template: our name, the version, the series pin, no AUTOINSTALL', () => {
    const conf = renderDkmsConf(readFileSync(resolve('templates/dkms/dkms.conf'), 'utf8'), dkmsVersion({ major: 6, minor: 6, patch: 120 }, { major: 6, minor: 8, patch: 12 }), seriesRegex({ major: 6, minor: 8, patch: 12 }));
    expect(conf).toMatch(/^PACKAGE_NAME="pve-usb-gadget-dummy-hcd"$/m);
    expect(conf).toMatch(/^PACKAGE_VERSION="6\.6\.120-k6\.8"$/m);
    expect(conf).toMatch(/^BUILD_EXCLUSIVE_KERNEL="\^6\\\.8\[\.-\]"$/m);
    expect(conf).not.toMatch(/^AUTOINSTALL/m);
    expect(conf).not.toContain('@');
    // the pin matches the series' releases and no other
    const pin = new RegExp(seriesRegex({ major: 6, minor: 8, patch: 0 }));
    expect(['6.8.12-4-pve', '6.8.0-31-generic'].every((k) => pin.test(k))).toBe(true);
    expect(['6.18.2-1-pve', '6.80.1', '16.8.1'].some((k) => pin.test(k))).toBe(false);
    expect(() => renderDkmsConf('PACKAGE_NAME="@PACKAGE_NAME@"\n', 'x', 'y')).toThrow(/has no @PACKAGE_VERSION@/);
  });
});
