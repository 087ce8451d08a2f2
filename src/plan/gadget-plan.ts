import type { GadgetSpec, LunSpec, Speed } from '../spec/types.js';
import { gadgetDir, type Op } from './ops.js';

const LANG = '0x409';
const CONFIG = 'c.1';
const FUNCTION = 'mass_storage.0';

const MAX_SPEED: Record<Speed, string> = {
  full: 'full-speed',
  high: 'high-speed',
  super: 'super-speed',
};

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
const bool = (b: boolean) => (b ? '1' : '0');

/**
 * The configfs operations that build one VM's gadget, in the order the kernel accepts them
 * (Documentation/usb/gadget_configfs.rst and f_mass_storage.c; proven on a real kernel in test/e2e):
 * functions and their extra LUNs exist and `stall` is written before the function is
 * linked into a config; on each LUN `ro` and `cdrom` come before `file`. Binding to a UDC comes last
 * and apart (bindOp): the UDC is chosen under the host lock, and the bind is what makes the gadget live.
 */
export function planGadget(vmid: number, spec: GadgetSpec): Op[] {
  const g = gadgetDir(vmid);
  const fn = `${g}/functions/${FUNCTION}`;
  const ops: Op[] = [
    { kind: 'mkdir', path: g },
    { kind: 'write', path: `${g}/idVendor`, value: hex4(spec.vendorId) },
    { kind: 'write', path: `${g}/idProduct`, value: hex4(spec.productId) },
    { kind: 'write', path: `${g}/bcdDevice`, value: hex4(spec.bcdDevice) },
    // USB 2.0 descriptors work on every speed; the kernel raises bcdUSB for super speed itself.
    { kind: 'write', path: `${g}/bcdUSB`, value: '0x0200' },
    { kind: 'write', path: `${g}/max_speed`, value: MAX_SPEED[spec.speed] },
    { kind: 'mkdir', path: `${g}/strings/${LANG}` },
    { kind: 'write', path: `${g}/strings/${LANG}/manufacturer`, value: spec.manufacturer },
    { kind: 'write', path: `${g}/strings/${LANG}/product`, value: spec.product },
    { kind: 'write', path: `${g}/strings/${LANG}/serialnumber`, value: spec.serial },
    { kind: 'mkdir', path: fn },
    // stall=1 upsets some hosts on disconnect (see research notes); the host side never needs it.
    { kind: 'write', path: `${fn}/stall`, value: '0' },
  ];
  for (const lun of spec.luns) {
    ops.push(...planLun(fn, lun));
  }
  ops.push(
    { kind: 'mkdir', path: `${g}/configs/${CONFIG}` },
    { kind: 'write', path: `${g}/configs/${CONFIG}/MaxPower`, value: '100' },
    { kind: 'mkdir', path: `${g}/configs/${CONFIG}/strings/${LANG}` },
    { kind: 'write', path: `${g}/configs/${CONFIG}/strings/${LANG}/configuration`, value: 'Mass Storage' },
    { kind: 'symlink', target: fn, path: `${g}/configs/${CONFIG}/${FUNCTION}` },
  );
  return ops;
}

function planLun(fn: string, lun: LunSpec): Op[] {
  const dir = `${fn}/lun.${lun.index}`;
  // lun.0 is a default group of the function: it exists as soon as the function does.
  const ops: Op[] = lun.index === 0 ? [] : [{ kind: 'mkdir', path: dir }];
  ops.push(
    { kind: 'write', path: `${dir}/removable`, value: bool(lun.removable) },
    { kind: 'write', path: `${dir}/cdrom`, value: bool(lun.cdrom) },
    { kind: 'write', path: `${dir}/ro`, value: bool(lun.readonly) },
    { kind: 'write', path: `${dir}/inquiry_string`, value: lun.inquiry },
    { kind: 'write', path: `${dir}/file`, value: lun.image },
  );
  return ops;
}

export function udcFile(vmid: number): string {
  return `${gadgetDir(vmid)}/UDC`;
}

/** The write that binds the gadget to `udc`: after every other op, never before. */
export function bindOp(vmid: number, udc: string): Op {
  return { kind: 'write', path: udcFile(vmid), value: udc };
}
