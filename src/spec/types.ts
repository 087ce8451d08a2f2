/** The validated, fully resolved description of one VM's emulated stick. Pure data. */

import { formatUsbId } from '../values/usb-id.js';

export const SPEEDS = ['full', 'high', 'super'] as const;
export type Speed = (typeof SPEEDS)[number];

/** Maximum LUNs per mass-storage function (kernel FSG_MAX_LUNS). */
export const MAX_LUNS = 16;

export interface LunSpec {
  /** 0..15; lun 0 comes from the [usb-gadget] section, lun N from [usb-gadget.lunN] */
  index: number;
  /** absolute path of the backing image or block device, as written in the notes */
  image: string;
  /** true when cdrom is true or readonly = true */
  readonly: boolean;
  cdrom: boolean;
  removable: boolean;
  /** exactly 28 characters: 8 vendor + 16 product + 4 revision, space padded */
  inquiry: string;
}

export interface GadgetSpec {
  vendorId: number;
  productId: number;
  /** bcdDevice, fixed (not part of the unRAID GUID, which is VID, PID and serial: spec/guid.ts) */
  bcdDevice: number;
  serial: string;
  /** where the serial came from: the notes, or derived from the VM's smbios1 uuid / vmid */
  serialSource: 'notes' | 'derived';
  /** finer than serialSource (optional, added compatibly): what a derived serial was derived from */
  serialBasis?: 'notes' | 'smbios-uuid' | 'vmid';
  /**
   * whether vendor_id / product_id were written in the notes or are our defaults (the product id default
   * follows the vmid): with serialSource, what makes the unRAID GUID stable (spec/guid-advice.ts)
   */
  vendorIdSource?: 'notes' | 'default';
  productIdSource?: 'notes' | 'default';
  manufacturer: string;
  product: string;
  speed: Speed;
  /** sorted by index; luns[0].index === 0 always */
  luns: LunSpec[];
}

/** Facts about the VM that validation needs besides the notes. */
export interface VmContext {
  vmid: number;
  /** uuid from the VM's smbios1 option, if set */
  smbiosUuid?: string;
  /** default speed from the host settings */
  defaultSpeed: Speed;
}

/** "0781:5571" style id, lower-case hex, as used by usb_storage quirks and Proxmox mappings. */
export function usbId(spec: Pick<GadgetSpec, 'vendorId' | 'productId'>): string {
  return formatUsbId(spec.vendorId, spec.productId);
}
