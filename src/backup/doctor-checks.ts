/**
 * doctor's backup lines: is our vzdump hook the node's script, do backup jobs bypass it with their own
 * `script` (a job option overrides /etc/vzdump.conf: PVE/VZDump.pm new() merges the job's options over
 * the defaults), and did the last backup of a VM leave its stick unsaved.
 */
import type { HostFs } from '../ports/host-fs.js';
import type { CheckResult } from '../cli/doctor-result.js';
import type { Settings } from '../settings/types.js';
import { HOOK_WRAPPER, VZDUMP_CONF } from './install-hook.js';
import { PendingStore } from './pending.js';

export const JOBS_CFG = '/etc/pve/jobs.cfg';

function nodeScript(fs: HostFs): string | undefined {
  for (const line of (fs.readTextIfExists(VZDUMP_CONF) ?? '').split('\n')) {
    const m = /^\s*script:\s*(.*?)\s*$/.exec(line);
    if (m && !/^\s*#/.test(line)) return m[1];
  }
  return undefined;
}

/** vzdump jobs in jobs.cfg (SectionConfig: `vzdump: <id>` then indented `key value`) with their own script. */
export function jobsWithOwnScript(text: string): { id: string; script: string }[] {
  const out: { id: string; script: string }[] = [];
  let job: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+):\s*(\S+)\s*$/.exec(line);
    if (head) {
      job = head[1] === 'vzdump' ? head[2] : undefined;
      continue;
    }
    const prop = /^\s+script\s+(.*\S)\s*$/.exec(line);
    if (job && prop?.[1]) out.push({ id: job, script: prop[1] });
  }
  return out;
}

export function checkBackups(fs: HostFs, settings: Settings): CheckResult[] {
  const results: CheckResult[] = [];
  const script = nodeScript(fs);
  if (script === HOOK_WRAPPER && fs.exists(HOOK_WRAPPER)) {
    results.push({ check: 'vzdump hook', status: 'ok', detail: `${VZDUMP_CONF} runs ${HOOK_WRAPPER}: backups copy each VM's stick` });
  } else {
    results.push({
      check: 'vzdump hook',
      status: 'warn',
      detail: script ? `${VZDUMP_CONF} runs ${script}, not pve-usb-gadget's hook: backups hold no stick copy` : 'not installed: backups hold no stick copy',
      fix: 'pve-usb-gadget backup install-hook (install.sh does it; an existing script keeps running)',
    });
  }
  for (const j of jobsWithOwnScript(fs.readTextIfExists(JOBS_CFG) ?? '')) {
    if (j.script === HOOK_WRAPPER) continue;
    results.push({
      check: 'vzdump hook',
      status: 'warn',
      detail: `backup job ${j.id} runs its own script ${j.script}: pve-usb-gadget's hook does not run for it, its backups hold no stick copy`,
      fix: `set the job's script to ${HOOK_WRAPPER} and record ${j.script} in /etc/pve-usb-gadget/vzdump-chain, or remove the job's script`,
    });
  }
  for (const p of new PendingStore(fs, settings.paths.stateDir).lastOutcomes()) {
    if (p.state !== 'failed') continue;
    results.push({
      check: 'stick copies',
      status: 'warn',
      detail: `VM ${p.vmid}: THE STICK WAS NOT SAVED with backup ${p.base}: ${p.error ?? 'the copy failed'}`,
      fix: 'see that backup task log; the next backup tries again',
    });
  }
  return results;
}
