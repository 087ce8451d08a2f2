// Which usbN line enable uses, and the boot order with and without the stick.
import { describe, expect, it } from 'vitest';
import { bootDevices, bootOrderWithFirst, bootOrderWithout, chooseUsbSlot, legacyBootDevices } from '../../src/cli/usb-slot.js';

const modern = { ostype: 'l26', machine: 'q35' };
const legacy = { ostype: 'other' };
const taken = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`usb${i}`, `host=1234:${String(i).padStart(4, '0')}`]));

describe('chooseUsbSlot', () => {
  it('reuses the line that already names the mapping', () => {
    expect(chooseUsbSlot({ ...modern, usb0: 'host=1234:5678', usb3: 'mapping=usb-gadget-100,usb3=1' }, 'usb-gadget-100')).toEqual({ kind: 'existing', key: 'usb3' });
  });
  it('does not mistake another VM\'s mapping with a common prefix for ours', () => {
    expect(chooseUsbSlot({ ...modern, usb0: 'mapping=usb-gadget-1000' }, 'usb-gadget-100')).toEqual({ kind: 'free', key: 'usb1' });
  });
  it('takes the first gap', () => {
    expect(chooseUsbSlot({ ...modern, usb0: 'host=1-1', usb2: 'spice' }, 'usb-gadget-100')).toEqual({ kind: 'free', key: 'usb1' });
  });
  it('has 14 slots for modern guests', () => {
    expect(chooseUsbSlot({ ...modern, ...taken(13) }, 'm-1')).toEqual({ kind: 'free', key: 'usb13' });
    expect(chooseUsbSlot({ ...modern, ...taken(14) }, 'm-1')).toEqual({ kind: 'full', max: 14, modern: true });
  });
  it('has 5 slots without qemu-xhci (old machine type or ostype)', () => {
    expect(chooseUsbSlot({ ...legacy, ...taken(5) }, 'm-1')).toEqual({ kind: 'full', max: 5, modern: false });
    expect(chooseUsbSlot({ ostype: 'l26', machine: 'pc-i440fx-6.2', ...taken(5) }, 'm-1')).toEqual({ kind: 'full', max: 5, modern: false });
    expect(chooseUsbSlot({ ostype: 'win7', ...taken(4) }, 'm-1')).toEqual({ kind: 'free', key: 'usb4' });
  });
});

describe('boot order', () => {
  const vm = { scsi0: 'local-lvm:vm-100-disk-0,size=8G', ide2: 'none,media=cdrom', net0: 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0', usb0: 'mapping=usb-gadget-100' };

  it('puts the device first in an order= list, once', () => {
    expect(bootOrderWithFirst({ ...vm, boot: 'order=scsi0;ide2;usb0;net0' }, 'usb0')).toBe('order=usb0;scsi0;ide2;net0');
    expect(bootOrderWithFirst({ ...vm, boot: 'order=usb0;scsi0' }, 'usb0')).toBeUndefined();
  });

  it('turns the legacy default (boot disk, cdroms, NICs) into an order= list', () => {
    expect(legacyBootDevices({ ...vm, bootdisk: 'scsi0' })).toEqual(['scsi0', 'ide2', 'net0']);
    expect(bootOrderWithFirst({ ...vm, boot: 'dc' }, 'usb0')).toBe('order=usb0;ide2;scsi0');
    // no bootdisk: keep the first disk bootable
    expect(bootOrderWithFirst(vm, 'usb0')).toBe('order=usb0;scsi0;ide2;net0');
  });

  it('reads order= lists and legacy fields alike', () => {
    expect(bootDevices({ boot: 'order=scsi0;net0' })).toEqual(['scsi0', 'net0']);
    expect(bootDevices({ ...vm, boot: 'legacy=n' })).toEqual(['net0']);
  });

  it('removes the device again; an empty list means back to the default', () => {
    expect(bootOrderWithout({ boot: 'order=usb0;scsi0;net0' }, ['usb0'])).toEqual({ set: 'order=scsi0;net0' });
    expect(bootOrderWithout({ boot: 'order=usb0' }, ['usb0'])).toEqual({ delete: true });
    expect(bootOrderWithout({ boot: 'order=scsi0' }, ['usb0'])).toBeUndefined();
    expect(bootOrderWithout({ boot: 'cdn' }, ['usb0'])).toBeUndefined();
  });
});
