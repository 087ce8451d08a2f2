import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import { UdcAllocator, chooseUdc, dummyUdcs } from '../../src/host/udc.js';
import { ConflictError } from '../../src/errors.js';

describe('chooseUdc', () => {
  it('takes the lowest free controller', () => {
    expect(chooseUdc(['dummy_udc.0', 'dummy_udc.1'], new Set(['dummy_udc.0']))).toBe('dummy_udc.1');
    expect(chooseUdc(['dummy_udc.0'], new Set(['dummy_udc.0']))).toBeUndefined();
  });
});

describe('UdcAllocator', () => {
  let root = '';
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const setup = (udcs: number, bound: Record<string, string>) => {
    root = mkdtempSync(join(tmpdir(), 'pvug-udc-'));
    const fs = nodeHostFs(root);
    fs.mkdir('/sys/class/udc', { recursive: true });
    for (let i = 0; i < udcs; i++) fs.mkdir(`/sys/class/udc/dummy_udc.${i}`);
    fs.mkdir('/sys/class/udc/fe980000.usb');
    for (const [g, udc] of Object.entries(bound)) {
      fs.mkdir(`/sys/kernel/config/usb_gadget/${g}`, { recursive: true });
      fs.write(`/sys/kernel/config/usb_gadget/${g}/UDC`, `${udc}\n`);
    }
    return fs;
  };

  it('sorts controllers numerically and ignores real UDCs', () => {
    const fs = setup(12, {});
    expect(dummyUdcs(fs).slice(9, 12)).toEqual(['dummy_udc.9', 'dummy_udc.10', 'dummy_udc.11']);
  });

  it('skips bound and reserved controllers', () => {
    const fs = setup(4, { 'pvug-100': 'dummy_udc.0', foreign: 'dummy_udc.2', unbound: '' });
    expect(new UdcAllocator(fs).allocate(new Set(['dummy_udc.1']))).toBe('dummy_udc.3');
  });

  it('says what to do when every controller is taken', () => {
    const fs = setup(1, { 'pvug-100': 'dummy_udc.0' });
    expect(() => new UdcAllocator(fs).allocate()).toThrow(ConflictError);
    expect(() => new UdcAllocator(fs).allocate()).toThrow(/controllers/);
  });
});
