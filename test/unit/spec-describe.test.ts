import { describe, expect, it } from 'vitest';
import { describeSpec } from '../../src/spec/describe.js';
import { validateNotes } from '../../src/spec/validate.js';

describe('describeSpec', () => {
  it('prints ids, serial and its source, strings, speed and each LUN', () => {
    const r = validateNotes(
      '[usb-gadget]\nimage = /v/a.img\nvendor_id = 0781\nproduct_id = 5571\nproduct = Cruzer\n' +
        '[usb-gadget.lun1]\nimage = /v/t.iso\ncdrom = true\nremovable = false\n[usb-gadget.lun2]\nimage = /v/r\nreadonly = yes',
      { vmid: 100, smbiosUuid: '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a', defaultSpeed: 'super' },
    );
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    expect(describeSpec(r.spec)).toEqual([
      `unRAID GUID 0781-5571-${r.spec.serial.slice(-16, -12)}-${r.spec.serial.slice(-12)} (not pinned: serial not in the notes)`,
      'USB id 0781:5571 (vendor 0x0781, product 0x5571, bcdDevice 0x0100), speed super',
      `serial "${r.spec.serial}" (derived from the VM's smbios1 uuid)`,
      'manufacturer "pve-usb-gadget", product "Cruzer"',
      'lun0: "/v/a.img" (disk, read-write, removable), inquiry "pve-usb-Cruzer          1.00"',
      'lun1: "/v/t.iso" (cdrom, read-only, fixed), inquiry "pve-usb-Cruzer          1.00"',
      'lun2: "/v/r" (disk, read-only, removable), inquiry "pve-usb-Cruzer          1.00"',
    ]);
  });

  it('says where a serial came from', () => {
    const fromNotes = validateNotes('[usb-gadget]\nimage = /a\nserial = ABC', { vmid: 1, defaultSpeed: 'high' });
    const fromVmid = validateNotes('[usb-gadget]\nimage = /a', { vmid: 1, defaultSpeed: 'high' });
    if (fromNotes.kind !== 'ok' || fromVmid.kind !== 'ok') throw new Error('expected ok');
    expect(describeSpec(fromNotes.spec)[2]).toBe('serial "ABC" (from the notes)');
    expect(describeSpec(fromVmid.spec)[2]).toContain('derived from the vmid');
  });

  it('shows the unRAID GUID first, pinned or not', () => {
    const pinned = validateNotes('[usb-gadget]\nimage = /a\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111', { vmid: 1, defaultSpeed: 'high' });
    const bare = validateNotes('[usb-gadget]\nimage = /a\nserial = abc12', { vmid: 100, defaultSpeed: 'high' });
    if (pinned.kind !== 'ok' || bare.kind !== 'ok') throw new Error('expected ok');
    expect(describeSpec(pinned.spec)[0]).toBe('unRAID GUID 0781-5571-0001-230101111111 (vendor_id, product_id and serial pinned in the notes)');
    expect(describeSpec(bare.spec)[0]).toBe('unRAID GUID 1D6B-8064-0000-0000000ABC12 (not pinned: vendor_id, product_id not in the notes)');
  });
});
