/** Test side: run one group of in-VM scenarios (test/e2e/guest) on the real kernel and return its facts. */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleForVm } from './bundle.js';
import { cacheDir, runInVm, type VmRun } from './vm.js';

export interface GroupRun {
  facts: Record<string, any>;
  run: VmRun;
}

export async function runScenarioGroup(group: string, timeoutMs = 1_200_000): Promise<GroupRun> {
  const entry = await bundleForVm('test/e2e/guest/main.ts', 'scenarios');
  // knobs of the soak (npm run soak sets them) and PVUG_ONLY pass through to the VM
  const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => (k.startsWith('PVUG_SOAK_') || k === 'PVUG_ONLY') && v !== undefined)) as Record<string, string>;
  // the nested Linux guest's kernel and initramfs (test/e2e/guest/guest-shell.ts), as the bench shares them
  const nestedLinux = { hostPath: join(cacheDir(), 'bench-guest'), tag: 'benchguest', mountPoint: '/bench-guest', readOnly: true };
  const run = await runInVm({ script: `exec node ${entry} ${group} /results/facts.json`, timeoutMs, memMb: 3072, env, extraShares: [nestedLinux] });
  let facts: Record<string, any> = {};
  try {
    facts = JSON.parse(await readFile(join(run.resultsDir, 'facts.json'), 'utf8')) as Record<string, any>;
  } catch {
    // asserted by the caller: no facts means the run failed before the first scenario ended
  }
  await rm(run.resultsDir, { recursive: true, force: true });
  return { facts, run };
}

/** Nothing of ours is left on the host. */
export function expectClean(state: any, expect: any): void {
  expect(state.gadgets).toEqual([]);
  expect(state.quirks.split(',').filter((q: string) => q.endsWith(':i'))).toEqual([]);
  expect(state.stateFiles).toEqual([]);
}
