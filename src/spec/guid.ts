/**
 * The unRAID licence GUID of a stick, computed exactly as Lime Technology's own tools do (usb-creator
 * deviceenumerator_*.cpp, usb-creator-next unraidguidvalidator.cpp; see shared FACTS.md "unRAID"):
 *
 *   padded = serial.rightJustified(16, '0').right(16)
 *   GUID   = (VID + "-" + PID + "-" + padded.left(4) + "-" + padded.mid(4)).toUpper()
 *
 * VID and PID are 4 hex digits. bcdDevice, manufacturer and product strings are NOT part of it, and only
 * the last 16 characters of the serial count. unRAID binds the licence (and a trial) to this string, so
 * a changed GUID is a licence transfer (at most once per 12 months; the old GUID is blacklisted).
 * Pure functions.
 */

/** Characters of the serial that count for the GUID. */
export const GUID_SERIAL_LENGTH = 16;

export interface UsbIdentity {
  vendorId: number;
  productId: number;
  serial: string;
}

const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** `VVVV-PPPP-SSSS-SSSSSSSSSSSS`, upper case. */
export function unraidGuid(id: UsbIdentity): string {
  // Qt's rightJustified(16, '0') pads on the left and never truncates; right(16) then keeps the last 16
  const padded = id.serial.padStart(GUID_SERIAL_LENGTH, '0').slice(-GUID_SERIAL_LENGTH);
  return `${hex4(id.vendorId)}-${hex4(id.productId)}-${padded.slice(0, 4)}-${padded.slice(4)}`.toUpperCase();
}

/** The GUID from a "vvvv:pppp" usb id (as state records and status keep it) and a serial. */
export function unraidGuidOfUsbId(usbId: string, serial: string): string | undefined {
  const m = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/.exec(usbId);
  if (!m?.[1] || !m[2]) return undefined;
  return unraidGuid({ vendorId: Number.parseInt(m[1], 16), productId: Number.parseInt(m[2], 16), serial });
}

const GUID_SAFE = /^[0-9A-Za-z]+$/;

/**
 * Why a serial makes a poor licence identity; [] when it is fine. The rule, for serials we write:
 * only [0-9A-Za-z] (usb-creator-next's Linux drive list ignores other serials), at least 16 characters
 * (a shorter one is padded with 0, so "ABC" and "0ABC" are one GUID and little of it is unique), and the
 * last 16 not all one character. A serial longer than 16 is fine: only its last 16 count.
 */
export function serialProblems(serial: string): string[] {
  const problems: string[] = [];
  if (!GUID_SAFE.test(serial)) problems.push('has characters other than 0-9 A-Z a-z, which Lime\'s USB creator does not read');
  if (serial.length < GUID_SERIAL_LENGTH) {
    problems.push(`has ${serial.length} character(s): the GUID pads it with 0 to ${GUID_SERIAL_LENGTH}, so only ${serial.length} of its 16 serial characters are unique to this stick`);
  }
  const last = serial.slice(-GUID_SERIAL_LENGTH);
  if (last.length > 1 && new Set(last.toUpperCase()).size === 1) problems.push(`its last ${last.length} characters are all "${last[0]}"`);
  return problems;
}

/** What a good serial looks like, for messages. */
export const GOOD_SERIAL = `at least ${GUID_SERIAL_LENGTH} characters 0-9 A-Z a-z whose last ${GUID_SERIAL_LENGTH} are not all one character, e.g. 16 random hex digits`;

/** What changing any of the three costs, for messages. */
export const NEW_GUID_COST = 'a new GUID for unRAID: its licence must be transferred (once per 12 months; the old GUID is then blacklisted), a trial does not move';
