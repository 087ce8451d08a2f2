/**
 * doctor: one line per installed kernel: is there a dummy_hcd for it (ours from DKMS, or the kernel's
 * own), built from which source, with which scheduler, and is it the kernel that runs or boots next.
 * A kernel without one is a failure when it runs or boots next (VM starts fail there), else a warning.
 */
import type { HostFs } from '../ports/host-fs.js';
import type { Exec } from '../ports/exec.js';
import { listKernels, nextBootKernel, type KernelFacts } from '../kernel/kernel-facts.js';
import { buildFix, readRecord } from '../kernel/records.js';
import { schedulerOfModule, type Scheduler } from '../kernel/scheduler.js';
import type { CheckResult } from './doctor-result.js';
import { moduleText } from './doctor-host.js';

export async function checkKernels(fs: HostFs, exec: Exec): Promise<CheckResult[]> {
  const running = fs.readTextIfExists('/proc/sys/kernel/osrelease')?.trim();
  const kernels = listKernels(fs).filter((k) => k.installed || k.release === running);
  const next = nextBootKernel(fs, kernels);
  const out: CheckResult[] = [];
  for (const k of kernels) {
    const roles = [k.release === running && 'running', k.release === next?.release && `boots next: ${next.why}`].filter(Boolean).join(', ');
    const check = `kernel ${k.release}${roles ? ` (${roles})` : ''}`;
    out.push(await kernelLine(fs, exec, k, check, roles !== ''));
  }
  return out;
}

async function kernelLine(fs: HostFs, exec: Exec, k: KernelFacts, check: string, matters: boolean): Promise<CheckResult> {
  const rec = readRecord(fs, k.release);
  if (k.dummyHcd === undefined) {
    const detail = rec && rec.status !== 'built' ? rec.message : `dummy_hcd is not built for kernel ${k.release}`;
    const fix = k.headers === undefined ? `install its headers (proxmox-headers-${k.release}), then ${buildFix(k.release)}` : buildFix(k.release);
    return { check, status: matters ? 'fail' : 'warn', detail: `${detail}${matters ? '' : ' (VMs with a stick cannot start on it)'}`, fix };
  }
  let scheduler: Scheduler = rec?.status === 'built' && rec.scheduler ? rec.scheduler : 'unknown';
  if (scheduler === 'unknown') {
    try {
      scheduler = schedulerOfModule(await moduleText(exec, fs, k.dummyHcd.path));
    } catch {
      // stays unknown: the line says so
    }
  }
  const from = k.dummyHcd.ours
    ? `DKMS${rec?.dkmsVersion ? ` ${rec.dkmsVersion}` : ''}${rec?.source ? ` from Linux ${rec.source.version} (${rec.source.ref})` : ''}`
    : "the kernel's own";
  const detail = `dummy_hcd: ${from}, ${scheduler} scheduler (${k.dummyHcd.path})`;
  if (scheduler === 'jiffies') return { check, status: 'warn', detail: `${detail}: about 1 MB/s`, fix: `${buildFix(k.release)} --kernel-source <a 2024 or newer tree>` };
  return { check, status: 'ok', detail };
}
