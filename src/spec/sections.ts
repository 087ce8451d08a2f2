/**
 * Which section of the configuration is which: `[usb-gadget]` (LUN 0 and the device) and
 * `[usb-gadget.lun1]` .. `[usb-gadget.lun15]`. Section names are case-insensitive, like keys.
 * Anything else inside the configuration is an error: the configuration ends only at the end of the
 * notes or at a closing code fence, so a stray section usually means a fence is missing.
 */

import type { IniDocument, IniSection } from '../notes/ini-lines.js';
import { escapeText } from '../notes/shown.js';
import { GADGET_SECTION } from '../notes/extract.js';
import type { ProblemCollector } from './problems.js';
import { MAX_LUNS } from './types.js';

export const MAX_LUN_INDEX = MAX_LUNS - 1;

export interface ClassifiedSections {
  main: IniSection | undefined;
  /** LUN index (1..15) → section, only valid and non-duplicate ones */
  luns: Map<number, IniSection>;
  /** for each section index: the problem key prefix to use for its lines, or undefined to ignore it */
  keyPrefixes: (string | undefined)[];
}

const LUN_RANGE = `[${GADGET_SECTION}.lun1] to [${GADGET_SECTION}.lun${MAX_LUN_INDEX}]`;

/** The number in "lunN" (digits only, at most 6 of them), or undefined. */
function lunNumber(sub: string): number | undefined {
  if (!sub.startsWith('lun')) return undefined;
  const digits = sub.slice(3);
  if (digits.length < 1 || digits.length > 6) return undefined;
  for (const ch of digits) if (ch < '0' || ch > '9') return undefined;
  return Number.parseInt(digits, 10);
}

export function classifySections(doc: IniDocument, problems: ProblemCollector): ClassifiedSections {
  const result: ClassifiedSections = { main: undefined, luns: new Map(), keyPrefixes: [] };
  doc.sections.forEach((section, index) => {
    const name = section.name.toLowerCase();
    const shownName = escapeText(section.name, 40);
    result.keyPrefixes.push(undefined);
    if (name === GADGET_SECTION) {
      if (result.main === undefined) {
        result.main = section;
        result.keyPrefixes[index] = GADGET_SECTION;
      } else {
        problems.add(
          GADGET_SECTION,
          `[${GADGET_SECTION}] appears twice (first on line ${result.main.line}): merge the two`,
          section.line,
        );
      }
      return;
    }
    if (!name.startsWith(`${GADGET_SECTION}.`)) {
      problems.add(
        GADGET_SECTION,
        `section [${shownName}] is not allowed inside the usb-gadget configuration; allowed: ` +
          `[${GADGET_SECTION}] and ${LUN_RANGE}. Other text must come before [${GADGET_SECTION}] or ` +
          'after a line with ``` that closes the configuration',
        section.line,
      );
      return;
    }
    const sub = name.slice(GADGET_SECTION.length + 1);
    const key = `${GADGET_SECTION}.${escapeText(sub, 40)}`;
    const n = lunNumber(sub);
    if (n === undefined) {
      problems.add(key, `unknown section [${shownName}]; allowed: ${LUN_RANGE}`, section.line);
    } else if (sub !== `lun${n}`) {
      problems.add(key, `write [${GADGET_SECTION}.lun${n}] (no leading zeros)`, section.line);
    } else if (n === 0) {
      problems.add(key, `LUN 0 is configured in [${GADGET_SECTION}] itself: move these keys there`, section.line);
    } else if (n > MAX_LUN_INDEX) {
      problems.add(
        key,
        `a stick has at most ${MAX_LUNS} LUNs: [${GADGET_SECTION}] is LUN 0, then ${LUN_RANGE}`,
        section.line,
      );
    } else if (result.luns.has(n)) {
      problems.add(
        key,
        `[${GADGET_SECTION}.lun${n}] appears twice (first on line ${result.luns.get(n)?.line}): merge the two`,
        section.line,
      );
    } else {
      result.luns.set(n, section);
      result.keyPrefixes[index] = key;
    }
  });
  return result;
}
