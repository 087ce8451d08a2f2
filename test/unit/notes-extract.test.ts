import { describe, expect, it } from 'vitest';
import { extractGadgetConfig } from '../../src/notes/extract.js';

describe('extractGadgetConfig', () => {
  it('returns undefined when the notes have no [usb-gadget] line', () => {
    expect(extractGadgetConfig('')).toBeUndefined();
    expect(extractGadgetConfig('just a VM\n[other]\nimage = /x')).toBeUndefined();
  });

  it('ignores [usb-gadget] that is not alone on its line', () => {
    expect(extractGadgetConfig('see [usb-gadget] below\nimage = /x')).toBeUndefined();
    expect(extractGadgetConfig('[usb-gadget] and more\nimage = /x')).toBeUndefined();
    expect(extractGadgetConfig('[usb-gadget.lun1]\nimage = /x')).toBeUndefined();
  });

  it('starts at the header after free text and runs to the end of the notes', () => {
    const r = extractGadgetConfig('# My VM\n\nSome *markdown*.\n[usb-gadget]\nimage = /a\n\n[usb-gadget.lun1]\nimage = /b');
    expect(r).toEqual({ text: '[usb-gadget]\nimage = /a\n\n[usb-gadget.lun1]\nimage = /b', firstLine: 4 });
  });

  it('stops at the line that closes a code fence', () => {
    const r = extractGadgetConfig('Text\n```\n[usb-gadget]\nimage = /a\n```\n[usb-gadget.lun1]\nimage = /b\n');
    expect(r).toEqual({ text: '[usb-gadget]\nimage = /a', firstLine: 3 });
  });

  it('accepts an info string fence, indentation, blanks around the header and CRLF line ends', () => {
    const r = extractGadgetConfig('```ini\r\n  [ usb-gadget ]  ; my stick\r\nimage = /a\r\n   ```\r\nafter');
    expect(r).toEqual({ text: '  [ usb-gadget ]  ; my stick\nimage = /a', firstLine: 2 });
  });

  it('matches the header case-insensitively and takes the first one', () => {
    const r = extractGadgetConfig('[USB-Gadget]\nimage = /a\n[usb-gadget]\nimage = /b');
    expect(r?.firstLine).toBe(1);
    expect(r?.text).toContain('image = /b');
  });
});
