/**
 * Path containment, for realpaths (no `.`/`..`, no `//`). Two questions with two names, because the
 * policies need both: "may this be the folder itself?" differs between an allowed dir (no) and a
 * denied one (yes, refuse /etc itself too).
 */

/** `p` is `dir` or below it. */
export function isAtOrUnder(p: string, dir: string): boolean {
  return p === dir || isUnder(p, dir);
}

/** `p` is strictly below `dir`. */
export function isUnder(p: string, dir: string): boolean {
  return p !== dir && p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
