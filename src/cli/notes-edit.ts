/**
 * Editing the `[usb-gadget]` part of VM notes without touching anything else the admin wrote there.
 * Works line by line on the block notes/extract.ts finds (from the `[usb-gadget]` line to the end of the
 * notes or the first ``` line): keys of the main section are replaced in place, new keys go after its
 * last key, comments and `[usb-gadget.lunN]` sections stay as they are. Line ends (LF or CRLF) of the
 * untouched lines are kept. A block added to notes that have none is wrapped in a ``` fence (the notes
 * are Markdown) and separated by one blank line, so removing it gives back the notes as they were.
 * Pure functions.
 */
import { FENCE, GADGET_SECTION, findGadgetBlock, isFenceLine as isFence } from '../notes/extract.js';
import { parseSectionHeader, parseValue, trimBlanks } from '../notes/ini-lines.js';

interface Block {
  /** index of the [usb-gadget] line */
  start: number;
  /** index of the closing ``` line, or lines.length */
  end: number;
  /** index after the main section's last line (next section header, or end) */
  mainEnd: number;
}

/** notes.split('\n'), each line with its CR (if any) still on it */
function lines(notes: string): string[] {
  return notes.split('\n');
}

const bare = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);
const isBlank = (line: string) => trimBlanks(bare(line)) === '';

function findBlock(ls: readonly string[]): Block | undefined {
  const found = findGadgetBlock(ls);
  if (!found) return undefined;
  const { start, end } = found;
  let mainEnd = start + 1;
  while (mainEnd < end && parseSectionHeader(bare(ls[mainEnd] ?? '')) === undefined) mainEnd++;
  return { start, end, mainEnd };
}

/** The key of a `key = value` line (lower case), or undefined for other lines. */
function keyOf(line: string): string | undefined {
  const t = trimBlanks(bare(line));
  if (t === '' || t.startsWith(';') || t.startsWith('#') || t.startsWith('[')) return undefined;
  const eq = t.indexOf('=');
  return eq > 0 ? trimBlanks(t.slice(0, eq)).toLowerCase() : undefined;
}

/** True when the notes have a `[usb-gadget]` section. */
export function hasGadgetSection(notes: string): boolean {
  return findBlock(lines(notes)) !== undefined;
}

/** Values of the main `[usb-gadget]` section by lower-case key (the first one wins; validation reports duplicates). */
export function readMainKeys(notes: string): Map<string, string> {
  const ls = lines(notes);
  const block = findBlock(ls);
  const out = new Map<string, string>();
  if (!block) return out;
  for (let i = block.start + 1; i < block.mainEnd; i++) {
    const line = ls[i] ?? '';
    const key = keyOf(line);
    if (key === undefined || out.has(key)) continue;
    const raw = bare(line);
    const parsed = parseValue(raw.slice(raw.indexOf('=') + 1));
    if ('value' in parsed) out.set(key, parsed.value);
  }
  return out;
}

/**
 * A value as the notes parser reads it back unchanged: quoted when it has blanks at either end, starts
 * with a quote or a comment sign, or has ` ;` / ` #` inside. Throws for what the format cannot hold.
 */
export function formatIniValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new RangeError('a value cannot contain a line break');
  const needsQuotes =
    value !== trimBlanks(value) || /^["';#]/.test(value) || /[ \t][;#]/.test(value);
  if (!needsQuotes) return value;
  if (value.includes('"')) throw new RangeError('a value that needs quotes cannot contain a double quote (")');
  return `"${value}"`;
}

/**
 * The notes with these keys set in the main `[usb-gadget]` section (added as a new fenced block at the
 * end when there is none). Keys are lower-case gadget keys; values are raw strings.
 */
export function setGadgetKeys(notes: string, values: ReadonlyMap<string, string>): string {
  const entries = [...values].map(([k, v]) => [k.toLowerCase(), `${k.toLowerCase()} = ${formatIniValue(v)}`] as const);
  const ls = lines(notes);
  const block = findBlock(ls);
  if (!block) {
    const body = [FENCE, `[${GADGET_SECTION}]`, ...entries.map(([, line]) => line), FENCE].join('\n');
    const head = notes.replace(/\s+$/, '');
    return head === '' ? body : `${head}\n\n${body}`;
  }
  const out = [...ls];
  const missing: string[] = [];
  for (const [key, line] of entries) {
    const at = out.findIndex((l, i) => i > block.start && i < block.mainEnd && keyOf(l) === key);
    if (at >= 0) out[at] = (out[at] ?? '').endsWith('\r') ? `${line}\r` : line;
    else missing.push(line);
  }
  // after the main section's last non-blank line, so a blank line before [usb-gadget.lunN] stays
  let insertAt = block.mainEnd;
  while (insertAt > block.start + 1 && isBlank(out[insertAt - 1] ?? '')) insertAt--;
  const eol = (out[block.start] ?? '').endsWith('\r') ? '\r' : '';
  out.splice(insertAt, 0, ...missing.map((l) => `${l}${eol}`));
  return out.join('\n');
}

/**
 * The notes without the `[usb-gadget]` block (and its ``` fence when it was wrapped in one), the text
 * around it joined by one blank line. Notes without the section come back unchanged.
 */
export function removeGadgetSection(notes: string): string {
  const ls = lines(notes);
  const block = findBlock(ls);
  if (!block) return notes;
  let from = block.start;
  let to = block.end; // exclusive
  const fenced = block.end < ls.length && block.start > 0 && isFence(ls[block.start - 1] ?? '');
  if (fenced) {
    from = block.start - 1;
    to = block.end + 1;
  }
  const before = ls.slice(0, from);
  const after = ls.slice(to);
  while (before.length > 0 && isBlank(before[before.length - 1] ?? '')) before.pop();
  while (after.length > 0 && isBlank(after[0] ?? '')) after.shift();
  if (before.length === 0) return after.join('\n');
  if (after.length === 0) return before.join('\n');
  return [...before, '', ...after].join('\n');
}

/**
 * The notes with these keys set in LUN `index`'s section: the main `[usb-gadget]` section for 0, else
 * `[usb-gadget.lunN]` (which must exist: undefined when it does not, or when there is no block).
 */
export function setLunKeys(notes: string, index: number, values: ReadonlyMap<string, string>): string | undefined {
  if (index === 0) return hasGadgetSection(notes) ? setGadgetKeys(notes, values) : undefined;
  const ls = lines(notes);
  const block = findBlock(ls);
  if (!block) return undefined;
  const want = `${GADGET_SECTION}.lun${index}`;
  const start = ls.findIndex((l, i) => {
    if (i <= block.start || i >= block.end) return false;
    const name = parseSectionHeader(bare(l));
    return typeof name === 'string' && name.toLowerCase() === want;
  });
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < block.end && parseSectionHeader(bare(ls[end] ?? '')) === undefined) end++;
  const out = [...ls];
  const eol = (out[start] ?? '').endsWith('\r') ? '\r' : '';
  const missing: string[] = [];
  for (const [k, v] of values) {
    const key = k.toLowerCase();
    const line = `${key} = ${formatIniValue(v)}`;
    const at = out.findIndex((l, i) => i > start && i < end && keyOf(l) === key);
    if (at >= 0) out[at] = `${line}${(out[at] ?? '').endsWith('\r') ? '\r' : ''}`;
    else missing.push(`${line}${eol}`);
  }
  let insertAt = end;
  while (insertAt > start + 1 && isBlank(out[insertAt - 1] ?? '')) insertAt--;
  out.splice(insertAt, 0, ...missing);
  return out.join('\n');
}
