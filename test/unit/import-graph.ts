// The import graph of src/, type imports included, read with the TypeScript compiler the project
// already has (no extra dependency): its own resolution maps the `.js` suffixes to the `.ts` files.
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// fileURLToPath, not import.meta.dirname: that needs Node 20.11, the project supports 18.20
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const OPTIONS: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, allowJs: false };

/** project-relative path → the project files it imports (`import`, `import type`, `export … from`, `import()`) */
export function importGraph(entries: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = entries.map((e) => resolve(ROOT, e));
  while (todo.length > 0) {
    const file = todo.pop() as string;
    const rel = relative(ROOT, file);
    if (graph.has(rel)) continue;
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    for (const imp of info.importedFiles) {
      const r = ts.resolveModuleName(imp.fileName, file, OPTIONS, ts.sys).resolvedModule;
      if (!r || r.isExternalLibraryImport || !r.resolvedFileName.startsWith(`${ROOT}/src/`)) continue;
      deps.push(relative(ROOT, r.resolvedFileName));
      todo.push(r.resolvedFileName);
    }
    graph.set(rel, [...new Set(deps)].sort());
  }
  return graph;
}

/** Every cycle, each as one strongly connected component (Tarjan), sorted; single files only when they import themselves. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}
