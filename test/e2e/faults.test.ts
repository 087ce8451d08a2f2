/**
 * Faults and refusals on a real kernel: a pre-start killed with SIGKILL after each step, a post-stop that
 * never ran, and every refusal leaving nothing behind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

describe('faults and refusals on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('faults', 1_500_000);
  });

  it('ran', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(g.facts.faultScenarios?.crashed).toBeUndefined();
    expect(g.facts.refusalScenarios?.crashed).toBeUndefined();
  });

  describe.each(['recorded', 'quirk', 'configfs', 'bound', 'enumerated', 'mapping'])('pre-start killed after "%s"', (step) => {
    const k = () => g.facts.faultScenarios.killed[step];
    it('the killed start fails, the next one recovers, the stop leaves nothing', () => {
      expect(k().crash.signal).toBe('SIGKILL');
      expect(k().recover.code, k().recover.stderr).toBe(0);
      expect(k().stop.code, k().stop.stderr).toBe(0);
      expectClean(k().after, expect);
    });
    it('the leftover was there and the next pre-start said it removed it', () => {
      expect(k().leftover.stateFiles).toEqual(['300.json']);
      expect(k().recover.stdout).toContain('removed a gadget left from an earlier run');
    });
    if (step === 'bound') {
      it('the recovered start boots the guest', () => {
        expect(k().boot.found).toBe(true);
      });
    }
  });

  it('a start after a post-stop that never ran recovers and boots; the stop leaves nothing', () => {
    const s = g.facts.faultScenarios.postStopSkipped;
    expect(s.first.started).toBe(true);
    expect(s.skipped.gadgets).toEqual(['pvug-300']);
    expect(s.second.started, s.second.hooks[0]?.stderr).toBe(true);
    expect(s.second.hooks[0].stdout).toContain('removed a gadget left from an earlier run');
    expect(s.boot.found).toBe(true);
    expectClean(s.after, expect);
  });

  const refusals: [string, RegExp][] = [
    ['badNotes', /usb-gadget\.vendr_id.*vendor_id/],
    ['missingImage', /does not exist/],
    ['usbIdInUse', /0781:5600 is already used by VM 400/],
    ['imageInUse', /already exported by VM 400/],
    ['outsideAllowedDirs', /not inside an allowed directory/],
  ];
  describe.each(refusals)('refusal: %s', (name, message) => {
    const r = () => g.facts.refusalScenarios.results[name];
    it('pre-start exits non-zero with a clear message, the start is aborted', () => {
      const pre = r().start.hooks[0];
      expect(pre.code).toBe(1);
      expect(pre.stderr).toMatch(message);
      expect(r().start.started).toBe(false);
    });
    it('leaves nothing behind', () => {
      expect(r().after.gadgets).toEqual(r().before.gadgets);
      expect(r().after.quirks).toBe(r().before.quirks);
      expect(r().stateFile).toBe(false);
    });
  });

  it('the VM that held the id and image stops cleanly', () => {
    const s = g.facts.refusalScenarios;
    expect(s.holder.started).toBe(true);
    expectClean(s.after, expect);
    expect(s.post.code).toBe(0);
  });
});
