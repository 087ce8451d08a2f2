/**
 * What the node says about its kernels, read once per command: which are installed, which has headers
 * (and of which upstream version), which has a dummy_hcd (our DKMS build or the kernel's own), and which
 * boots next. Paths are under /lib/modules, which is /usr/lib/modules on trixie's merged /usr too.
 */
import type { HostFs } from '../ports/host-fs.js';
import { compareVersions, isKernelRelease, versionFromVersionH, versionOfRelease, type LinuxVersion } from './version.js';

export const MODULES_DIR = '/lib/modules';

export interface KernelFacts {
  release: string;
  /** an image (vmlinuz) or the module tree of a kernel package: a kernel that can boot */
  installed: boolean;
  /** upstream version from the headers' version.h; undefined without headers */
  headers?: LinuxVersion;
  /** path of a dummy_hcd module for this kernel: ours (updates/dkms) first, then the kernel's own */
  dummyHcd?: { path: string; ours: boolean };
}

const MODULE_NAMES = ['dummy_hcd.ko', 'dummy_hcd.ko.xz', 'dummy_hcd.ko.zst', 'dummy_hcd.ko.gz'];

export function headersVersion(fs: HostFs, release: string): LinuxVersion | undefined {
  const text = fs.readTextIfExists(`${MODULES_DIR}/${release}/build/include/generated/uapi/linux/version.h`);
  return text === undefined ? undefined : versionFromVersionH(text);
}

/** The kernel's own dummy_hcd, as modules.dep lists it (kernel/drivers/usb/gadget/udc/dummy_hcd.ko*). */
export function inTreeDummyHcd(fs: HostFs, release: string): string | undefined {
  const dep = fs.readTextIfExists(`${MODULES_DIR}/${release}/modules.dep`) ?? '';
  const m = /^(kernel\/drivers\/usb\/gadget\/udc\/dummy_hcd\.ko[^:]*):/m.exec(dep);
  return m ? `${MODULES_DIR}/${release}/${m[1]}` : undefined;
}

export function kernelFacts(fs: HostFs, release: string): KernelFacts {
  const ours = MODULE_NAMES.map((n) => `${MODULES_DIR}/${release}/updates/dkms/${n}`).find((p) => fs.exists(p));
  const own = inTreeDummyHcd(fs, release);
  return {
    release,
    // modules.builtin comes with the kernel package; modules.dep does not count (DKMS's depmod makes one)
    installed: fs.exists(`/boot/vmlinuz-${release}`) || fs.exists(`${MODULES_DIR}/${release}/modules.builtin`),
    headers: headersVersion(fs, release),
    dummyHcd: ours ? { path: ours, ours: true } : own && fs.exists(own) ? { path: own, ours: false } : undefined,
  };
}

/** Every kernel with a folder under /lib/modules (installed or with headers only), oldest first. */
export function listKernels(fs: HostFs): KernelFacts[] {
  return fs
    .list(MODULES_DIR)
    .filter(isKernelRelease)
    .map((r) => kernelFacts(fs, r))
    .filter((k) => k.installed || k.headers !== undefined)
    .sort((a, b) => compareReleases(a.release, b.release));
}

/** Version order of kernel releases, as Debian's linux-version sort does for the usual names. */
export function compareReleases(a: string, b: string): number {
  const va = versionOfRelease(a);
  const vb = versionOfRelease(b);
  if (va && vb && compareVersions(va, vb) !== 0) return compareVersions(va, vb);
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * The kernel the next boot uses, as far as this node can tell: Proxmox's one-time pin
 * (/etc/kernel/next-boot-pin), then its pin (/etc/kernel/proxmox-boot-pin), both written by
 * `proxmox-boot-tool kernel pin`; otherwise the newest installed kernel (the boot loaders' default).
 */
export function nextBootKernel(fs: HostFs, kernels: readonly KernelFacts[]): { release: string; why: string } | undefined {
  for (const [file, why] of [
    ['/etc/kernel/next-boot-pin', 'pinned for the next boot'],
    ['/etc/kernel/proxmox-boot-pin', 'pinned'],
  ] as const) {
    const pinned = fs.readTextIfExists(file)?.trim();
    if (pinned && kernels.some((k) => k.release === pinned && k.installed)) return { release: pinned, why: `${why} (${file})` };
  }
  const newest = kernels.filter((k) => k.installed).at(-1);
  return newest ? { release: newest.release, why: 'the newest installed kernel' } : undefined;
}
