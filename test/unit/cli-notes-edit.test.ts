// Editing the [usb-gadget] part of VM notes: everything else the admin wrote stays byte for byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIniValue,
  hasGadgetSection,
  readMainKeys,
  removeGadgetSection,
  setGadgetKeys,
} from '../../src/cli/notes-edit.js';
import { validateNotes } from '../../src/spec/validate.js';

const keys = (o: Record<string, string>) => new Map(Object.entries(o));

describe('setGadgetKeys', () => {
  it('appends a fenced block after the free text, one blank line between', () => {
    const notes = 'My unRAID VM.\n\nSee the wiki.\n';
    expect(setGadgetKeys(notes, keys({ image: '/var/lib/vz/usb-gadget/u.img', serial: 'ABC' }))).toBe(
      'My unRAID VM.\n\nSee the wiki.\n\n```\n[usb-gadget]\nimage = /var/lib/vz/usb-gadget/u.img\nserial = ABC\n```',
    );
  });

  it('writes only the block into empty notes', () => {
    expect(setGadgetKeys('  \n', keys({ image: '/i.img' }))).toBe('```\n[usb-gadget]\nimage = /i.img\n```');
  });

  it('replaces keys in place and keeps comments, other sections and the text after the fence', () => {
    const notes = [
      'Intro',
      '```',
      '[usb-gadget]',
      '; the stick',
      'IMAGE = /old.img ; old one',
      'vendor_id = 0x0781',
      '',
      '[usb-gadget.lun1]',
      'image = /iso.iso',
      'cdrom = true',
      '```',
      'Outro [usb-gadget] text',
    ].join('\n');
    const out = setGadgetKeys(notes, keys({ image: '/new.img', product_id: '0x5571' }));
    expect(out).toBe(
      [
        'Intro',
        '```',
        '[usb-gadget]',
        '; the stick',
        'image = /new.img',
        'vendor_id = 0x0781',
        'product_id = 0x5571',
        '',
        '[usb-gadget.lun1]',
        'image = /iso.iso',
        'cdrom = true',
        '```',
        'Outro [usb-gadget] text',
      ].join('\n'),
    );
  });

  it('keeps the CR of CRLF lines it does not touch and writes CRLF where it inserts', () => {
    const notes = 'Text\r\n[usb-gadget]\r\nimage = /a.img\r\n';
    expect(setGadgetKeys(notes, keys({ serial: 'S1' }))).toBe('Text\r\n[usb-gadget]\r\nimage = /a.img\r\nserial = S1\r\n');
    expect(setGadgetKeys(notes, keys({ image: '/b.img' }))).toBe('Text\r\n[usb-gadget]\r\nimage = /b.img\r\n');
  });

  it('quotes what the parser would otherwise cut or trim, and the parser reads it back', () => {
    const out = setGadgetKeys('', keys({ image: '/a.img', inquiry: 'SanDisk Cruzer Fit      1.26', product: 'Stick ;1', manufacturer: ' Me ' }));
    expect(out).toContain('inquiry = SanDisk Cruzer Fit      1.26\n');
    expect(out).toContain('product = "Stick ;1"\n');
    const read = readMainKeys(out);
    expect(read.get('product')).toBe('Stick ;1');
    expect(read.get('manufacturer')).toBe(' Me ');
    expect(read.get('inquiry')).toBe('SanDisk Cruzer Fit      1.26');
  });
});

describe('formatIniValue', () => {
  it('leaves plain values alone and quotes the rest', () => {
    expect(formatIniValue('/var/lib/vz/usb-gadget/a#b.img')).toBe('/var/lib/vz/usb-gadget/a#b.img');
    expect(formatIniValue('a #b')).toBe('"a #b"');
    expect(formatIniValue(';x')).toBe('";x"');
    expect(formatIniValue('trailing ')).toBe('"trailing "');
  });
  it('refuses what the format cannot hold', () => {
    expect(() => formatIniValue('a\nb')).toThrow(/line break/);
    expect(() => formatIniValue(' "x" ')).toThrow(/double quote/);
  });
});

describe('removeGadgetSection', () => {
  it('removes a fenced block in the middle and joins the text around it with one blank line', () => {
    const notes = 'Before\n\n```\n[usb-gadget]\nimage = /a.img\n```\n\nAfter\n';
    expect(removeGadgetSection(notes)).toBe('Before\n\nAfter\n');
  });
  it('removes an unfenced block that runs to the end', () => {
    expect(removeGadgetSection('Hello\n[usb-gadget]\nimage = /a.img\n[usb-gadget.lun1]\nimage = /b.img')).toBe('Hello');
  });
  it('keeps a code block of the admin that follows an unfenced section', () => {
    expect(removeGadgetSection('[usb-gadget]\nimage = /a.img\n```\ncode\n```')).toBe('```\ncode\n```');
  });
  it('returns notes without a section unchanged, "[usb-gadget]" inside a sentence included', () => {
    const notes = 'see [usb-gadget] below\n  \n';
    expect(hasGadgetSection(notes)).toBe(false);
    expect(removeGadgetSection(notes)).toBe(notes);
  });
});

describe('round trips', () => {
  // free text that does not configure a stick: any lines, no [usb-gadget] header among them
  const freeText = fc
    .array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('```', '[other]', '  ', '\r', 'a = b', '[usb-gadget.lun1]')), { maxLength: 12 })
    .map((ls) => ls.join('\n'))
    .filter((s) => !hasGadgetSection(s));

  it('enable then disable gives back the notes (trailing blanks aside, which Proxmox trims anyway)', () => {
    fc.assert(
      fc.property(freeText, (notes) => {
        const enabled = setGadgetKeys(notes, keys({ image: '/var/lib/vz/usb-gadget/x.img', serial: 'ABCDEF0123456789' }));
        expect(validateNotes(enabled, { vmid: 100, defaultSpeed: 'high' }).kind).toBe('ok');
        expect(removeGadgetSection(enabled)).toBe(notes.replace(/\s+$/, ''));
      }),
    );
  });

  it('any single-line value without a double quote reads back as written', () => {
    const value = fc.string({ maxLength: 40 }).filter((v) => !/[\r\n"]/.test(v) && v !== '');
    fc.assert(
      fc.property(value, (v) => {
        expect(readMainKeys(setGadgetKeys('x', keys({ product: v }))).get('product')).toBe(v);
      }),
    );
  });
});
