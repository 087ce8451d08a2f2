import { describe, expect, it } from 'vitest';
import { planGadget } from '../../src/plan/gadget-plan.js';
import type { Op } from '../../src/plan/ops.js';
import type { GadgetSpec } from '../../src/spec/types.js';

const spec = (over: Partial<GadgetSpec> = {}): GadgetSpec => ({
  vendorId: 0x0781,
  productId: 0x5571,
  bcdDevice: 0x0100,
  serial: '4C530001230101111111',
  serialSource: 'notes',
  manufacturer: 'SanDisk',
  product: 'Cruzer Fit',
  speed: 'super',
  luns: [
    { index: 0, image: '/var/lib/vz/usb-gadget/a.img', readonly: false, cdrom: false, removable: true, inquiry: 'SanDisk Cruzer Fit      1.00' },
    { index: 3, image: '/var/lib/vz/usb-gadget/b.iso', readonly: true, cdrom: true, removable: true, inquiry: 'SanDisk Cruzer Fit      1.00' },
  ],
  ...over,
});

const indexOf = (ops: Op[], pred: (op: Op) => boolean) => {
  const i = ops.findIndex(pred);
  expect(i, 'op present').toBeGreaterThanOrEqual(0);
  return i;
};
const writeTo = (suffix: string) => (op: Op) => op.kind === 'write' && op.path.endsWith(suffix);

describe('planGadget', () => {
  const ops = planGadget(100, spec());
  const link = indexOf(ops, (op) => op.kind === 'symlink');

  it('writes ro and cdrom before file on every LUN (EBUSY otherwise)', () => {
    for (const lun of ['lun.0', 'lun.3']) {
      const file = indexOf(ops, writeTo(`${lun}/file`));
      expect(indexOf(ops, writeTo(`${lun}/ro`))).toBeLessThan(file);
      expect(indexOf(ops, writeTo(`${lun}/cdrom`))).toBeLessThan(file);
    }
  });

  it('creates extra LUNs and writes stall before linking the function into the config', () => {
    expect(indexOf(ops, (op) => op.kind === 'mkdir' && op.path.endsWith('/lun.3'))).toBeLessThan(link);
    expect(indexOf(ops, writeTo('/stall'))).toBeLessThan(link);
    expect(ops.some((op) => op.kind === 'mkdir' && op.path.endsWith('/lun.0'))).toBe(false);
  });

  it('writes the identity the guest will see', () => {
    const value = (suffix: string) => (ops.find(writeTo(suffix)) as { value: string }).value;
    expect(value('/idVendor')).toBe('0x0781');
    expect(value('/idProduct')).toBe('0x5571');
    expect(value('/serialnumber')).toBe('4C530001230101111111');
    expect(value('/max_speed')).toBe('super-speed');
    expect(value('lun.3/cdrom')).toBe('1');
    expect(value('lun.3/ro')).toBe('1');
    expect(value('lun.0/ro')).toBe('0');
    expect(value('lun.0/inquiry_string')).toHaveLength(28);
  });

  it('keeps every path inside the VM gadget directory, whatever the notes say', () => {
    const hostile = planGadget(7777, spec({ manufacturer: '../../../../etc', product: 'a/b\nc' }));
    for (const op of hostile) {
      expect(op.path.startsWith('/sys/kernel/config/usb_gadget/pvug-7777')).toBe(true);
      expect(op.path).not.toContain('..');
    }
  });

  it('links only after every mkdir and write', () => {
    expect(link).toBe(ops.length - 1);
  });
});
