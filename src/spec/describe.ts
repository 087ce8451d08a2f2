/**
 * The human summary of a spec that `pve-usb-gadget validate` prints and pre-start logs. Strings from
 * the notes are shown quoted and escaped (they were validated, but a log line is no place for trust).
 */

import { shown } from '../notes/shown.js';
import { unraidGuid } from './guid.js';
import { unpinnedGuidLines } from './guid-advice.js';
import { usbId, type GadgetSpec, type LunSpec } from './types.js';

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

function serialOrigin(spec: GadgetSpec): string {
  switch (spec.serialBasis) {
    case 'smbios-uuid':
      return "derived from the VM's smbios1 uuid";
    case 'vmid':
      return 'derived from the vmid (the VM has no smbios1 uuid)';
    case 'notes':
      return 'from the notes';
    default:
      return spec.serialSource === 'notes' ? 'from the notes' : 'derived';
  }
}

function lunLine(lun: LunSpec): string {
  const kind = lun.cdrom ? 'cdrom, read-only' : lun.readonly ? 'disk, read-only' : 'disk, read-write';
  const removable = lun.removable ? 'removable' : 'fixed';
  return `lun${lun.index}: ${shown(lun.image, 4096)} (${kind}, ${removable}), inquiry ${shown(lun.inquiry)}`;
}

/** `unRAID GUID ... (pinned in the notes)` or which parts are not: the line a person checks before it matters. */
export function guidLine(spec: GadgetSpec): string {
  const unpinned = unpinnedGuidLines(spec).map((l) => l.split(' ')[0]);
  const how = unpinned.length === 0 ? 'vendor_id, product_id and serial pinned in the notes' : `not pinned: ${unpinned.join(', ')} not in the notes`;
  return `unRAID GUID ${unraidGuid(spec)} (${how})`;
}

export function describeSpec(spec: GadgetSpec): string[] {
  return [
    guidLine(spec),
    `USB id ${usbId(spec)} (vendor ${hex4(spec.vendorId)}, product ${hex4(spec.productId)}, ` +
      `bcdDevice ${hex4(spec.bcdDevice)}), speed ${spec.speed}`,
    `serial ${shown(spec.serial, 126)} (${serialOrigin(spec)})`,
    `manufacturer ${shown(spec.manufacturer, 126)}, product ${shown(spec.product, 126)}`,
    ...spec.luns.map(lunLine),
  ];
}
