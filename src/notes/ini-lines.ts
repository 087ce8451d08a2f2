/**
 * A small strict ini line parser, used for the VM notes and for the host settings file.
 *
 * Why not the `ini` package (v5; not a dependency of this project, and kept out for these reasons)?
 * Checked against hostile notes, it:
 * - turns dots in section names into nested objects (`[usb-gadget.lun1]` becomes `usb-gadget` → `lun1`),
 *   so a section and a key of the same name collide;
 * - keeps the last of two duplicate keys without saying so (we must report duplicates);
 * - accepts a line without `=` as `key = true` (a typo would silently become a setting);
 * - cuts a value at any `;` or `#`, even inside `image = /a#b` (we only take ` ;` / ` #` as comments);
 * - drops `__proto__` silently instead of letting us name it in an error.
 * So we parse lines ourselves: no regular expressions on the input (loops only, linear time), results in
 * arrays (never objects keyed by input), every problem with its line number.
 *
 * Format:
 * - blank lines and lines whose first non-blank character is `;` or `#` are ignored;
 * - `[name]` starts a section (a comment may follow the `]`);
 * - `key = value`: split at the first `=`, key and value trimmed of spaces and tabs;
 * - an inline comment starts at `;` or `#` preceded by a space or tab;
 * - a value may be written in double quotes to keep leading/trailing blanks or ` ;`/` #`:
 *   `product = "Stick #1"`; there are no escapes, a quoted value cannot contain `"`.
 * - key names: letters, digits, `_`, `-`, `.`; case is kept here, consumers decide.
 */

import { escapeText } from './shown.js';

export interface IniEntry {
  /** as written (consumers lower-case it) */
  key: string;
  value: string;
  /** 1-based line number in the original text */
  line: number;
}

export interface IniSection {
  /** as written between the brackets, trimmed */
  name: string;
  line: number;
  entries: IniEntry[];
}

export interface IniSyntaxProblem {
  line: number;
  /** index into `sections` of the section the line is in; -1 before the first header */
  sectionIndex: number;
  message: string;
}

export interface IniDocument {
  /** key = value lines before the first section header */
  preamble: IniEntry[];
  sections: IniSection[];
  problems: IniSyntaxProblem[];
}

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t';
}

export function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isBlank(s[start])) start++;
  while (end > start && isBlank(s[end - 1])) end--;
  return s.slice(start, end);
}

function isCommentStart(ch: string | undefined): boolean {
  return ch === ';' || ch === '#';
}

/** The text lines of `text`: split at LF, one trailing CR removed (CRLF files). */
export function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/**
 * The section name if `line` is a section header (`[name]`, optionally followed by a comment),
 * `undefined` if it is not a header at all, `null` if it starts with `[` but is malformed.
 */
export function parseSectionHeader(line: string): string | null | undefined {
  const t = trimBlanks(line);
  if (!t.startsWith('[')) return undefined;
  const close = t.indexOf(']');
  if (close < 0) return null;
  const rest = trimBlanks(t.slice(close + 1));
  if (rest !== '' && !isCommentStart(rest[0])) return null;
  const name = trimBlanks(t.slice(1, close));
  return name === '' ? null : name;
}

function isKeyChar(ch: string): boolean {
  return (
    (ch >= 'a' && ch <= 'z') ||
    (ch >= 'A' && ch <= 'Z') ||
    (ch >= '0' && ch <= '9') ||
    ch === '_' ||
    ch === '-' ||
    ch === '.'
  );
}

export function isValidKeyName(key: string): boolean {
  if (key === '') return false;
  for (const ch of key) if (!isKeyChar(ch)) return false;
  return true;
}

/** The value part after `=`: handles quotes and inline comments. */
export function parseValue(raw: string): { value: string } | { error: string } {
  const s = trimBlanks(raw);
  if (s.startsWith('"')) {
    const close = s.indexOf('"', 1);
    if (close < 0) return { error: 'the quoted value has no closing "' };
    const rest = trimBlanks(s.slice(close + 1));
    if (rest !== '' && !isCommentStart(rest[0])) {
      return { error: 'only a comment (after ; or #) may follow a quoted value' };
    }
    return { value: s.slice(1, close) };
  }
  if (isCommentStart(s[0])) return { value: '' };
  for (let i = 1; i < s.length; i++) {
    if (isCommentStart(s[i]) && isBlank(s[i - 1])) return { value: trimBlanks(s.slice(0, i)) };
  }
  return { value: s };
}

/** Parses `text`; `firstLine` is the line number of its first line in the original document. */
export function parseStrictIni(text: string, firstLine = 1): IniDocument {
  const doc: IniDocument = { preamble: [], sections: [], problems: [] };
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = firstLine + i;
    const sectionIndex = doc.sections.length - 1;
    const t = trimBlanks(raw);
    if (t === '' || isCommentStart(t[0])) continue;

    const header = parseSectionHeader(raw);
    if (header === null) {
      doc.problems.push({ line, sectionIndex, message: 'a section header must look like [name]' });
      continue;
    }
    if (header !== undefined) {
      doc.sections.push({ name: header, line, entries: [] });
      continue;
    }

    const eq = raw.indexOf('=');
    if (eq < 0) {
      doc.problems.push({ line, sectionIndex, message: 'expected "key = value" (or a comment after ; or #)' });
      continue;
    }
    const key = trimBlanks(raw.slice(0, eq));
    if (!isValidKeyName(key)) {
      doc.problems.push({
        line,
        sectionIndex,
        message: 'a key name may only use letters, digits, "_", "-" and "." before the "="',
      });
      continue;
    }
    const parsed = parseValue(raw.slice(eq + 1));
    if ('error' in parsed) {
      doc.problems.push({ line, sectionIndex, message: `${escapeText(key, 40)}: ${parsed.error}` });
      continue;
    }
    const entry: IniEntry = { key, value: parsed.value, line };
    const section = doc.sections[sectionIndex];
    if (section) section.entries.push(entry);
    else doc.preamble.push(entry);
  }
  return doc;
}
