/**
 * Our DKMS module: one DKMS version per (source file, kernel series), e.g. pve-usb-gadget-dummy-hcd
 * 6.6.120-k6.8 is the 6.6.120 dummy_hcd.c built for 6.8 kernels. dkms.conf (templates/dkms/dkms.conf)
 * has no AUTOINSTALL and a BUILD_EXCLUSIVE_KERNEL regex of that series, so DKMS's own kernel hooks never
 * build it (a failed build there leaves the kernel package unconfigured and apt exiting 100); our own
 * hook under /etc/kernel/postinst.d (templates/kernel/) builds for new kernels and never fails.
 */
import type { HostFs } from '../ports/host-fs.js';
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { seriesText, versionText, type LinuxVersion } from './version.js';

export const DKMS_NAME = 'pve-usb-gadget-dummy-hcd';
/** a build of dummy_hcd takes seconds natively, minutes under emulation */
const BUILD_TIMEOUT_MS = 1_200_000;

export const dkmsVersion = (source: LinuxVersion, kernel: LinuxVersion): string => `${versionText(source)}-k${seriesText(kernel)}`;

/** BUILD_EXCLUSIVE_KERNEL for one series: DKMS matches it as an extended regex against the release. */
export const seriesRegex = (kernel: LinuxVersion): string => `^${kernel.major}\\.${kernel.minor}[.-]`;

export const dkmsSourceDir = (version: string): string => `/usr/src/${DKMS_NAME}-${version}`;

export interface DkmsInstall {
  version: string;
  kernel: string;
  state: 'installed' | 'built' | 'added' | 'other';
}

/**
 * `dkms status -m NAME`: dkms 3 prints "name/version, kernel, arch: installed", dkms 2
 * "name, version, kernel, arch: installed"; a version only added has no kernel.
 */
export function parseDkmsStatus(text: string, name = DKMS_NAME): DkmsInstall[] {
  const out: DkmsInstall[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name.replace(/[-.]/g, '\\$&')}(?:/|, )([^,\\s]+)(?:, ([^,\\s]+), [^:]+)?: (\\w+)`).exec(line.trim());
    if (!m) continue;
    const state = m[3] === 'installed' || m[3] === 'built' || m[3] === 'added' ? m[3] : 'other';
    out.push({ version: m[1] as string, kernel: m[2] ?? '', state });
  }
  return out;
}

export interface DkmsTree {
  fs: HostFs;
  exec: Exec;
  /** folder holding dkms/dkms.conf and dkms/Makefile (templates/ in the repository) */
  templatesDir: string;
}

/** Fill in templates/dkms/dkms.conf. Throws when the template lacks a field (a broken install). */
export function renderDkmsConf(template: string, version: string, exclusive: string): string {
  for (const field of ['@PACKAGE_NAME@', '@PACKAGE_VERSION@', '@BUILD_EXCLUSIVE_KERNEL@']) {
    if (!template.includes(field)) throw new CommandError(`the dkms.conf template has no ${field}`, { fix: 'reinstall pve-usb-gadget (install.sh)' });
  }
  return template.replaceAll('@PACKAGE_NAME@', DKMS_NAME).replaceAll('@PACKAGE_VERSION@', version).replaceAll('@BUILD_EXCLUSIVE_KERNEL@', exclusive);
}

/** Lay down /usr/src/<name>-<version>/ (dkms.conf, Makefile, dummy_hcd.c) and `dkms add` it. */
export async function addTree(t: DkmsTree, version: string, exclusive: string, sourceText: string): Promise<void> {
  const dir = dkmsSourceDir(version);
  const conf = renderDkmsConf(t.fs.readText(`${t.templatesDir}/dkms/dkms.conf`), version, exclusive);
  t.fs.mkdir(dir, { recursive: true, mode: 0o755 });
  t.fs.writeAtomic(`${dir}/dkms.conf`, conf, 0o644);
  t.fs.writeAtomic(`${dir}/Makefile`, t.fs.readText(`${t.templatesDir}/dkms/Makefile`), 0o644);
  t.fs.writeAtomic(`${dir}/dummy_hcd.c`, sourceText, 0o644);
  const added = await status(t.exec);
  if (added.some((i) => i.version === version)) return;
  const r = await t.exec('dkms', ['add', '-m', DKMS_NAME, '-v', version]);
  if (r.exitCode !== 0) throw new CommandError(`dkms add ${DKMS_NAME}/${version} failed: ${lastLines(r.stderr || r.stdout)}`, { path: dir });
}

export async function status(exec: Exec): Promise<DkmsInstall[]> {
  const r = await exec('dkms', ['status', '-m', DKMS_NAME]);
  return r.exitCode === 0 ? parseDkmsStatus(r.stdout) : [];
}

export interface BuildOutcome {
  ok: boolean;
  /** the last lines of DKMS's output or make.log when it failed */
  log: string;
}

export async function build(exec: Exec, version: string, kernel: string): Promise<BuildOutcome> {
  const r = await exec('dkms', ['build', '-m', DKMS_NAME, '-v', version, '-k', kernel], { timeoutMs: BUILD_TIMEOUT_MS });
  return { ok: r.exitCode === 0, log: lastLines(`${r.stdout}\n${r.stderr}`, 6) };
}

export async function install(exec: Exec, version: string, kernel: string, force: boolean): Promise<BuildOutcome> {
  const args = ['install', '-m', DKMS_NAME, '-v', version, '-k', kernel, ...(force ? ['--force'] : [])];
  const r = await exec('dkms', args, { timeoutMs: BUILD_TIMEOUT_MS });
  return { ok: r.exitCode === 0, log: lastLines(`${r.stdout}\n${r.stderr}`, 6) };
}

/** Remove one version from one kernel, or (no kernel) from all and from the DKMS tree. */
export async function remove(t: DkmsTree, version: string, kernel?: string): Promise<void> {
  await t.exec('dkms', ['remove', '-m', DKMS_NAME, '-v', version, ...(kernel ? ['-k', kernel] : ['--all'])], { timeoutMs: BUILD_TIMEOUT_MS });
  const left = (await status(t.exec)).filter((i) => i.version === version);
  if (left.length === 0 && t.fs.exists(dkmsSourceDir(version))) {
    for (const f of t.fs.list(dkmsSourceDir(version))) t.fs.unlink(`${dkmsSourceDir(version)}/${f}`);
    t.fs.rmdir(dkmsSourceDir(version));
  }
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').filter((l) => l.trim() !== '').slice(-n).join(' / ');
}
