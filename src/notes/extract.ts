/**
 * Finds the gadget configuration inside the VM notes.
 *
 * The notes are free Markdown text. The configuration starts at the first line that is the section
 * header `[usb-gadget]` on its own (blanks around it and a trailing `; comment` allowed; the name is
 * case-insensitive like every name in the configuration) and runs to the end of the notes or to the
 * first line that starts a code fence (```), so users can wrap it in a fenced block:
 *
 *     My unRAID VM.
 *     ```
 *     [usb-gadget]
 *     image = /var/lib/vz/usb-gadget/unraid.img
 *     ```
 *
 * `[usb-gadget]` inside a sentence ("see [usb-gadget] below") does not count. Anything after the closing
 * fence is free text again, even if it looks like configuration.
 */

import { parseSectionHeader, splitLines, trimBlanks } from './ini-lines.js';

export const GADGET_SECTION = 'usb-gadget';

export interface ExtractedConfig {
  /** from the `[usb-gadget]` line up to (not including) the closing fence, LF line ends */
  text: string;
  /** 1-based line number of the `[usb-gadget]` line in the notes */
  firstLine: number;
}

export const FENCE = '```';

/** a line without the CR of a CRLF line end */
const bare = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

export const isFenceLine = (line: string): boolean => trimBlanks(bare(line)).startsWith(FENCE);

function isGadgetHeader(line: string): boolean {
  const name = parseSectionHeader(bare(line));
  return typeof name === 'string' && name.toLowerCase() === GADGET_SECTION;
}

/**
 * Where the block is in the notes' lines (with or without their CRs): the index of the `[usb-gadget]`
 * line and of the closing fence (or lines.length). The one finder, for reading and for editing the notes.
 */
export function findGadgetBlock(lines: readonly string[]): { start: number; end: number } | undefined {
  const start = lines.findIndex(isGadgetHeader);
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !isFenceLine(lines[end] ?? '')) end++;
  return { start, end };
}

export function extractGadgetConfig(notes: string): ExtractedConfig | undefined {
  const lines = splitLines(notes);
  const block = findGadgetBlock(lines);
  if (!block) return undefined;
  return { text: lines.slice(block.start, block.end).join('\n'), firstLine: block.start + 1 };
}
