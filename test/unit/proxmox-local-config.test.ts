// Reading /etc/pve/qemu-server/<vmid>.conf like qemu-server's parse_vm_config, for when the API is down.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeText,
  encodeText,
  freeUsbSlot,
  isModernUsbGuest,
  parseLocalVmConfig,
  usbLinesForMapping,
} from '../../src/proxmox/local-config.js';

const CONF = [
  '#Boots unRAID%3A see below',
  '#',
  '#[usb-gadget]',
  '#image = /var/lib/vz/images/100/unraid.img',
  '#label = Gr%C3%BC%C3%9Fe 100%25',
  'boot: order=scsi0',
  'cores: 2',
  'machine: pc-q35-8.1',
  'name: unraid',
  'ostype: l26',
  'smbios1: uuid=5c1e0a5e-8d7b-4a43-9a3f-2f7c4e6b9d10',
  'usb0: host=0781:5571',
  'usb1:   mapping=usb-gadget-100  ',
  'hookscript: local:snippets/pve-usb-gadget',
  '',
  '[PENDING]',
  '#pending notes',
  'usb2: mapping=usb-gadget-100',
  '',
  '[before-upgrade]',
  '#snapshot notes [usb-gadget]',
  'name: old',
  'snaptime: 1700000000',
  '',
].join('\n');

describe('parseLocalVmConfig', () => {
  it('reads main-section options only, values trimmed', () => {
    const { options } = parseLocalVmConfig(CONF);
    expect(options).toEqual({
      boot: 'order=scsi0',
      cores: '2',
      machine: 'pc-q35-8.1',
      name: 'unraid',
      ostype: 'l26',
      smbios1: 'uuid=5c1e0a5e-8d7b-4a43-9a3f-2f7c4e6b9d10',
      usb0: 'host=0781:5571',
      usb1: 'mapping=usb-gadget-100',
      hookscript: 'local:snippets/pve-usb-gadget',
    });
  });

  it('decodes the # lines before the first section into the description', () => {
    expect(parseLocalVmConfig(CONF).description).toBe(
      'Boots unRAID: see below\n\n[usb-gadget]\nimage = /var/lib/vz/images/100/unraid.img\nlabel = Grüße 100%',
    );
  });

  it('ignores pending and snapshot sections, even when they carry their own notes', () => {
    const text = '[snap1]\n#[usb-gadget]\n#image=/evil\nname: s\n';
    expect(parseLocalVmConfig(text)).toEqual({ options: {} });
    expect(parseLocalVmConfig(CONF).options).not.toHaveProperty('usb2');
  });

  it('also counts # lines after options (as qemu-server does) and trims trailing whitespace', () => {
    expect(parseLocalVmConfig('name: a\n#late note\n#   \n').description).toBe('late note');
  });

  it('skips lines qemu-server cannot parse instead of failing', () => {
    expect(parseLocalVmConfig('garbage line\nNAME: x\ncores: 1\n[unterminated\n').options).toEqual({ cores: '1' });
  });

  it('handles input without a trailing newline, and an empty file', () => {
    expect(parseLocalVmConfig('')).toEqual({ options: {} });
    expect(parseLocalVmConfig('#only notes')).toEqual({ options: {}, description: 'only notes' });
  });
});

describe('encode_text / decode_text', () => {
  it('decodes only %XX escapes, leaves stray % and + alone, replaces invalid UTF-8', () => {
    expect(decodeText('50%25 a+b %zz %')).toBe('50% a+b %zz %');
    expect(decodeText('%FF')).toBe('\uFFFD');
    expect(decodeText('caf%C3%A9 caf\u00e9')).toBe('café café');
  });

  it('encodes control characters, non-ASCII, ":" and "%" like PVE', () => {
    expect(encodeText('a:b 100% ü\t')).toBe('a%3Ab 100%25 %C3%BC%09');
  });

  it('round-trips any single line', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\n')), (line) => {
        expect(decodeText(encodeText(line))).toBe(line);
      }),
    );
  });
});

describe('usb slots', () => {
  it('finds the usbN lines that use a mapping', () => {
    const config = { usb0: 'host=0781:5571', usb3: 'mapping=usb-gadget-100,usb3=1', usb11: 'mapping=usb-gadget-100', usb2: 'mapping=usb-gadget-1000' };
    expect(usbLinesForMapping(config, 'usb-gadget-100')).toEqual(['usb3', 'usb11']);
    expect(usbLinesForMapping(config, 'usb-gadget-7')).toEqual([]);
  });

  it('picks the first free slot within the guest’s limit', () => {
    const taken = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`usb${i}`, 'spice']));
    expect(freeUsbSlot({ usb0: 'spice', usb2: 'spice' }, false)).toBe('usb1');
    expect(freeUsbSlot(taken, false)).toBeUndefined();
    expect(freeUsbSlot(taken, true)).toBe('usb5');
    const all = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`usb${i}`, 'spice']));
    expect(freeUsbSlot(all, true)).toBeUndefined();
  });

  it('knows which guests get qemu-xhci (machine >= 7.1, ostype l26 or Windows > 7)', () => {
    expect(isModernUsbGuest({ ostype: 'l26' })).toBe(true);
    expect(isModernUsbGuest({ ostype: 'l26' }, 7)).toBe(false);
    expect(isModernUsbGuest({ ostype: 'win11', machine: 'pc-i440fx-8.1' })).toBe(true);
    expect(isModernUsbGuest({ ostype: 'l26', machine: 'type=pc-q35-7.1,viommu=intel' })).toBe(true);
    expect(isModernUsbGuest({ ostype: 'l26', machine: 'pc-q35-7.0' })).toBe(false);
    expect(isModernUsbGuest({ ostype: 'win7' })).toBe(false);
    expect(isModernUsbGuest({ ostype: 'other' })).toBe(false);
    expect(isModernUsbGuest({})).toBe(false);
  });
});
