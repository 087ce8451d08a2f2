/**
 * Kernel upgrades through apt never fail because of us, on a real Debian root (the provisioned
 * "hypervisor root" of the flavour: bookworm with the 6.1 headers, gcc-12, dkms 3.0.10, or trixie with
 * the 6.12 headers, gcc-14, dkms 3.2), real apt/dpkg/DKMS/gcc and real kernel packages: the test kernel,
 * then the newer series of the upgrade kit (bookworm: Debian's 6.12 for bookworm; trixie:
 * trixie-backports' 7.x, the newest APIs), whose headers pull its image, kbuild and initramfs-tools. Offline, in a chroot over an overlay (no
 * booted kernel is needed to build a module against installed headers; the DKMS module is loaded and
 * used in a booted VM by install.test.ts).
 *
 *  - a new series with a source to be had: apt exits 0, 6.12 gets a module built from the 6.12 file,
 *    6.1 keeps its own, doctor lists both;
 *  - a new series with no source to be had: apt still exits 0, the apt output and doctor say what to run,
 *    and running it (install.sh --kernel-module --kernel ...) builds it before the reboot;
 *  - the headers arrive after the kernel was configured (Proxmox's headers package runs no hooks):
 *    apt's Post-Invoke builds it when that dpkg run ends;
 *  - the failure measured with the DKMS configuration install.sh used to write (AUTOINSTALL, no pin):
 *    apt exits 100 and leaves the kernel unconfigured; rerunning install.sh pins that tree and
 *    `dpkg --configure -a` then succeeds.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayRoot, type RootRun } from './harness/root-overlay.js';
import { cachePaths } from './harness/vm.js';
import { refText, sourceCandidates } from '../../src/kernel/candidates.js';
import { parseVersion, versionFromMakefile, versionText } from '../../src/kernel/version.js';
import { FLAVOUR, lit, seriesOfRelease } from './harness/flavour.js';

const cache = cachePaths();
/** the test kernel (6.1 / 6.12) and the newer series apt installs (6.12 / 7.x), with regex sources */
const OLD = cache.kernelVersion;
const OLD_S = lit(seriesOfRelease(OLD));
const DEBS = join(cache.cacheDir, 'upgrade-debs');
const NEW_HEADERS = existsSync(join(DEBS, 'headers-package')) ? readFileSync(join(DEBS, 'headers-package'), 'utf8').trim() : '';
const NEW = NEW_HEADERS.replace(/^linux-headers-/, '');
const NEW_RE = lit(NEW);
const NEW_SERIES = seriesOfRelease(NEW);
const NEW_S = lit(NEW_SERIES);
const SOURCES = join(cache.cacheDir, 'kernel-sources');
const NEW_SOURCE = existsSync(SOURCES) ? (readdirSync(SOURCES).find((d) => d.startsWith(`linux-${NEW_SERIES}.`)) ?? '') : '';
const binds = { '/debs': DEBS, '/sources': SOURCES, '/kernel': join(cache.cacheDir, 'kernel') };

/**
 * A Proxmox VE node's kernels as far as a Debian root can be one: the test kernel installed (its image in
 * /boot), and no kernel package bringing a dummy_hcd of its own (Proxmox kernels have none; Debian's do,
 * so dpkg is told to leave that file out, the way a local dpkg path-exclude works).
 */
const SETUP = `set -e
install -m 0755 /project/test/e2e/guest/pve-standins/pveversion /usr/local/bin/pveversion
cp /kernel/boot/vmlinuz-${'$OLD'} /boot/
printf 'path-exclude=/lib/modules/*/kernel/drivers/usb/gadget/udc/dummy_hcd.ko*\\npath-exclude=/usr/lib/modules/*/kernel/drivers/usb/gadget/udc/dummy_hcd.ko*\\n' >/etc/dpkg/dpkg.cfg.d/pvug-proxmox-like`.replaceAll('$OLD', OLD);
/** a fresh overlay of the bookworm root, set up as a node (SETUP) */
async function freshNode(): Promise<OverlayRoot> {
  const root = await OverlayRoot.create(cache.rootfs, binds);
  const setup = await root.run(SETUP);
  if (setup.code !== 0) {
    await root.close();
    throw new Error(`setting up the root failed: ${out(setup)}`);
  }
  return root;
}
/** install.sh --kernel-module for the old kernel, with the test kernel's own file and maybe the new one's */
const INSTALL_OLD = (withNew: boolean) =>
  `bash /project/install.sh --kernel-module --kernel ${OLD} --kernel-source /usr/src/pvug-kernel-source${withNew ? ` --kernel-source /sources/${NEW_SOURCE}` : ''}`;
/** grep options picking the debs that make the headers (and what only they need: kbuild, pahole, gcc) */
const HEADERS_DEBS = '-e linux-headers- -e linux-kbuild- -e pahole_ -e -for-host_';
const APT_UPGRADE = 'apt-get install -y -q --no-install-recommends /debs/*.deb';
type Runs = Record<'install' | 'apt' | 'dkms' | 'dpkg' | 'audit' | 'fix' | 'legacy' | 'rerun' | 'configure' | 'dpkgAfter' | 'conf' | 'headers', RootRun>;
const out = (r: RootRun) => `${r.stdout}\n${r.stderr}`;

/** `dpkg-query` status of the new kernel's packages: "install ok installed" when configured */
const DPKG_STATE = `dpkg-query -W -f='\${Package} \${Status}\\n' linux-image-${'$NEW'} linux-headers-${'$NEW'}`;
const dpkgState = (root: OverlayRoot) => root.run(DPKG_STATE.replaceAll('$NEW', NEW));
const doctorKernels = async (root: OverlayRoot) => {
  const r = await root.run('pve-usb-gadget doctor --json');
  return (JSON.parse(r.stdout) as { check: string; status: string; detail: string; fix?: string }[]).filter((c) => /^kernel \d/.test(c.check));
};
const record = async (root: OverlayRoot, kernel: string) => JSON.parse((await root.run(`cat /var/lib/pve-usb-gadget/kernels/${kernel}.json`)).stdout);

describe('kernel upgrade through apt: a new series with its source to be had', () => {
  let root: OverlayRoot;
  const f = {} as Runs;
  beforeAll(async () => {
    expect(NEW, 'provision.sh made no upgrade kit').not.toBe('');
    root = await freshNode();
    // what an online node would have downloaded: both files are given, so both are stored
    f.install = await root.run(INSTALL_OLD(true));
    f.apt = await root.run(APT_UPGRADE);
    f.dkms = await root.run('dkms status');
    f.dpkg = await dpkgState(root);
    f.audit = await root.run('dpkg --audit');
  }, 1_200_000);
  afterAll(() => root?.close());

  it('install.sh --kernel-module builds for the old kernel from its own series file', () => {
    expect(f.install.code, out(f.install)).toBe(0);
    expect(f.install.stdout).toMatch(new RegExp(`dummy_hcd built for ${lit(OLD)} from Linux ${OLD_S}\\.\\d+ \\(/usr/src/pvug-kernel-source\\), hrtimer scheduler`));
    expect(f.install.stdout).toMatch(/installed the kernel hooks/);
  });
  it('apt exits 0 and leaves the new kernel configured', () => {
    expect(f.apt.code, out(f.apt).slice(-3000)).toBe(0);
    expect(f.dpkg.stdout).toContain(`linux-image-${NEW} install ok installed`);
    expect(f.dpkg.stdout).toContain(`linux-headers-${NEW} install ok installed`);
    expect(f.audit.stdout.trim()).toBe('');
  });
  it('our hook built the new kernel a module from the file of its own series; DKMS\'s own hook left it alone', () => {
    expect(f.apt.stdout).toMatch(new RegExp(`dummy_hcd built for ${NEW_RE} from Linux ${NEW_S}\\.\\d+ \\(linux-${NEW_S}\\.y, /sources/linux-${NEW_S}\\.\\d+\\), hrtimer scheduler`));
    expect(f.dkms.stdout).toMatch(new RegExp(`^pve-usb-gadget-dummy-hcd/${NEW_S}\\.\\d+-k${NEW_S}, ${NEW_RE}, x86_64: installed( \\(.*\\))?$`, 'm'));
    expect(f.dkms.stdout).toMatch(new RegExp(`^pve-usb-gadget-dummy-hcd/${OLD_S}\\.\\d+-k${OLD_S}, ${lit(OLD)}, x86_64: installed( \\(.*\\))?$`, 'm'));
    expect(f.dkms.stdout.trim().split('\n')).toHaveLength(2);
  });
  it('the DKMS trees are pinned to their series and have no AUTOINSTALL', async () => {
    const confs = await root.run('cat /usr/src/pve-usb-gadget-dummy-hcd-*/dkms.conf');
    for (const series of [seriesOfRelease(OLD), NEW_SERIES]) {
      expect(confs.stdout).toContain(`BUILD_EXCLUSIVE_KERNEL="^${series.replace('.', '\\.')}[.-]"`);
    }
    expect(confs.stdout).not.toMatch(/^AUTOINSTALL=/m);
  });
  it('doctor lists both kernels with their module, source and scheduler; the new one boots next', async () => {
    const lines = await doctorKernels(root);
    expect(lines.map((l) => [l.check, l.status])).toEqual([
      [`kernel ${OLD}`, 'ok'],
      [`kernel ${NEW} (boots next: the newest installed kernel)`, 'ok'],
    ]);
    expect(lines[0]?.detail).toMatch(new RegExp(`^dummy_hcd: DKMS ${OLD_S}\\.\\d+-k${OLD_S} from Linux ${OLD_S}\\.\\d+ \\(/usr/src/pvug-kernel-source\\), hrtimer scheduler`));
    expect(lines[1]?.detail).toMatch(new RegExp(`^dummy_hcd: DKMS ${NEW_S}\\.\\d+-k${NEW_S} from Linux ${NEW_S}\\.\\d+ \\(linux-${NEW_S}\\.y\\), hrtimer scheduler`));
  });
});

describe('kernel upgrade through apt: offline, no source for the new series', () => {
  let root: OverlayRoot;
  const f = {} as Runs;
  let rec: any;
  let doctorBefore: Awaited<ReturnType<typeof doctorKernels>> = [];
  let doctorAfter: Awaited<ReturnType<typeof doctorKernels>> = [];
  beforeAll(async () => {
    root = await freshNode();
    f.install = await root.run(INSTALL_OLD(false));
    f.apt = await root.run(APT_UPGRADE);
    f.dpkg = await dpkgState(root);
    rec = await record(root, NEW);
    doctorBefore = await doctorKernels(root);
    // the admin acts before rebooting, with the file at hand
    f.fix = await root.run(`bash /project/install.sh --kernel-module --kernel ${NEW} --kernel-source /sources/${NEW_SOURCE}`);
    doctorAfter = await doctorKernels(root);
  }, 1_200_000);
  afterAll(() => root?.close());

  it('apt exits 0 and the new kernel is configured, without a module', () => {
    expect(f.install.code, out(f.install)).toBe(0);
    expect(f.apt.code, out(f.apt).slice(-3000)).toBe(0);
    expect(f.dpkg.stdout).toContain(`linux-image-${NEW} install ok installed`);
    expect(f.dpkg.stdout).toContain(`linux-headers-${NEW} install ok installed`);
  });
  it('the apt output says what failed and what to run', () => {
    expect(out(f.apt)).toContain(`pve-usb-gadget: WARNING: dummy_hcd is not built for kernel ${NEW}`);
    expect(out(f.apt)).toContain(`Run: install.sh --kernel-module --kernel ${NEW}`);
  });
  it('the record says which candidates were tried and why none was had', () => {
    expect(rec.status).toBe('failed');
    // every candidate of the documented order, none to be had (candidates.ts; the order is unit-tested)
    const order = sourceCandidates(parseVersion(NEW_SOURCE.replace('linux-', '')) ?? { major: 0, minor: 0, patch: 0 }).map((c) => `${refText(c.ref)} no-source`);
    expect(order.length).toBeGreaterThanOrEqual(2);
    expect(rec.attempts.map((a: any) => `${a.ref} ${a.result}`)).toEqual(order);
    expect(rec.attempts[0].detail).toMatch(/none stored, download failed/);
  });
  it('doctor fails the kernel that boots next and names the command', () => {
    const line = doctorBefore.find((l) => l.check.startsWith(`kernel ${NEW}`));
    expect(line?.status).toBe('fail');
    expect(line?.detail).toMatch(/no source could be had or built/);
    expect(line?.fix).toContain(`run install.sh --kernel-module --kernel ${NEW}`);
    expect(doctorBefore.find((l) => l.check === `kernel ${OLD}`)?.status).toBe('ok');
  });
  it('install.sh --kernel-module --kernel NEW builds it before the reboot', () => {
    expect(f.fix.code, out(f.fix)).toBe(0);
    expect(doctorAfter.map((l) => l.status)).toEqual(['ok', 'ok']);
  });
});

describe('kernel upgrade through apt: the headers come after the kernel', () => {
  let root: OverlayRoot;
  const f = {} as Runs;
  let recBefore: any;
  let recAfter: any;
  beforeAll(async () => {
    root = await freshNode();
    f.install = await root.run(INSTALL_OLD(true));
    // Proxmox's proxmox-headers postinst runs no hooks (pve-kernel debian/proxmox-headers.postinst.in);
    // Debian's runs header_postinst.d: without ours there, the two behave the same for us
    await root.run('rm /etc/kernel/header_postinst.d/pve-usb-gadget');
    f.apt = await root.run(`apt-get install -y -q --no-install-recommends $(ls /debs/*.deb | grep -v ${HEADERS_DEBS})`);
    recBefore = await record(root, NEW);
    f.headers = await root.run(`apt-get install -y -q --no-install-recommends $(ls /debs/*.deb | grep ${HEADERS_DEBS})`);
    recAfter = await record(root, NEW);
    f.dkms = await root.run('dkms status');
  }, 1_200_000);
  afterAll(() => root?.close());

  it('the kernel alone: apt exits 0, our hook records that the headers are missing', () => {
    expect(f.install.code, out(f.install)).toBe(0);
    expect(f.apt.code, out(f.apt).slice(-3000)).toBe(0);
    expect(f.apt.stdout).toContain(`dummy_hcd is not built for kernel ${NEW}: its headers are not installed`);
    expect(recBefore.status).toBe('no-headers');
  });
  it('the headers later: apt\'s Post-Invoke builds it when that dpkg run ends', () => {
    expect(f.headers.code, out(f.headers).slice(-3000)).toBe(0);
    expect(f.headers.stdout).toMatch(new RegExp(`dummy_hcd built for ${NEW_RE} from Linux ${NEW_S}\\.\\d+`));
    expect(recAfter).toMatchObject({ status: 'built', scheduler: 'hrtimer' });
    expect(f.dkms.stdout).toMatch(new RegExp(`^pve-usb-gadget-dummy-hcd/${NEW_S}\\.\\d+-k${NEW_S}, ${NEW_RE}, x86_64: installed( \\(.*\\))?$`, 'm'));
  });
});

/** templates/dkms/dkms.conf as install.sh wrote it before 2026-12 (git show d4936d5:templates/dkms/dkms.conf) */
const LEGACY_DKMS_CONF = `PACKAGE_NAME="pve-usb-gadget-dummy-hcd"
PACKAGE_VERSION="@V@"
BUILT_MODULE_NAME[0]="dummy_hcd"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build clean"
`;

/** the 6.1 file under its upstream version, as the old install.sh laid it down, with this dkms.conf */
function legacyTree(conf: string): string {
  const v = versionText(versionFromMakefile(readFileSync(join(cache.rootfs, 'usr/src/pvug-kernel-source/Makefile'), 'utf8')) ?? { major: 0, minor: 0, patch: 0 });
  return `set -e
d=/usr/src/pve-usb-gadget-dummy-hcd-${v}
mkdir -p $d
cp /usr/src/pvug-kernel-source/drivers/usb/gadget/udc/dummy_hcd.c /project/templates/dkms/Makefile $d/
cat >$d/dkms.conf <<'CONF'
${conf.replace('@V@', v)}CONF
dkms add -m pve-usb-gadget-dummy-hcd -v ${v}
dkms build -m pve-usb-gadget-dummy-hcd -v ${v} -k ${OLD}
dkms install -m pve-usb-gadget-dummy-hcd -v ${v} -k ${OLD} --force`;
}

describe.runIf(FLAVOUR === 'bookworm')('why no AUTOINSTALL: pinning with BUILD_EXCLUSIVE_KERNEL alone does not keep apt safe on bookworm', () => {
  let root: OverlayRoot;
  const f = {} as Runs;
  beforeAll(async () => {
    root = await freshNode();
    f.legacy = await root.run(legacyTree(LEGACY_DKMS_CONF.replace('AUTOINSTALL="yes"\n', `AUTOINSTALL="yes"\nBUILD_EXCLUSIVE_KERNEL="^${seriesOfRelease(OLD).replace('.', '\\.')}[.-]"\n`)));
    f.apt = await root.run(APT_UPGRADE);
    f.dkms = await root.run('dpkg-query -W -f=\'${Version}\' dkms');
  }, 1_200_000);
  afterAll(() => root?.close());

  it('dkms 3.0.10 counts the excluded kernel as a failed autoinstall: exit 11, apt exits 100', () => {
    expect(f.legacy.code, out(f.legacy)).toBe(0);
    expect(f.dkms.stdout).toMatch(/^3\.0\.10-/);
    expect(out(f.apt)).toMatch(/includes a BUILD_EXCLUSIVE directive which does not match this kernel/);
    expect(out(f.apt)).toMatch(/run-parts: \/etc\/kernel\/postinst\.d\/dkms exited with return code 11/);
    expect(f.apt.code).toBe(100);
  });
});

describe('a node installed before: the measured failure, and install.sh repairing it', () => {
  let root: OverlayRoot;
  const f = {} as Runs;
  beforeAll(async () => {
    root = await freshNode();
    // the old install.sh: the 6.1 file under its upstream version, AUTOINSTALL, no pin
    f.legacy = await root.run(`${legacyTree(LEGACY_DKMS_CONF)}
install -m 0755 /project/dist/cli.cjs /usr/local/sbin/pve-usb-gadget`);
    f.apt = await root.run(APT_UPGRADE);
    f.dpkg = await dpkgState(root);
    f.rerun = await root.run(`bash /project/install.sh --kernel-module --kernel ${OLD}`);
    f.configure = await root.run('dpkg --configure -a');
    f.dpkgAfter = await dpkgState(root);
    f.conf = await root.run(`cat /usr/src/pve-usb-gadget-dummy-hcd-${seriesOfRelease(OLD)}.*/dkms.conf`);
  }, 1_200_000);
  afterAll(() => root?.close());

  it('with the old DKMS configuration, DKMS\'s own hook fails the upgrade: apt exits 100, the kernel stays unconfigured', () => {
    expect(f.legacy.code, out(f.legacy)).toBe(0);
    expect(f.apt.code, out(f.apt).slice(-2000)).toBe(100);
    expect(out(f.apt)).toMatch(/Bad return status for module build on kernel/);
    expect(f.dpkg.stdout).not.toContain(`linux-image-${NEW} install ok installed`);
  });
  it('rerunning install.sh pins the old tree (no AUTOINSTALL) and keeps its module', () => {
    expect(f.rerun.code, out(f.rerun)).toBe(0);
    expect(f.rerun.stdout).toMatch(new RegExp(`pinned the DKMS tree pve-usb-gadget-dummy-hcd-${OLD_S}\\.\\d+ to ${OLD_S} kernels`));
    expect(f.rerun.stdout).toMatch(/dummy_hcd is already built for/);
    expect(f.conf.stdout).toContain(`BUILD_EXCLUSIVE_KERNEL="^${seriesOfRelease(OLD).replace('.', '\\.')}[.-]"`);
    expect(f.conf.stdout).not.toMatch(/^AUTOINSTALL=/m);
  });
  it('then dpkg --configure -a finishes the upgrade', () => {
    expect(f.configure.code, out(f.configure).slice(-2000)).toBe(0);
    expect(f.dpkgAfter.stdout).toContain(`linux-image-${NEW} install ok installed`);
    expect(f.dpkgAfter.stdout).toContain(`linux-headers-${NEW} install ok installed`);
  });
});
