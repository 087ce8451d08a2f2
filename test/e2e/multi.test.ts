/** Two VMs at once on a real kernel, and the detached helper that adds a missing usbN line. */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

describe('two VMs and the attach helper on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('multi');
  });

  it('ran', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
  });

  describe('two VMs at once', () => {
    const t = () => g.facts.twoVms;
    it('both start, each on its own UDC', () => {
      expect(t().crashed).toBeUndefined();
      expect(t().start101.started, t().start101.hooks[0]?.stderr).toBe(true);
      expect(t().start102.started, t().start102.hooks[0]?.stderr).toBe(true);
      expect(t().during.gadgets).toEqual(['pvug-101', 'pvug-102']);
      expect(t().during.bound['pvug-101']).not.toBe(t().during.bound['pvug-102']);
    });
    it('each guest boots its own marker (no cross-grab)', () => {
      expect(t().boot101.found, t().boot101.serial).toBe(true);
      expect(t().boot102.found, t().boot102.serial).toBe(true);
      expect(t().boot101.serial).not.toContain('PVUG-MARKER-102');
      expect(t().boot102.serial).not.toContain('PVUG-MARKER-101');
    });
    it('both stop cleanly', () => {
      expect(t().stop101[1].code).toBe(0);
      expect(t().stop102[1].code).toBe(0);
      expectClean(t().after, expect);
    });
  });

  describe('VM without a usbN line for its mapping', () => {
    const a = () => g.facts.attachHelper;
    it('starts, says a helper will add the line, and the helper adds it once the start is over', () => {
      expect(a().crashed).toBeUndefined();
      const pre = a().start.hooks[0];
      expect(pre.code, pre.stderr).toBe(0);
      expect(pre.stderr).toContain('no usbN line for usb-gadget-103');
      expect(a().usb0).toBe('mapping=usb-gadget-103');
    });
    it('stops cleanly', () => {
      expectClean(a().after, expect);
    });
  });
});
