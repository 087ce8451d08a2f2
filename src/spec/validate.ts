/**
 * VM notes → validated, fully resolved GadgetSpec (or every problem found).
 *
 * Decisions (see also notes/ini-lines.ts for the line syntax):
 * - Key and section names are case-insensitive (`Vendor_ID` = `vendor_id`): they are matched
 *   lower-cased, so `image` and `IMAGE` in one section are a duplicate. Values keep their case, except
 *   booleans, speed and hex ids, which are case-insensitive.
 * - Problems are collected, never thrown: every problem names its key (`usb-gadget.vendor_id`,
 *   `usb-gadget.lun1.image`) and the line, says what is allowed and what was given (escaped, cut).
 * - Unknown keys never become object properties (we only assign known keys), so `__proto__` or
 *   `constructor` keys or sections are just reported.
 * - Notes longer than 8192 characters (the Proxmox limit) are an error; beyond 64 KiB we stop there
 *   without parsing.
 * - `cdrom = true` with an explicit `readonly = false` is a contradiction, hence an error.
 * - LUN sections may leave gaps (lun1, lun3): the kernel answers "no such LUN" for the gap; we warn.
 */

import { NotesError, type NotesProblem } from '../errors.js';
import { extractGadgetConfig, GADGET_SECTION } from '../notes/extract.js';
import { parseStrictIni, type IniSection } from '../notes/ini-lines.js';
import { escapeText, shown } from '../notes/shown.js';
import { closestName } from './closest.js';
import { defaultInquiry, padInquiry } from './inquiry.js';
import {
  isGadgetKey,
  LUN_KEYS,
  MAIN_KEYS,
  parseKeyValue,
  type GadgetKey,
  type KeyValues,
} from './key-rules.js';
import { ProblemCollector } from './problems.js';
import { classifySections } from './sections.js';
import { deriveSerial } from './serial.js';
import type { GadgetSpec, LunSpec, VmContext } from './types.js';

export const MAX_NOTES_LENGTH = 8192;
const PARSE_LIMIT = 65536;

// Linux Foundation's vendor id, as used by the kernel's own gadget drivers. The product id default is
// 0x8000 + (vmid % 0x8000), so VMs whose notes set no ids still differ (until vmids 32768 apart). Both
// are part of the unRAID GUID (spec/guid.ts): a default follows the vmid, which is why `enable` writes
// vendor_id, product_id and serial into the notes.
export const DEFAULT_VENDOR_ID = 0x1d6b;
export const PRODUCT_ID_BASE = 0x8000;
/** bcdDevice (device release) is not part of the unRAID GUID; kept fixed so the stick looks the same to the guest. */
export const BCD_DEVICE = 0x0100;
export const DEFAULT_MANUFACTURER = 'pve-usb-gadget';
export const DEFAULT_PRODUCT = 'Virtual USB Stick';

export type ValidationResult =
  | { kind: 'none' }
  | { kind: 'ok'; spec: GadgetSpec; warnings: string[] }
  | { kind: 'invalid'; problems: NotesProblem[] };

type SectionValues = Partial<KeyValues>;

/** Length in characters (code points), as Proxmox (Perl) counts it. */
function characterCount(s: string): number {
  if (s.length <= MAX_NOTES_LENGTH) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function readSection(
  section: IniSection,
  prefix: string,
  allowed: readonly GadgetKey[],
  problems: ProblemCollector,
): SectionValues {
  const values: SectionValues = {};
  const seen = new Map<string, number>();
  for (const entry of section.entries) {
    const key = entry.key.toLowerCase();
    const fullKey = `${prefix}.${escapeText(key, 40)}`;
    if (!isGadgetKey(key) || !allowed.includes(key)) {
      const where = `[${prefix}]`;
      problems.add(
        fullKey,
        isGadgetKey(key)
          ? `${key} is a device-wide key: put it in [${GADGET_SECTION}]; allowed in ${where}: ${allowed.join(', ')}`
          : `unknown key "${escapeText(key, 40)}" (closest known key: ${closestName(key, allowed)}); ` +
              `allowed in ${where}: ${allowed.join(', ')}`,
        entry.line,
      );
      continue;
    }
    const first = seen.get(key);
    if (first !== undefined) {
      problems.add(fullKey, `set twice (first on line ${first}): keep one`, entry.line);
      continue;
    }
    seen.set(key, entry.line);
    const parsed = parseKeyValue(key, entry.value);
    if (parsed.ok) {
      (values as Record<GadgetKey, unknown>)[key] = parsed.value;
    } else {
      const got = entry.value === '' ? '' : ` (got ${shown(entry.value)})`;
      problems.add(fullKey, `${parsed.message}${got}`, entry.line);
    }
  }
  if (values.image === undefined && !problems.has(`${prefix}.image`)) {
    problems.add(
      `${prefix}.image`,
      `is required: add "image = /absolute/path/to/file.img" to [${prefix}]`,
      section.line,
    );
  }
  if (values.cdrom === true && values.readonly === false) {
    problems.add(
      `${prefix}.readonly`,
      'readonly = false contradicts cdrom = true (a CD-ROM is always read-only): remove readonly',
      seen.get('readonly'),
    );
  }
  return values;
}

function toLun(index: number, values: SectionValues, fallbackInquiry: string): LunSpec {
  const cdrom = values.cdrom ?? false;
  return {
    index,
    image: values.image ?? '',
    readonly: cdrom || (values.readonly ?? false),
    cdrom,
    removable: values.removable ?? true,
    inquiry: values.inquiry !== undefined ? padInquiry(values.inquiry) : fallbackInquiry,
  };
}

function buildSpec(
  main: SectionValues,
  luns: [number, SectionValues][],
  ctx: VmContext,
  warnings: string[],
): GadgetSpec {
  const manufacturer = main.manufacturer ?? DEFAULT_MANUFACTURER;
  const product = main.product ?? DEFAULT_PRODUCT;
  const mainInquiry =
    main.inquiry !== undefined ? padInquiry(main.inquiry) : defaultInquiry(manufacturer, product);
  let serial = main.serial;
  let serialBasis: GadgetSpec['serialBasis'] = 'notes';
  if (serial === undefined) {
    const derived = deriveSerial(ctx);
    serial = derived.serial;
    serialBasis = derived.basis;
    if (derived.warning) warnings.push(derived.warning);
  }
  return {
    vendorId: main.vendor_id ?? DEFAULT_VENDOR_ID,
    productId: main.product_id ?? PRODUCT_ID_BASE + (ctx.vmid % PRODUCT_ID_BASE),
    bcdDevice: BCD_DEVICE,
    serial,
    serialSource: serialBasis === 'notes' ? 'notes' : 'derived',
    serialBasis,
    vendorIdSource: main.vendor_id === undefined ? 'default' : 'notes',
    productIdSource: main.product_id === undefined ? 'default' : 'notes',
    manufacturer,
    product,
    speed: main.speed ?? ctx.defaultSpeed,
    luns: [toLun(0, main, mainInquiry), ...luns.map(([i, v]) => toLun(i, v, mainInquiry))],
  };
}

export function validateNotes(notes: string, ctx: VmContext): ValidationResult {
  if (!Number.isSafeInteger(ctx.vmid) || ctx.vmid < 0) throw new RangeError(`invalid vmid ${ctx.vmid}`);
  const extracted = extractGadgetConfig(notes);
  if (extracted === undefined) return { kind: 'none' };

  const problems = new ProblemCollector();
  const length = characterCount(notes);
  if (length > MAX_NOTES_LENGTH) {
    problems.add(
      GADGET_SECTION,
      `the notes are ${length} characters long; Proxmox allows at most ${MAX_NOTES_LENGTH}: shorten them`,
    );
    if (notes.length > PARSE_LIMIT) return { kind: 'invalid', problems: problems.list() };
  }

  const doc = parseStrictIni(extracted.text, extracted.firstLine);
  const sections = classifySections(doc, problems);
  for (const p of doc.problems) {
    problems.add(sections.keyPrefixes[p.sectionIndex] ?? GADGET_SECTION, p.message, p.line);
  }
  const main = sections.main ? readSection(sections.main, GADGET_SECTION, MAIN_KEYS, problems) : {};
  const lunIndexes = [...sections.luns.keys()].sort((a, b) => a - b);
  const luns: [number, SectionValues][] = lunIndexes.map((n) => {
    const section = sections.luns.get(n) as IniSection;
    return [n, readSection(section, `${GADGET_SECTION}.lun${n}`, LUN_KEYS, problems)];
  });
  if (problems.size > 0) return { kind: 'invalid', problems: problems.list() };

  const warnings: string[] = [];
  const highest = lunIndexes[lunIndexes.length - 1] ?? 0;
  const gaps = range(1, highest).filter((n) => !sections.luns.has(n));
  if (gaps.length > 0) {
    warnings.push(
      `LUN ${gaps.join(', ')} not configured although LUN ${highest} is: the guest is told ` +
        '"LUN not supported" for those numbers',
    );
  }
  return { kind: 'ok', spec: buildSpec(main, luns, ctx, warnings), warnings };
}

/** For callers that want an exception: undefined = no [usb-gadget] section; throws NotesError if invalid. */
export function gadgetSpecFromNotes(
  notes: string,
  ctx: VmContext,
): { spec: GadgetSpec; warnings: string[] } | undefined {
  const result = validateNotes(notes, ctx);
  if (result.kind === 'invalid') throw new NotesError(result.problems);
  return result.kind === 'ok' ? { spec: result.spec, warnings: result.warnings } : undefined;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}
