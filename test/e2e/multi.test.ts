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
    it('Proxmox hot-plugs the line into the running QEMU, which attaches the gadget', () => {
      expect(a().hotplugErrors).toEqual([]);
      expect(a().pending).toEqual({});
      expect(a().hotplugged).toEqual(['id=usb0 0781:5583']);
      expect(a().infoUsb).toMatch(/Product PVUG Hotplug, ID: usb0/);
    });
    it('stops cleanly', () => {
      expectClean(a().after, expect);
    });
  });

  describe('a GUI/API start right after the mapping changed (pmxcfs cache of the start worker)', () => {
    const m = () => g.facts.staleMappingStart;
    it('the first start fails on the stale mapping, and pre-start said why and what to do', () => {
      expect(m().crashed).toBeUndefined();
      expect(m().first.hooks[0].code, m().first.hooks[0].stderr).toBe(0);
      expect(m().first.hooks[0].stderr).toContain('start the VM again');
      expect(m().mappingAfterFirst).toEqual(['node=pve,id=0781:5585']);
      expect(m().first.started).toBe(false);
      expect(m().first.error).toMatch(/USB Mapping invalid .*0781:5584/);
    });
    it('the next start works and the guest boots from the stick', () => {
      expect(m().second.started, m().second.error).toBe(true);
      expect(m().second.usbDevices).toEqual(['0781:5585']);
      expect(m().boot.found, m().boot.serial).toBe(true);
    });
    it('a qm start from a shell sees a changed mapping at once', () => {
      expect(m().shell.started, m().shell.error).toBe(true);
      expect(m().shell.usbDevices).toEqual(['0781:5587']);
      expectClean(m().after, expect);
    });
  });

  describe("post-stop from qmeventd's qm cleanup (PVE 8, PVE 9 before qemu-server 9.1.13)", () => {
    const l = () => g.facts.lateCleanup;
    it('a restart before the late cleanup: the cleanup aborts without post-stop, the new run keeps its stick', () => {
      expect(l().crashed).toBeUndefined();
      expect(l().boot1.found, l().boot1.serial).toBe(true);
      expect(l().stop1).toHaveLength(1);
      expect(l().start2.started, l().start2.error).toBe(true);
      expect(l().cleanup1).toEqual({ skipped: 'aborting cleanup, VM is still running' });
      expect(l().duringSecondRun.gadgets).toContain('pvug-106');
      expect(l().boot2.found, l().boot2.serial).toBe(true);
    });
    it("the next stop's cleanup runs post-stop and nothing is left", () => {
      expect(l().cleanup2.post.code, l().cleanup2.post.stderr).toBe(0);
      expectClean(l().after, expect);
    });
  });
});
