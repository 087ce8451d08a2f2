/**
 * The SCSI INQUIRY identification the guest sees (`lun.N/inquiry_string`): 8 vendor + 16 product +
 * 4 revision characters. The kernel pads and truncates the same way; we resolve it here so the spec,
 * the `validate` output and what the guest sees agree exactly.
 */

import { INQUIRY_LENGTH } from './key-rules.js';

export const DEFAULT_REVISION = '1.00';

/** Printable ASCII only: anything else (e.g. "é" in a USB string) becomes "?". */
function toAscii(s: string): string {
  let out = '';
  for (const ch of s) out += ch >= ' ' && ch <= '~' ? ch : '?';
  return out;
}

function fit(s: string, width: number): string {
  return s.slice(0, width).padEnd(width, ' ');
}

/** The default inquiry from the USB manufacturer and product strings. */
export function defaultInquiry(manufacturer: string, product: string): string {
  return fit(toAscii(manufacturer), 8) + fit(toAscii(product), 16) + DEFAULT_REVISION;
}

/** A validated inquiry (printable ASCII, at most 28 characters) padded to exactly 28. */
export function padInquiry(inquiry: string): string {
  return fit(inquiry, INQUIRY_LENGTH);
}
