/**
 * An "unRAID-shaped" release for the real-kernel test of `image create --unraid-version`, built from
 * Debian's own files: the layout of an unRAIDServer-<version>-x86_64.zip (bzimage, bzroot, syslinux/
 * with syslinux_linux, mbr.bin and the .c32 modules, EFI-/boot with syslinux.efi, config/), where
 * bzimage is the test kernel and bzroot a tiny busybox initramfs (test/e2e/vm/unraid-payload-init)
 * that prints a marker on the serial port. Next to it: a zip that is not a release, and a manifest of
 * both with their checksums. The release lists themselves depend on the address of the server that
 * serves them, so `releaseLists` makes them from the manifest where that server runs (inside the VM).
 *
 * buildUnraidFixture runs on the test side (host Node, Debian's syslinux packages installed there);
 * releaseLists is pure and also bundled into the VM.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEBIAN_BIOS_MODULES = '/usr/lib/syslinux/modules/bios';
export const DEBIAN_EFI64_MODULES = '/usr/lib/syslinux/modules/efi64';
export const DEBIAN_SYSLINUX_EFI = '/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi';
export const DEBIAN_MBR_BIN = '/usr/lib/syslinux/mbr/mbr.bin';
/** Debian's syslinux: the mtools build, the same kind unRAID ships as syslinux/syslinux_linux */
export const DEBIAN_SYSLINUX_INSTALLER = '/usr/bin/syslinux';
export const BUSYBOX_STATIC = '/bin/busybox';

export const MANIFEST = 'manifest.json';
/** unRAID's own menu title */
export const MENU_TITLE = 'Lime Technology, Inc.';

export interface FixtureRelease {
  branch: 'stable' | 'next';
  version: string;
  /** the file name in the release list's URL (unRAIDServer-<version>-x86_64.zip) */
  urlName: string;
  /** the file in the fixture folder served for that URL */
  file: string;
  /** what the release list claims (wrong on purpose for the corrupt-download case) */
  md5: string;
  sha256?: string;
  size: number;
}

export interface UnraidFixtureManifest {
  /** the release to build the bootable image from */
  goodVersion: string;
  /** listed with an MD5 that does not match what is served */
  badMd5Version: string;
  /** a correctly listed zip that is not an unRAID release */
  notUnraidVersion: string;
  /** `pvug_marker=` value on the kernel command line; the payload prints "pvug-payload: <marker>" */
  marker: string;
  /** the menu title in syslinux.cfg: menu.c32 draws it on the serial console */
  menuTitle: string;
  /** release of the kernel that is bzimage */
  kernelRelease: string;
  releases: FixtureRelease[];
}

export interface BuildFixtureOptions {
  /** the test kernel (cachePaths().kernel) */
  kernel: string;
  kernelRelease: string;
  /** test/e2e/vm/unraid-payload-init */
  payloadInit: string;
  marker?: string;
}

const zipName = (version: string) => `unRAIDServer-${version}-x86_64.zip`;
const digest = (algo: string, file: string) => createHash(algo).update(readFileSync(file)).digest('hex');

/**
 * The kernel runs as TCG inside TCG: console on the serial port, no chatter, no reboot loop, and the
 * slowest boot steps it does not need skipped (crypto self-tests, the kdf108 self-test, kprobe trace
 * setup, loading the built-in certificates: tens of seconds nested). The payload needs nothing else.
 */
export const PAYLOAD_KERNEL_ARGS = [
  'console=ttyS0,115200',
  'quiet',
  'loglevel=3',
  'panic=-1',
  'mitigations=off',
  'cryptomgr.notests',
  'initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,load_system_certificate_list',
].join(' ');

/** unRAID's syslinux.cfg, with a short menu timeout, the serial console on, and our marker appended. */
export function syslinuxCfg(marker: string): string {
  return [
    'serial 0 115200',
    'default menu.c32',
    `menu title ${MENU_TITLE}`,
    'prompt 0',
    'timeout 10',
    'label Unraid OS',
    '  menu default',
    '  kernel /bzimage',
    `  append initrd=/bzroot ${PAYLOAD_KERNEL_ARGS} pvug_marker=${marker}`,
    'label Unraid OS Safe Mode (no plugins, no GUI)',
    '  kernel /bzimage',
    '  append initrd=/bzroot unraidsafemode',
    '',
  ].join('\r\n');
}

/** bzroot: a gzip'd newc cpio holding static busybox and the payload init. */
function buildPayloadInitramfs(work: string, init: string, out: string): void {
  const root = path.join(work, 'bzroot-tree');
  for (const d of ['bin', 'dev', 'proc', 'sys']) mkdirSync(path.join(root, d), { recursive: true });
  copyFileSync(BUSYBOX_STATIC, path.join(root, 'bin', 'busybox'));
  for (const applet of ['sh', 'mount', 'echo', 'uname', 'cat', 'sync', 'poweroff', 'sleep']) symlinkSync('busybox', path.join(root, 'bin', applet));
  copyFileSync(init, path.join(root, 'init'));
  chmodSync(path.join(root, 'init'), 0o755);
  execFileSync('sh', ['-c', 'find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9 > "$0"', out], { cwd: root });
}

function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), data);
  }
}

function zipTree(tree: string, zip: string): void {
  rmSync(zip, { force: true });
  execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: tree });
}

/**
 * Writes into `dir`: the release zip, a non-release zip, and manifest.json. Needs Debian's syslinux,
 * syslinux-common, syslinux-efi, busybox-static, cpio, gzip and zip on this machine.
 */
export function buildUnraidFixture(dir: string, o: BuildFixtureOptions): UnraidFixtureManifest {
  const marker = o.marker ?? 'PVUG-UNRAID-BOOT-OK';
  const work = path.join(dir, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const goodVersion = '7.0.0-pvug';
  const badMd5Version = '7.1.0-pvug-corrupt';
  const notUnraidVersion = '7.0.1-pvug-notunraid';

  const tree = path.join(work, 'release');
  const bzroot = path.join(work, 'bzroot');
  buildPayloadInitramfs(work, o.payloadInit, bzroot);
  const cfg = syslinuxCfg(marker);
  // unRAID's mbr.bin is 447 bytes: syslinux's 440 bytes of MBR code, six zero bytes, 0x80
  const mbrBin = Buffer.concat([readFileSync(DEBIAN_MBR_BIN).subarray(0, 440), Buffer.alloc(6), Buffer.from([0x80])]);
  const files: Record<string, Buffer | string> = {
    bzimage: readFileSync(o.kernel),
    'bzimage.sha256': `${digest('sha256', o.kernel)}\n`,
    bzroot: readFileSync(bzroot),
    'bzroot.sha256': `${digest('sha256', bzroot)}\n`,
    'changes.txt': `# Version ${goodVersion}\r\nA test release built from Debian packages.\r\n`,
    'license.txt': 'test fixture\r\n',
    'make_bootable_linux': '#!/bin/bash\nexit 1\n',
    'config/network.cfg': '# Generated network settings\r\nUSE_DHCP="yes"\r\nBONDING="yes"\r\nBRIDGING="yes"\r\n',
    'config/ident.cfg': 'NAME="Tower"\r\n',
    'config/go': '#!/bin/bash\r\n# Start the Management Utility\r\n/usr/local/sbin/emhttp &\r\n',
    'syslinux/syslinux.cfg': cfg,
    'syslinux/syslinux.cfg-': cfg,
    'syslinux/mbr.bin': mbrBin,
    'syslinux/syslinux_linux': readFileSync(DEBIAN_SYSLINUX_INSTALLER),
    'EFI-/boot/bootx64.efi': readFileSync(DEBIAN_SYSLINUX_EFI),
    'EFI-/boot/syslinux.cfg': cfg,
  };
  for (const m of ['ldlinux.c32', 'menu.c32', 'libutil.c32', 'libcom32.c32', 'mboot.c32', 'chain.c32']) {
    files[`syslinux/${m}`] = readFileSync(path.join(DEBIAN_BIOS_MODULES, m));
  }
  for (const m of ['ldlinux.e64', 'menu.c32', 'libutil.c32', 'libcom32.c32']) {
    files[`EFI-/boot/${m}`] = readFileSync(path.join(DEBIAN_EFI64_MODULES, m));
  }
  writeTree(tree, files);
  const good = path.join(dir, zipName(goodVersion));
  zipTree(tree, good);

  const plainTree = path.join(work, 'plain');
  writeTree(plainTree, { 'README.txt': 'Not an unRAID release.\n', 'tools/setup.exe': Buffer.alloc(4096, 0x4d), 'boot/kernel': 'no\n' });
  const notUnraid = path.join(dir, 'not-unraid.zip');
  zipTree(plainTree, notUnraid);
  rmSync(work, { recursive: true, force: true });

  const goodMd5 = digest('md5', good);
  // one hex digit off: a corrupt download (or a wrong list) must be caught by the MD5 alone
  const wrongMd5 = `${goodMd5.slice(0, -1)}${goodMd5.endsWith('0') ? '1' : '0'}`;
  const manifest: UnraidFixtureManifest = {
    goodVersion,
    badMd5Version,
    notUnraidVersion,
    marker,
    menuTitle: MENU_TITLE,
    kernelRelease: o.kernelRelease,
    releases: [
      { branch: 'stable', version: goodVersion, urlName: zipName(goodVersion), file: path.basename(good), md5: goodMd5, sha256: digest('sha256', good), size: statSync(good).size },
      { branch: 'stable', version: notUnraidVersion, urlName: zipName(notUnraidVersion), file: path.basename(notUnraid), md5: digest('md5', notUnraid), size: statSync(notUnraid).size },
      { branch: 'next', version: badMd5Version, urlName: zipName(badMd5Version), file: path.basename(good), md5: wrongMd5, size: statSync(good).size },
    ],
  };
  writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2));
  return manifest;
}

/**
 * The release lists for a server at `base` (no trailing slash), in both shapes src/image/releases.ts
 * reads: unRAID's USB creator (branches.json → <branch>.json, versions only in the file names) and the
 * combined list (releases-combined.json, with version, date and sha256). Zips are at <base>/dl/<urlName>.
 */
export function releaseLists(base: string, m: UnraidFixtureManifest): Record<string, unknown> {
  const branches = ['stable', 'next'] as const;
  const creator = (r: FixtureRelease) => ({ name: `Unraid OS ${r.version}`, url: `${base}/dl/${r.urlName}`, md5: r.md5, size: r.size });
  const combined = (r: FixtureRelease) => ({
    version: r.version,
    name: `Unraid ${r.version}`,
    basefile: r.urlName,
    date: '2026-11-01',
    url: `${base}/dl/${r.urlName}`,
    md5: r.md5,
    ...(r.sha256 ? { sha256: r.sha256 } : {}),
    size: String(r.size),
  });
  const of = (b: string) => m.releases.filter((r) => r.branch === b);
  const lists: Record<string, unknown> = {
    'branches.json': branches.map((b) => ({ name: b === 'stable' ? 'Stable' : 'Next', url: `${base}/${b}.json` })),
    'releases-combined.json': Object.fromEntries(branches.map((b) => [b, of(b).map(combined)])),
  };
  for (const b of branches) lists[`${b}.json`] = of(b).map(creator);
  return lists;
}
