/**
 * Hostile text made safe to put in a message: invisible and control characters become `\u{..}`
 * escapes (so a NUL, a newline or a right-to-left override cannot forge log lines), long text is cut.
 */

/** Control (Cc), format/bidi (Cf), line/paragraph separators (Zl, Zp) and lone surrogates (Cs). */
export const INVISIBLE_CHAR = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

export function hasInvisibleChar(s: string): boolean {
  return INVISIBLE_CHAR.test(s);
}

/** Escaped, cut to `max` code points (with "…" when cut), not quoted. */
export function escapeText(s: string, max = 60): string {
  let out = '';
  let count = 0;
  for (const ch of s) {
    if (count >= max) return `${out}…`;
    out += INVISIBLE_CHAR.test(ch) ? `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}` : ch;
    count++;
  }
  return out;
}

/** Escaped, cut and double-quoted, for "got ..." parts of messages. */
export function shown(s: string, max = 60): string {
  return `"${escapeText(s, max)}"`;
}
