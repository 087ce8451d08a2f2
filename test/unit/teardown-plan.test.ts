import { describe, expect, it } from 'vitest';
import { planTeardown, type ObservedGadget } from '../../src/plan/teardown-plan.js';

const observed: ObservedGadget = {
  dir: '/g',
  udc: 'dummy_udc.0\n',
  configs: [{ name: 'c.1', links: ['mass_storage.0'], strings: ['0x409'] }],
  functions: [{ name: 'mass_storage.0', extraLuns: ['lun.2', 'lun.1'] }],
  strings: ['0x409'],
  osDescLinks: [],
};

describe('planTeardown', () => {
  it('follows the kernel order: unbind, links, config strings, configs, LUNs, functions, strings, gadget', () => {
    expect(planTeardown(observed).map((op) => `${op.kind} ${op.path}`)).toEqual([
      'unbind /g/UDC',
      'unlink /g/configs/c.1/mass_storage.0',
      'rmdir /g/configs/c.1/strings/0x409',
      'rmdir /g/configs/c.1',
      'rmdir /g/functions/mass_storage.0/lun.2',
      'rmdir /g/functions/mass_storage.0/lun.1',
      'rmdir /g/functions/mass_storage.0',
      'rmdir /g/strings/0x409',
      'rmdir /g',
    ]);
  });

  it('does not unbind a gadget that is not bound', () => {
    expect(planTeardown({ ...observed, udc: '\n' })[0]?.kind).not.toBe('unbind');
  });
});

// Teardown of half-built gadgets (a pre-start killed after each step) is proven on a real configfs in
// test/e2e/faults.test.ts: a plain directory cannot stand in for configfs' default groups.
