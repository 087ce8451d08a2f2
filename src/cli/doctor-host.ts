/** doctor: the checks of this node itself (kernel, Node, settings, secret, hook file). */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { HostFs } from '../ports/host-fs.js';
import { GadgetError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { readTokenSecret } from '../settings/secret.js';
import type { Settings } from '../settings/types.js';
import { buildFix, readRecord } from '../kernel/records.js';
import { schedulerOfModule, type Scheduler } from '../kernel/scheduler.js';
import type { CheckResult } from './doctor-result.js';

export const GADGET_MODULES = ['dummy_hcd', 'libcomposite', 'usb_f_mass_storage'] as const;

const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
const warn = (check: string, detail: string, fix?: string): CheckResult => ({ check, status: 'warn', detail, fix });
const fail = (check: string, detail: string, fix?: string): CheckResult => ({ check, status: 'fail', detail, fix });

export const errorText = (err: unknown): { detail: string; fix?: string } =>
  err instanceof GadgetError ? { detail: err.message, fix: err.fix } : { detail: err instanceof Error ? err.message : String(err) };

/** `modinfo -n` path of a module, '(builtin)' for built-ins, undefined when the kernel has none. */
async function modulePath(exec: Exec, name: string): Promise<string | undefined> {
  const r = await exec('modinfo', ['-n', name]);
  return r.exitCode === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

export async function checkModules(fs: HostFs, exec: Exec): Promise<CheckResult> {
  const missing: string[] = [];
  for (const m of GADGET_MODULES) {
    if (!fs.exists(`/sys/module/${m}`) && (await modulePath(exec, m)) === undefined) missing.push(m);
  }
  if (missing.length === 0) return ok('kernel modules', `${GADGET_MODULES.join(', ')} available`);
  const kernel = (await exec('uname', ['-r'])).stdout.trim();
  const rec = readRecord(fs, kernel);
  return fail(
    'kernel modules',
    `missing for kernel ${kernel}: ${missing.join(', ')}${missing.includes('dummy_hcd') && rec && rec.status !== 'built' ? ` (${rec.message})` : ''}`,
    missing.includes('dummy_hcd') ? buildFix(kernel) : 'boot a Proxmox VE kernel (it has libcomposite and usb_f_mass_storage)',
  );
}

export function checkConfigfs(fs: HostFs): CheckResult {
  const mounted = (fs.readTextIfExists('/proc/mounts') ?? '').split('\n').some((l) => l.split(' ')[2] === 'configfs');
  if (mounted) return ok('configfs', 'mounted on /sys/kernel/config');
  return ok('configfs', 'not mounted yet: the hook mounts it at the first VM start');
}

export { schedulerOfModule } from '../kernel/scheduler.js';

/** A module file's bytes as latin1 text (decompressed), for looking for symbol names in it. */
export async function moduleText(exec: Exec, fs: HostFs, path: string): Promise<string> {
  if (path.endsWith('.xz') || path.endsWith('.zst')) {
    const r = await exec(path.endsWith('.xz') ? 'xz' : 'zstd', ['-dc', path]);
    return r.stdout;
  }
  const raw = readFileSync(fs.real(path));
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1');
}

export async function checkScheduler(fs: HostFs, exec: Exec): Promise<CheckResult> {
  const path = await modulePath(exec, 'dummy_hcd');
  if (path === undefined || path === '(builtin)') return warn('dummy_hcd scheduler', path ? 'dummy_hcd is built in: cannot tell' : 'no dummy_hcd to look at');
  let scheduler: Scheduler;
  try {
    scheduler = schedulerOfModule(await moduleText(exec, fs, path));
  } catch (err) {
    return warn('dummy_hcd scheduler', `cannot read ${path}: ${errorText(err).detail}`);
  }
  const from = path.includes('/updates/dkms/') ? 'DKMS build' : "kernel's own";
  if (scheduler === 'hrtimer') return ok('dummy_hcd scheduler', `hrtimer (${from}, ${path}): full speed`);
  if (scheduler === 'jiffies') {
    return warn('dummy_hcd scheduler', `jiffies (${from}, ${path}): about 1 MB/s`, 'rebuild it from a 2024 or newer source: install.sh --kernel-module --kernel-source <tree>');
  }
  return warn('dummy_hcd scheduler', `cannot tell from ${path}`);
}

export function checkNodeVersion(version: string): CheckResult {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > 18 || (major === 18 && minor >= 20)) return ok('node', `v${version}`);
  return fail('node', `v${version} is older than 18.20`, "install Debian's nodejs (apt install nodejs)");
}

export function checkSecret(settings: Settings): CheckResult {
  if (!settings.api) {
    return warn('token secret', 'no [api] section: the hook cannot create USB mappings', 'run install.sh without --no-api');
  }
  try {
    readTokenSecret(settings);
    return ok('token secret', `${settings.api.secretFile}: root-only`);
  } catch (err) {
    return fail('token secret', errorText(err).detail, errorText(err).fix);
  }
}

/** The hook file of `volid` on this node: there, a regular file, executable, with a shebang. */
export async function checkHookFile(fs: HostFs, exec: Exec, volid: string): Promise<CheckResult> {
  const r = await exec('pvesm', ['path', volid]);
  const path = r.stdout.trim();
  if (r.exitCode !== 0 || !path.startsWith('/')) return fail('hook', `pvesm path ${volid} failed: ${(r.stderr || r.stdout).trim()}`, 'run install.sh on this node');
  if (!fs.exists(path)) return fail('hook', `${path} (${volid}) is missing on this node: VMs using it cannot start here`, 'run install.sh on this node');
  const st = fs.stat(path);
  if (st.kind !== 'file' || (st.mode & 0o100) === 0) return fail('hook', `${path} is not an executable file`, `chmod 755 ${path}`);
  if (!fs.readText(path).startsWith('#!')) return fail('hook', `${path} has no #! line`, 'run install.sh on this node');
  return ok('hook', `${volid} = ${path}, executable`);
}
