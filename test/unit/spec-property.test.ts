import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAIN_KEYS } from '../../src/spec/key-rules.js';
import { MAX_PROBLEMS } from '../../src/spec/problems.js';
import type { VmContext } from '../../src/spec/types.js';
import { validateNotes, type ValidationResult } from '../../src/spec/validate.js';

const ctxArb: fc.Arbitrary<VmContext> = fc.record(
  {
    vmid: fc.integer({ min: 0, max: 999_999_999 }),
    smbiosUuid: fc.oneof(fc.uuid(), fc.string()),
    defaultSpeed: fc.constantFrom('full', 'high', 'super' as const),
  },
  { requiredKeys: ['vmid', 'defaultSpeed'] },
);

/** Every result must keep these promises, whatever went in. */
function checkInvariants(r: ValidationResult): void {
  if (r.kind === 'none') return;
  if (r.kind === 'invalid') {
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems.length).toBeLessThanOrEqual(MAX_PROBLEMS + 1);
    for (const p of r.problems) {
      expect(p.key.startsWith('usb-gadget')).toBe(true);
      expect(p.message.length).toBeGreaterThan(0);
      expect(p.message.length).toBeLessThan(2000);
      // nothing from the notes may forge a line break in a log
      expect(/[\r\n\u0000\u2028\u2029]/.test(p.key + p.message)).toBe(false);
    }
    return;
  }
  const { spec } = r;
  expect(spec.vendorId).toBeGreaterThan(0);
  expect(spec.vendorId).toBeLessThanOrEqual(0xffff);
  expect(spec.productId).toBeGreaterThan(0);
  expect(spec.productId).toBeLessThanOrEqual(0xffff);
  expect(spec.serial).toMatch(/^[A-Za-z0-9._-]{1,126}$/);
  expect(spec.luns[0]?.index).toBe(0);
  expect(spec.luns.length).toBeLessThanOrEqual(16);
  const indexes = spec.luns.map((l) => l.index);
  expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
  for (const lun of spec.luns) {
    expect(lun.inquiry).toMatch(/^[\x20-\x7e]{28}$/);
    expect(lun.image.startsWith('/')).toBe(true);
    if (lun.cdrom) expect(lun.readonly).toBe(true);
  }
}

const keyArb = fc.oneof(
  fc.constantFrom(...MAIN_KEYS),
  fc.constantFrom(...MAIN_KEYS).map((k) => k.toUpperCase()),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'vendorid', 'Image', 'hasOwnProperty', 'toString'),
  fc.string({ maxLength: 12 }),
);

const valueArb = fc.oneof(
  fc.constantFrom(
    '/var/lib/vz/usb-gadget/a.img', 'rel/x', '/a/../b', '/a//b', '0x0781', '0x10000', '0', 'ffff', 'true', 'no',
    'maybe', 'super', 'ultra', 'SanDisk Cruzer Fit      1.00', 'x'.repeat(29), '"quoted ; x"', '"open', 'a ; c',
    'ABC-123', 'with space', '✓ ünï', '\u0000', '\u202e', '\r', '',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const sectionArb = fc.oneof(
  fc.integer({ min: 0, max: 20 }).map((n) => `usb-gadget.lun${n}`),
  fc.constantFrom('usb-gadget', 'USB-Gadget.LUN1', '__proto__', 'usb-gadget.__proto__', 'constructor', 'usb-gadget.lun01'),
  fc.string({ maxLength: 15 }),
);

const lineArb = fc.oneof(
  fc.tuple(keyArb, valueArb, fc.constantFrom(' = ', '=', '\t=  ')).map(([k, v, eq]) => `${k}${eq}${v}`),
  sectionArb.map((s) => `[${s}]`),
  fc.constantFrom('', '; comment', '# comment', '```', 'no equals sign', '[broken', '   '),
);

const documentArb = fc
  .tuple(fc.string({ maxLength: 30 }), fc.array(lineArb, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'))
  .map(([before, lines, eol]) => [before, '[usb-gadget]', ...lines].join(eol));

describe('validateNotes on arbitrary input', () => {
  it('never throws and keeps its promises for arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 500 }), fc.string({ unit: 'binary', maxLength: 10_000 })),
        fc.boolean(),
        ctxArb,
        (text, withHeader, ctx) => {
          checkInvariants(validateNotes(withHeader ? `[usb-gadget]\n${text}` : text, ctx));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws and keeps its promises for ini-ish documents of known and unknown keys', () => {
    fc.assert(
      fc.property(documentArb, ctxArb, (notes, ctx) => {
        checkInvariants(validateNotes(notes, ctx));
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts every document built only from valid keys and values', () => {
    const validLine = fc.oneof(
      fc.constantFrom('vendor_id = 0x0781', 'product_id = 5571', 'serial = ABC', 'speed = full', 'cdrom = yes'),
      fc.constantFrom('removable = 0', 'inquiry = ACME', 'manufacturer = M ; c', 'product = "P #1"'),
    );
    fc.assert(
      fc.property(fc.uniqueArray(validLine, { selector: (l) => l.split('=')[0], maxLength: 9 }), ctxArb, (lines, ctx) => {
        const r = validateNotes(['[usb-gadget]', 'image = /i.img', ...lines].join('\n'), ctx);
        expect(r.kind).toBe('ok');
        checkInvariants(r);
      }),
      { numRuns: 200 },
    );
  });
});
