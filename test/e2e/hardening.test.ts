/** Documented failure outcomes on a real kernel (README "Failure modes"), and concurrency. */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

describe('failure outcomes on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('hardening', 1_500_000);
  });

  it('ran every scenario; the token secret never reached the task log or syslog', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    for (const [name, f] of Object.entries(g.facts)) expect(f?.crashed, name).toBeUndefined();
    expect(g.facts.hookRuns).toBe(true);
    expect(g.facts.syslogHasHookLines).toBe(true);
    expect(g.facts.secretLeaked).toBe(false);
  });

  it('module unload while busy: the first stop keeps the modules and the other stick; the last unloads', () => {
    const m = g.facts.moduleBusy;
    expect(m.up.map((u: any) => u.code)).toEqual([0, 0]);
    expect(m.down500.code).toBe(0);
    expect(m.afterFirst.gadgets).toEqual(['pvug-501']);
    expect(m.afterFirst.modules.dummy_hcd).toBe(true);
    expect(m.stillEnumerated).toContain('configured');
    expect(m.down501.stdout).toContain('unloaded');
    expect(m.after.modules.dummy_hcd).toBe(false);
    expectClean(m.after, expect);
  });

  it('a LUN the kernel refuses mid-build: the start fails naming the attribute, everything is undone', () => {
    const k = g.facts.kernelRefusal;
    expect(k.pre.code).toBe(1);
    expect(k.pre.stderr).toMatch(/configfs refused: write .*lun\.1\/file/);
    expect(k.pre.stdout).toContain('undid everything');
    expectClean(k.after, expect);
  });

  it('no free controller: refused with the fix, the foreign gadget untouched', () => {
    const n = g.facts.noFreeController;
    expect(n.first.code).toBe(0);
    expect(n.refused.code).toBe(1);
    expect(n.refused.stderr).toMatch(/no free USB device controller.*controllers/);
    expect(n.after.gadgets).toEqual(['foreign', 'pvug-520']);
    expect(n.after.bound.foreign).toBe('dummy_udc.1');
    expect(n.stop.code).toBe(0);
    expectClean(n.end, expect);
  });

  it('enumeration timeout: the start fails with the UDC state, everything is undone', () => {
    const e = g.facts.enumerationTimeout;
    expect(e.pre.code).toBe(1);
    expect(e.pre.stderr).toMatch(/did not enumerate the gadget .* within 2 s/);
    expectClean(e.after, expect);
  });

  it('API down: the notes come from the local config, a warning, and the guest still boots', () => {
    const a = g.facts.apiDown;
    expect(a.start.hooks[0].code, a.start.hooks[0].stderr).toBe(0);
    expect(a.start.hooks[0].stderr).toMatch(/API not reachable|could not check the USB mapping/);
    expect(a.start.started).toBe(true);
    expect(a.boot.found).toBe(true);
    expectClean(a.after, expect);
  });

  it('API 403: the start is aborted with the privilege PVE named, nothing left', () => {
    const a = g.facts.api403;
    expect(a.start.hooks[0].code).toBe(1);
    expect(a.start.hooks[0].stderr).toMatch(/Mapping\.Modify/);
    expect(a.start.started).toBe(false);
    expect(a.mapping).toBeNull();
    expectClean(a.after, expect);
  });

  it("mapping conflict: this node's stale entry is updated, the other node's kept; the guest boots", () => {
    const m = g.facts.mappingConflict;
    expect(m.start.started, m.start.hooks[0]?.stderr).toBe(true);
    expect([...m.mapping.map].sort()).toEqual(['node=pve,id=0781:5760', 'node=pve2,id=0781:5760']);
    expect(m.boot.found).toBe(true);
    expectClean(m.after, expect);
  });
});

describe('concurrency on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('soak', Number(process.env.PVUG_SOAK_TIMEOUT_MS ?? 1_200_000));
  }, Number(process.env.PVUG_SOAK_TIMEOUT_MS ?? 1_200_000) + 60_000);

  it('16 pre-starts at once, then 16 post-stops at once: every cycle enumerates all, no shared UDC, nothing leaks', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    const c = g.facts.concurrency;
    expect(c.crashed).toBeUndefined();
    expect(c.results).toHaveLength(c.cycles);
    for (const r of c.results) {
      expect(r.upFailures).toEqual([]);
      expect(r.downFailures).toEqual([]);
      expect(r.gadgets).toBe(c.n);
      expect(r.distinctUdcs).toBe(c.n);
      expect(r.configured).toBe(c.n);
      expectClean(r.after, expect);
      expect(r.lockHolders).toBe('0');
    }
    expect(g.facts.secretLeaked).toBe(false);
  });
});
