// No import cycles, type imports included, in what the two bundles (hook, CLI) are built from: a cycle
// is a design knot even when type-only (a module that names its caller's deps type cannot be reused
// without it). The graph is read with the TypeScript compiler (import-graph.ts).
import { describe, expect, it } from 'vitest';
import { cycles, importGraph } from './import-graph.js';

describe('import graph', () => {
  it('finds a cycle when there is one (the checker itself)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['e']]);
  });

  it('reads type imports and re-exports too', () => {
    const g = importGraph(['src/hook/deps.ts']);
    // deps.ts has only `import type` lines
    expect(g.get('src/hook/deps.ts')).toContain('src/state/record.ts');
    expect(g.get('src/hook/deps.ts')).toContain('src/hook/passthrough.ts');
  });

  it('src/hook/main.ts and src/cli/main.ts reach no cycle', () => {
    const g = importGraph(['src/hook/main.ts', 'src/cli/main.ts']);
    expect(g.size).toBeGreaterThan(100);
    expect(cycles(g)).toEqual([]);
  });
});
