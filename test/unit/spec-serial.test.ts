import { describe, expect, it } from 'vitest';
import { deriveSerial, normalizeUuid } from '../../src/spec/serial.js';

const UUID = '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a';

describe('deriveSerial', () => {
  it('gives 20 upper-case hex characters from the smbios1 uuid', () => {
    const d = deriveSerial({ vmid: 100, smbiosUuid: UUID });
    expect(d.serial).toMatch(/^[0-9A-F]{20}$/);
    expect(d.basis).toBe('smbios-uuid');
    expect(d.warning).toBeUndefined();
  });

  it('is stable: same uuid, same serial, whatever the vmid or the case of the uuid', () => {
    const a = deriveSerial({ vmid: 100, smbiosUuid: UUID });
    expect(deriveSerial({ vmid: 100, smbiosUuid: UUID })).toEqual(a);
    expect(deriveSerial({ vmid: 205, smbiosUuid: ` ${UUID.toUpperCase()} ` }).serial).toBe(a.serial);
  });

  // computed independently: printf %s 'pve-usb-gadget/serial/v1/smbios1-uuid/<uuid>' | sha256sum, first 20, upper-case
  it('pins the derivation: these values must never change (unRAID licences depend on them)', () => {
    expect(deriveSerial({ vmid: 100, smbiosUuid: UUID }).serial).toBe('38CA3A679963989C4413');
    expect(deriveSerial({ vmid: 100 }).serial).toBe('0BFA5727F2745FFD7E41');
  });

  it('differs for a different uuid', () => {
    const other = deriveSerial({ vmid: 100, smbiosUuid: '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4b' });
    expect(other.serial).not.toBe(deriveSerial({ vmid: 100, smbiosUuid: UUID }).serial);
  });

  it('falls back to the vmid with a warning that shows the serial to pin', () => {
    const d = deriveSerial({ vmid: 100 });
    expect(d.basis).toBe('vmid');
    expect(d.serial).toMatch(/^[0-9A-F]{20}$/);
    expect(d.warning).toContain('vmid 100');
    expect(d.warning).toContain(`serial = ${d.serial}`);
    expect(deriveSerial({ vmid: 101 }).serial).not.toBe(d.serial);
    const bad = deriveSerial({ vmid: 100, smbiosUuid: 'not-a-uuid' });
    expect(bad.serial).toBe(d.serial);
    expect(bad.warning).toContain('not a uuid');
  });

  it('normalizes uuids', () => {
    expect(normalizeUuid(UUID.toUpperCase())).toBe(UUID);
    expect(normalizeUuid('')).toBeUndefined();
    expect(normalizeUuid(undefined)).toBeUndefined();
  });
});
