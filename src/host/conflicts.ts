import type { HostFs } from '../ports/host-fs.js';
import { ConflictError } from '../errors.js';
import { CONFIGFS_GADGETS, vmidOfGadget } from '../plan/ops.js';
import { formatUsbId } from '../values/usb-id.js';
import type { HostUsbDevice } from './devices.js';
import type { ImageUse } from './image-uses.js';

const readId = (fs: HostFs, dir: string) => {
  const v = fs.readTextIfExists(`${dir}/idVendor`)?.trim();
  const p = fs.readTextIfExists(`${dir}/idProduct`)?.trim();
  if (!v || !p) return undefined;
  return formatUsbId(Number.parseInt(v, 16), Number.parseInt(p, 16));
};

const who = (gadget: string) => {
  const vmid = vmidOfGadget(gadget);
  return vmid === undefined ? `gadget ${gadget}` : `VM ${vmid}`;
};

/** A gadget in configfs and the USB id it shows (undefined while its ids are not written). */
export interface GadgetUsbId {
  gadget: string;
  usbId?: string;
}

/** The USB id of every gadget in configfs but `ownGadget`: what assertUsbIdFree compares with. */
export function gadgetUsbIds(fs: HostFs, ownGadget: string): GadgetUsbId[] {
  return fs
    .list(CONFIGFS_GADGETS)
    .filter((g) => g !== ownGadget)
    .map((gadget) => ({ gadget, usbId: readId(fs, `${CONFIGFS_GADGETS}/${gadget}`) }));
}

/**
 * Proxmox passes the stick through by VID:PID, so the id must be unique on the host: another gadget or
 * a real device with the same id would be grabbed instead. Pure: the caller read `gadgets` (its own
 * left out, gadgetUsbIds) and `devices` (hostUsbDevices).
 */
export function assertUsbIdFree(usbId: string, gadgets: readonly GadgetUsbId[], devices: readonly HostUsbDevice[]): void {
  for (const g of gadgets) {
    if (g.usbId === usbId) {
      throw new ConflictError(`USB id ${usbId} is already used by ${who(g.gadget)} on this host`, {
        key: 'usb-gadget.vendor_id',
        fix: 'give each VM its own vendor_id/product_id in its notes',
      });
    }
  }
  const real = devices.find((d) => d.usbId === usbId && !d.dir.includes('dummy_hcd'));
  if (real) {
    throw new ConflictError(`USB id ${usbId} belongs to a device plugged into this host (${real.name})`, {
      key: 'usb-gadget.vendor_id',
      path: real.dir,
      fix: 'the passthrough would grab that device instead: pick another product_id, or unplug it',
    });
  }
}

/** Images every other gadget on the host exports right now (read from configfs, the ground truth). */
export function exportedImages(fs: HostFs, ownGadget: string): ImageUse[] {
  const uses: ImageUse[] = [];
  for (const g of fs.list(CONFIGFS_GADGETS)) {
    if (g === ownGadget) continue;
    const fns = `${CONFIGFS_GADGETS}/${g}/functions`;
    for (const f of fs.list(fns)) {
      for (const lun of fs.list(`${fns}/${f}`).filter((e) => /^lun\.\d+$/.test(e))) {
        const image = fs.readTextIfExists(`${fns}/${f}/${lun}/file`)?.trim();
        if (!image) continue;
        const ro = fs.readTextIfExists(`${fns}/${f}/${lun}/ro`)?.trim() === '1';
        uses.push({ image, readonly: ro, by: who(g) });
      }
    }
  }
  return uses;
}
