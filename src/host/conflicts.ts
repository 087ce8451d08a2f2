import type { HostFs } from '../ports/host-fs.js';
import { ConflictError } from '../errors.js';
import { CONFIGFS_GADGETS, vmidOfGadget } from '../plan/ops.js';
import { formatUsbId } from '../values/usb-id.js';
import { hostUsbDevices } from './devices.js';
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

/**
 * Proxmox passes the stick through by VID:PID, so the id must be unique on the host: another gadget or
 * a real device with the same id would be grabbed instead. `ownGadget` is skipped.
 */
export function assertUsbIdFree(fs: HostFs, usbId: string, ownGadget: string): void {
  for (const g of fs.list(CONFIGFS_GADGETS)) {
    if (g === ownGadget) continue;
    if (readId(fs, `${CONFIGFS_GADGETS}/${g}`) === usbId) {
      throw new ConflictError(`USB id ${usbId} is already used by ${who(g)} on this host`, {
        key: 'usb-gadget.vendor_id',
        fix: 'give each VM its own vendor_id/product_id in its notes',
      });
    }
  }
  const real = hostUsbDevices(fs).find((d) => d.usbId === usbId && !d.dir.includes('dummy_hcd'));
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
