/**
 * The one rule for USB vendor and product ids, and the one spelling of a VID:PID ("0781:5571", lower-case
 * hex: what usb_storage quirks, Proxmox mappings and `-device usb-host,vendorid=` compare). Notes and the
 * CLI give each number as 16-bit hex; the kernel's sysfs gives it as 4 hex digits; both end up here.
 */
import { fail, ok, type Parsed } from './parsed.js';

const HEX16 = /^(?:0[xX])?[0-9A-Fa-f]{1,4}$/;

/** A vendor or product id as written (`0x0781`, `781`): 1..0xffff. */
export function parseUsbIdNumber(raw: string, example = '0x0781'): Parsed<number> {
  if (!HEX16.test(raw)) return fail(`must be a 16-bit hex number 0x0001..0xffff ("0x" optional), e.g. ${example}`);
  const n = Number.parseInt(raw.toLowerCase().startsWith('0x') ? raw.slice(2) : raw, 16);
  return n === 0 ? fail('0x0000 is not allowed: QEMU would match any USB device with it') : ok(n);
}

/** 0x781, 0x5571 → "0781:5571" */
export function formatUsbId(vendorId: number, productId: number): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `${hex(vendorId)}:${hex(productId)}`;
}

/** "1D6B:0104" / "0x1d6b:0x0104" → "1d6b:0104"; undefined for anything else. */
export function normalizeUsbId(raw: string): string | undefined {
  const m = /^(?:0x)?([0-9a-fA-F]{4}):(?:0x)?([0-9a-fA-F]{4})$/.exec(raw.trim());
  return m?.[1] === undefined || m[2] === undefined ? undefined : `${m[1]}:${m[2]}`.toLowerCase();
}
