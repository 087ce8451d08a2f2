/**
 * `pve-usb-gadget doctor`: one line per check, ok / warn / fail, with the fix. Exit 1 when a check
 * failed. Never prints the token secret (checks only say whether it could be read).
 */
import type { HostFs } from '../ports/host-fs.js';
import { checkBackups } from '../backup/doctor-checks.js';
import { checkSnapshots } from '../snapshot/doctor-check.js';
import { checkVolumeSnapshots } from '../snapshot/doctor-volumes.js';
import { pveVolumeSnapshots } from '../storage/pve-snapshot.js';
import type { Exec } from '../ports/exec.js';
import type { Settings } from '../settings/types.js';
import type { AdminApi } from './admin-deps.js';
import { checkEnabledVms, checkToken } from './doctor-cluster.js';
import { checkKernels } from './doctor-kernels.js';
import { checkConfigfs, checkHookFile, checkModules, checkNodeVersion, checkScheduler, checkSecret, errorText } from './doctor-host.js';
import type { RootVmTool } from './qm.js';
import type { CheckResult, CheckStatus } from './doctor-result.js';

export type { CheckResult, CheckStatus } from './doctor-result.js';

export interface DoctorDeps {
  fs: HostFs;
  exec: Exec;
  /** process.versions.node */
  nodeVersion: string;
  /** throws SettingsError when the file is unsafe or invalid */
  loadSettings: () => Settings;
  /** the API client for these settings, undefined without [api]; may throw */
  api: (settings: Settings) => AdminApi | undefined;
  qm?: RootVmTool;
  hookscript: string;
}

export async function runDoctor(deps: DoctorDeps): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    await checkModules(deps.fs, deps.exec),
    checkConfigfs(deps.fs),
    await checkScheduler(deps.fs, deps.exec),
    ...(await checkKernels(deps.fs, deps.exec)),
    checkNodeVersion(deps.nodeVersion),
  ];
  let settings: Settings;
  try {
    settings = deps.loadSettings();
    results.push({ check: 'settings', status: 'ok', detail: `loaded; node ${settings.node}, images from ${settings.images.allowedDirs.join(', ')}` });
  } catch (err) {
    results.push({ check: 'settings', status: 'fail', ...errorText(err) });
    return results;
  }
  results.push(checkSecret(settings));
  results.push(await checkHookFile(deps.fs, deps.exec, deps.hookscript));
  results.push(...checkBackups(deps.fs, settings));
  results.push(...checkSnapshots(deps.fs, settings));
  results.push(...(await checkVolumeSnapshots(deps.fs, settings, pveVolumeSnapshots(deps.exec))));
  let api: AdminApi | undefined;
  try {
    api = deps.api(settings);
  } catch (err) {
    results.push({ check: 'API token', status: 'fail', ...errorText(err) });
    return results;
  }
  if (!api) return results;
  const token = await checkToken(api, settings);
  results.push(...token);
  if (token[0]?.status === 'ok') results.push(...(await checkEnabledVms(api, settings, deps.qm)));
  return results;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export function formatChecks(results: readonly CheckResult[]): string[] {
  return results.map((r) => `${LABEL[r.status]}  ${r.check}: ${r.detail}${r.fix ? `; fix: ${r.fix}` : ''}`);
}

export function doctorExitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
