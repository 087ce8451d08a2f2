/**
 * The licence identity on a real kernel (test/e2e/guest/scenarios-identity.ts): a VM restored under a new
 * vmid with the original gone shows the guest the same VID, PID and serial (the same unRAID GUID) and
 * boots from it; a clone with the original present is refused at pre-start, naming both VMs, leaving
 * nothing; with a new identity it starts with another GUID.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

const IDENTITY = { idVendor: '0781', idProduct: '5577', serial: '4C530001230101117777' };

describe('licence identity on a real kernel', () => {
  let g: GroupRun;
  const f = () => g.facts.identityScenarios;
  beforeAll(async () => {
    g = await runScenarioGroup('identity');
  });

  it('ran', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(f().crashed).toBeUndefined();
  });

  it('the original starts with its pinned identity and the guest boots from it', () => {
    expect(f().original.start.started, f().original.start.error).toBe(true);
    expect(f().original.start.hooks[0].stdout).toContain('(unRAID GUID 0781-5577-0001-230101117777)');
    expect(f().original.identity).toMatchObject(IDENTITY);
    expect(f().original.boot.found).toBe(true);
    expectClean(f().original.after, expect);
  });

  it('restored as 701 with 700 gone: same VID, PID and serial, the guest boots, a warning about the copied usb0 line', () => {
    const r = f().restored;
    expect(r.start.started, r.start.error).toBe(true);
    expect(r.start.usbDevices).toEqual(['0781:5577']);
    expect(r.identity).toMatchObject(IDENTITY);
    expect(r.boot.found).toBe(true);
    const pre = r.start.hooks[0];
    expect(pre.stdout).toContain('(unRAID GUID 0781-5577-0001-230101117777)');
    expect(pre.stderr).toMatch(/usb0 points at usb-gadget-700, the mapping of VM 700, which no longer exists/);
    expect(pre.stderr).not.toMatch(/not pinned/);
    expectClean(r.after, expect);
  });

  it('a clone of 701 with 701 present is refused at pre-start, naming both VMs, and nothing is left', () => {
    const c = f().cloneRefused;
    expect(c.start.started).toBe(false);
    const pre = c.start.hooks[0];
    expect(pre.code).not.toBe(0);
    expect(pre.stderr).toContain('unRAID GUID 0781-5577-0001-230101117777 of VM 702 is also the GUID of VM 701');
    expect(pre.stderr).toContain('pve-usb-gadget enable 702 --image /var/lib/vz/usb-gadget/vm700.img --new-identity');
    expectClean(c.after, expect);
    expect(c.after.modules.dummy_hcd).toBe(false);
  });

  it('with a new identity the clone starts with another GUID and its own mapping', () => {
    const n = f().newIdentity;
    expect(n.start.started, n.start.error).toBe(true);
    expect(n.start.usbDevices).toEqual(['1d6b:82be']);
    expect(n.identity).toMatchObject({ idVendor: '1d6b', idProduct: '82be' });
    expect(n.identity.serial).toMatch(/^[0-9A-F]{16}$/);
    expect(n.boot.found).toBe(true);
    expect(f().mappings.m702.map).toEqual(['node=pve,id=1d6b:82be']);
  });
});
