// A temporary folder that stands for a host's root, seen through HostFs, for the unit tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { HostFs } from '../../src/ports/host-fs.js';

export interface TmpRoot {
  root: string;
  fs: HostFs;
  /** write a file at a host-absolute path, making its folders */
  put(path: string, content: string): void;
  remove(): void;
}

export function tmpRoot(prefix: string): TmpRoot {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    fs: nodeHostFs(root),
    put: (p, content) => {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), content);
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
