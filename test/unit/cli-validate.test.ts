// `validate` (a VM's notes or a notes file): the resolved gadget with its unRAID GUID, and the GUID warnings.
import { describe, expect, it } from 'vitest';
import { validateVm } from '../../src/cli/validate.js';
import { parseSettings } from '../../src/settings/parse.js';

const settings = parseSettings('', 'test', 'pve');

describe('validateVm', () => {
  it('prints the GUID first; a pinned stick with a good serial gets no warning', () => {
    const r = validateVm({ description: '[usb-gadget]\nimage = /a\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111' }, 100, settings);
    expect(r.code).toBe(0);
    expect(r.lines[0]).toBe('unRAID GUID 0781-5571-0001-230101111111 (vendor_id, product_id and serial pinned in the notes)');
    expect(r.lines.filter((l) => l.startsWith('warning:'))).toEqual([]);
  });

  it('warns with the lines to add when parts are derived, and about a weak serial', () => {
    const r = validateVm({ description: '[usb-gadget]\nimage = /a\nserial = abc12' }, 100, settings);
    expect(r.code).toBe(0);
    const warnings = r.lines.filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('\n    vendor_id = 0x1d6b\n    product_id = 0x8064');
    expect(warnings[1]).toMatch(/^warning: serial abc12 has 5 character/);
  });
});
