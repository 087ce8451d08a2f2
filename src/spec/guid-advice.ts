/**
 * What to tell a person about a stick's unRAID GUID (spec/guid.ts): which parts are not written in the
 * notes (so a restore or clone under another vmid, a new smbios1 uuid or a change of our defaults would
 * change it) with the lines that pin it, and a serial that makes a weak licence identity. Warnings only:
 * an existing stick keeps working and keeps its GUID (never break a running licence). Pure.
 */
import { GOOD_SERIAL, NEW_GUID_COST, serialProblems, unraidGuid } from './guid.js';
import type { GadgetSpec } from './types.js';

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** The `key = value` lines that pin the GUID parts the notes leave to defaults; [] when all three are written. */
export function unpinnedGuidLines(spec: GadgetSpec): string[] {
  const lines: string[] = [];
  if (spec.vendorIdSource !== 'notes') lines.push(`vendor_id = ${hex4(spec.vendorId)}`);
  if (spec.productIdSource !== 'notes') lines.push(`product_id = ${hex4(spec.productId)}`);
  if (spec.serialSource !== 'notes') lines.push(`serial = ${spec.serial}`);
  return lines;
}

function unpinnedWhy(spec: GadgetSpec, vmid: number): string[] {
  const why: string[] = [];
  if (spec.vendorIdSource !== 'notes') why.push('vendor_id is our default');
  if (spec.productIdSource !== 'notes') why.push(`product_id is 0x8000 + vmid ${vmid}`);
  if (spec.serialSource !== 'notes') {
    why.push(spec.serialBasis === 'vmid' ? `serial is derived from vmid ${vmid} (no smbios1 uuid)` : "serial is derived from the VM's smbios1 uuid");
  }
  return why;
}

/** Warnings about the GUID of this VM's stick (one per concern); [] when it is pinned and its serial is good. */
export function guidWarnings(spec: GadgetSpec, vmid: number): string[] {
  const guid = unraidGuid(spec);
  const out: string[] = [];
  const lines = unpinnedGuidLines(spec);
  if (lines.length > 0) {
    out.push(
      `unRAID GUID ${guid} is not pinned in the notes (${unpinnedWhy(spec, vmid).join(', ')}): a restore or clone under ` +
        `another vmid would show another GUID. Add to [usb-gadget] (or run pve-usb-gadget enable ${vmid} --image <image>, which writes them):` +
        lines.map((l) => `\n    ${l}`).join(''),
    );
  }
  if (spec.serialSource === 'notes') {
    const problems = serialProblems(spec.serial);
    if (problems.length > 0) {
      out.push(
        `serial ${spec.serial} ${problems.join('; ')}: a weak identity for the unRAID GUID ${guid}. It keeps working as it is; ` +
          `to change it, write a serial of ${GOOD_SERIAL} (pve-usb-gadget enable ${vmid} --image <image> --serial <new>), ` +
          `but that is ${NEW_GUID_COST}`,
      );
    }
  }
  return out;
}
