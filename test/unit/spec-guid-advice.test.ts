import { describe, expect, it } from 'vitest';
import { guidWarnings, unpinnedGuidLines } from '../../src/spec/guid-advice.js';
import { validateNotes } from '../../src/spec/validate.js';

const UUID = '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a';
const specOf = (notes: string, vmid = 100, smbiosUuid: string | undefined = UUID) => {
  const r = validateNotes(notes, { vmid, smbiosUuid, defaultSpeed: 'super' });
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  return r.spec;
};

describe('guidWarnings', () => {
  it('says nothing when vendor_id, product_id and a good serial are in the notes', () => {
    const s = specOf('[usb-gadget]\nimage = /a\nvendor_id = 0x1d6b\nproduct_id = 0x8064\nserial = A1B2C3D4E5F60718');
    expect(guidWarnings(s, 100)).toEqual([]);
    expect(unpinnedGuidLines(s)).toEqual([]);
  });

  it('names each part left to a default and prints the lines that pin the GUID the VM shows now', () => {
    const s = specOf('[usb-gadget]\nimage = /a');
    expect(unpinnedGuidLines(s)).toEqual(['vendor_id = 0x1d6b', 'product_id = 0x8064', `serial = ${s.serial}`]);
    const [w, ...rest] = guidWarnings(s, 100);
    expect(rest).toEqual([]);
    expect(w).toContain(`unRAID GUID 1D6B-8064-${s.serial.slice(4, 8)}-${s.serial.slice(8)} is not pinned`);
    expect(w).toContain('product_id is 0x8000 + vmid 100');
    expect(w).toContain("serial is derived from the VM's smbios1 uuid");
    expect(w).toContain(`\n    vendor_id = 0x1d6b\n    product_id = 0x8064\n    serial = ${s.serial}`);
    // the lines, pasted into the notes, give the same GUID under any vmid (a restore as VM 200)
    const pinned = specOf(`[usb-gadget]\nimage = /a\n${unpinnedGuidLines(s).join('\n')}`, 200, undefined);
    expect([pinned.vendorId, pinned.productId, pinned.serial]).toEqual([s.vendorId, s.productId, s.serial]);
    expect(guidWarnings(pinned, 200)).toEqual([]);
  });

  it('only the product id missing: one line', () => {
    const s = specOf('[usb-gadget]\nimage = /a\nvendor_id = 0x0781\nserial = 4C530001230101111111');
    expect(unpinnedGuidLines(s)).toEqual(['product_id = 0x8064']);
  });

  it('warns about a weak serial in the notes, says it keeps working and what a change costs', () => {
    const s = specOf('[usb-gadget]\nimage = /a\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = my-stick');
    const [w, ...rest] = guidWarnings(s, 100);
    expect(rest).toEqual([]);
    expect(w).toMatch(/^serial my-stick has characters other than 0-9 A-Z a-z.*; has 8 character\(s\)/);
    expect(w).toContain('unRAID GUID 0781-5571-0000-0000MY-STICK');
    expect(w).toContain('keeps working');
    expect(w).toMatch(/licence must be transferred/);
  });
});
