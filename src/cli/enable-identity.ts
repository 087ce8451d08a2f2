/**
 * The three notes keys that make a stick's unRAID GUID (vendor_id, product_id, serial: spec/guid.ts), as
 * `enable` writes them. Every run pins all three, so the GUID no longer depends on the vmid, the smbios1
 * uuid or our defaults: a value the notes have stays; a missing one gets the value the VM shows today
 * (the defaults, or the serial derived for a section written by hand); a new stick gets a random serial.
 * `--new-identity` replaces all three (a clone's fresh licence identity). A serial that enable generates
 * or takes from --serial must pass the serial rule; one the notes already have only warns (guid-advice).
 * Pure, with the random source passed in.
 */
import { randomBytes } from 'node:crypto';
import { GadgetError } from '../errors.js';
import { GOOD_SERIAL, serialProblems } from '../spec/guid.js';
import { deriveSerial } from '../spec/serial.js';
import { DEFAULT_VENDOR_ID, PRODUCT_ID_BASE } from '../spec/validate.js';
import { hasGadgetSection, readMainKeys } from './notes-edit.js';

export interface IdentityOptions {
  vendorId?: string;
  productId?: string;
  serial?: string;
  /** replace vendor_id, product_id and serial even when the notes have them */
  newIdentity?: boolean;
}

/** 16 upper-case hex digits from 8 random bytes. */
export const randomSerial = (): string => randomBytes(8).toString('hex').toUpperCase();

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** A random serial that passes the rule (a degenerate draw, 16^-15, is drawn again). */
function goodRandomSerial(random: () => string): string {
  for (let i = 0; i < 8; i++) {
    const s = random();
    if (serialProblems(s).length === 0) return s;
  }
  throw new GadgetError('could not generate a serial that passes the serial rule', { key: 'usb-gadget.serial', fix: `give one with --serial (${GOOD_SERIAL})` });
}

function assertGoodNewSerial(serial: string): void {
  const problems = serialProblems(serial);
  if (problems.length === 0) return;
  throw new GadgetError(`--serial ${JSON.stringify(serial)} ${problems.join('; ')}: refused for a new licence identity`, {
    key: 'usb-gadget.serial',
    fix: `give a serial of ${GOOD_SERIAL}, or leave out --serial for a random one`,
  });
}

/** The vendor_id, product_id and serial lines to write (raw strings); keys the notes already have with that value are left out. */
export function identityKeys(notes: string, vmid: number, uuid: string | undefined, o: IdentityOptions, random: () => string = randomSerial): Map<string, string> {
  const existing = o.newIdentity ? new Map<string, string>() : readMainKeys(notes);
  const keys = new Map<string, string>();
  keys.set('vendor_id', o.vendorId ?? existing.get('vendor_id') ?? hex4(DEFAULT_VENDOR_ID));
  keys.set('product_id', o.productId ?? existing.get('product_id') ?? hex4(PRODUCT_ID_BASE + (vmid % PRODUCT_ID_BASE)));
  if (o.serial !== undefined) {
    // the serial the notes have already is not new: it keeps working (guid-advice warns)
    if (o.serial !== existing.get('serial')) assertGoodNewSerial(o.serial);
    keys.set('serial', o.serial);
  } else {
    const kept = existing.get('serial');
    // a section written by hand without a serial shows the derived one today: unRAID knows that GUID
    const shown = kept ?? (!o.newIdentity && hasGadgetSection(notes) ? deriveSerial({ vmid, smbiosUuid: uuid }).serial : undefined);
    keys.set('serial', shown ?? goodRandomSerial(random));
  }
  // a line that already says this stays as written (its comment, its spelling)
  const written = readMainKeys(notes);
  for (const [k, v] of keys) if (written.get(k) === v) keys.delete(k);
  return keys;
}
