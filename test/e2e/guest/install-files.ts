/** Runs INSIDE the test VM: the file list of the places install.sh touches, to compare before and after. */
import { lstatSync, readdirSync } from 'node:fs';

/** [folder, depth]: depth 0 lists only the folder itself, Infinity everything below */
export type TreeRoot = [string, number];

/** "path type mode" lines (type f, d, l or o), sorted; symlinks are not followed */
export function listTree(roots: readonly TreeRoot[]): string[] {
  const out = new Set<string>();
  const walk = (path: string, depth: number) => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : 'o';
    out.add(`${path} ${type} ${(st.mode & 0o7777).toString(8)}`);
    if (type !== 'd' || depth <= 0) return;
    for (const name of readdirSync(path)) walk(`${path}/${name}`, depth - 1);
  };
  for (const [root, depth] of roots) walk(root, depth);
  return [...out].sort();
}

export function diffTrees(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}
