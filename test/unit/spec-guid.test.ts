import { describe, expect, it } from 'vitest';
import { serialProblems, unraidGuid, unraidGuidOfUsbId } from '../../src/spec/guid.js';

describe('unraidGuid: the examples of FACTS.md (Lime usb-creator / usb-creator-next)', () => {
  it('a 20-character serial keeps its last 16', () => {
    expect(unraidGuid({ vendorId: 0x0781, productId: 0x5571, serial: '4C530001230101111111' })).toBe('0781-5571-0001-230101111111');
  });

  it('a 16-character serial, lower-case hex VID upper-cased', () => {
    expect(unraidGuid({ vendorId: 0x31c0, productId: 0x1234, serial: '1234567890123456' })).toBe('31C0-1234-1234-567890123456');
  });

  it('a 5-character serial is right-justified with 0 and upper-cased', () => {
    expect(unraidGuid({ vendorId: 0x1d6b, productId: 0x8064, serial: 'abc12' })).toBe('1D6B-8064-0000-0000000ABC12');
  });

  it('pads VID and PID to 4 hex digits', () => {
    expect(unraidGuid({ vendorId: 0x1, productId: 0xab, serial: '0123456789ABCDEF' })).toBe('0001-00AB-0123-456789ABCDEF');
  });

  it('only the last 16 characters count, and case does not: these serials collide', () => {
    const a = unraidGuid({ vendorId: 0x0781, productId: 0x5571, serial: 'AAAA0001230101111111' });
    expect(unraidGuid({ vendorId: 0x0781, productId: 0x5571, serial: 'BBBB0001230101111111' })).toBe(a);
    expect(unraidGuid({ vendorId: 0x0781, productId: 0x5571, serial: '0001230101111111' })).toBe(a);
    expect(unraidGuid({ vendorId: 0x1d6b, productId: 0x8064, serial: 'abcdef0123456789' })).toBe(unraidGuid({ vendorId: 0x1d6b, productId: 0x8064, serial: 'ABCDEF0123456789' }));
  });

  it('from a vvvv:pppp usb id', () => {
    expect(unraidGuidOfUsbId('0781:5571', '4C530001230101111111')).toBe('0781-5571-0001-230101111111');
    expect(unraidGuidOfUsbId('781:5571', 'x')).toBeUndefined();
  });
});

describe('serialProblems', () => {
  it('accepts 16+ characters 0-9 A-Z a-z', () => {
    expect(serialProblems('A1B2C3D4E5F60718')).toEqual([]);
    expect(serialProblems('4C530001230101111111')).toEqual([]);
    expect(serialProblems('abcdefABCDEF0123')).toEqual([]);
  });

  it('names characters Lime does not read, a short serial and a one-character tail', () => {
    expect(serialProblems('A1B2-C3D4-E5F6-0718')).toEqual([expect.stringMatching(/other than 0-9 A-Z a-z/)]);
    expect(serialProblems('abc12')).toEqual([expect.stringMatching(/has 5 character\(s\).*only 5 of its 16/)]);
    expect(serialProblems('12340000000000000000')).toEqual([expect.stringMatching(/last 16 characters are all "0"/)]);
    expect(serialProblems('aaaaaaaaaaaaaaaA')).toHaveLength(1);
    expect(serialProblems('x.y')).toHaveLength(2);
  });
});
