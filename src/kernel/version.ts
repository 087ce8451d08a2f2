/**
 * Upstream Linux versions (6.12.95) as the kernel-module logic needs them: read from a headers tree or a
 * source tree, compared, grouped into series (6.12). A kernel *release* (6.8.12-4-pve, 6.1.0-50-amd64)
 * is a different thing: Debian's release names the ABI, not the sublevel, so the headers are the truth.
 */
export interface LinuxVersion {
  major: number;
  minor: number;
  patch: number;
}

export const versionText = (v: LinuxVersion): string => `${v.major}.${v.minor}.${v.patch}`;
export const seriesText = (v: Pick<LinuxVersion, 'major' | 'minor'>): string => `${v.major}.${v.minor}`;

/** "6.12.95", "6.8" (patch 0), "v6.6.120"; undefined for anything else. */
export function parseVersion(text: string): LinuxVersion | undefined {
  const m = /^v?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?$/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) } : undefined;
}

export function compareVersions(a: LinuxVersion, b: LinuxVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export const sameSeries = (a: LinuxVersion, b: LinuxVersion): boolean => a.major === b.major && a.minor === b.minor;

/**
 * The version a kernel tree says it is: a top-level Makefile (VERSION / PATCHLEVEL / SUBLEVEL), or a
 * headers tree's include/generated/uapi/linux/version.h (LINUX_VERSION_MAJOR / _PATCHLEVEL / _SUBLEVEL,
 * since 5.x; LINUX_VERSION_CODE caps the sublevel at 255, so it is only the fallback).
 */
export function versionFromMakefile(text: string): LinuxVersion | undefined {
  const field = (name: string) => new RegExp(`^${name}\\s*=\\s*(\\d+)\\s*$`, 'm').exec(text)?.[1];
  const [major, minor, patch] = [field('VERSION'), field('PATCHLEVEL'), field('SUBLEVEL')];
  if (major === undefined || minor === undefined) return undefined;
  return { major: Number(major), minor: Number(minor), patch: Number(patch ?? 0) };
}

export function versionFromVersionH(text: string): LinuxVersion | undefined {
  const def = (name: string) => new RegExp(`^#define ${name}\\s+(\\d+)\\s*$`, 'm').exec(text)?.[1];
  const [major, minor, patch] = [def('LINUX_VERSION_MAJOR'), def('LINUX_VERSION_PATCHLEVEL'), def('LINUX_VERSION_SUBLEVEL')];
  if (major !== undefined && minor !== undefined) return { major: Number(major), minor: Number(minor), patch: Number(patch ?? 0) };
  const code = def('LINUX_VERSION_CODE');
  if (code === undefined) return undefined;
  const n = Number(code);
  return { major: n >> 16, minor: (n >> 8) & 0xff, patch: n & 0xff };
}

/** The upstream version a kernel release string starts with (6.8.12-4-pve -> 6.8.12): a fallback only. */
export function versionOfRelease(release: string): LinuxVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) } : undefined;
}

/** A kernel release as it names a directory under /lib/modules: no slashes, no spaces, no leading dot. */
export function isKernelRelease(s: string): boolean {
  return /^[0-9][A-Za-z0-9._+~-]{0,99}$/.test(s);
}
