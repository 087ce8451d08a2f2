/**
 * Bundle a TypeScript entry point into one CommonJS file that Debian's node 18 inside the test VM can run,
 * the same way the product itself is shipped (cjs, platform node, target node18).
 */
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { projectRoot } from './vm.js';

/** Where bundles are written, relative to the repository root (gitignored). */
export const BUILD_DIR = 'test/e2e/.build';
/** The repository root as the VM sees it. */
export const VM_PROJECT_DIR = '/project';

/**
 * Bundle `entryTs` (absolute, or relative to the repository root) to `test/e2e/.build/<outName>.cjs` and
 * return the path of that file inside the VM: `/project/test/e2e/.build/<outName>.cjs`.
 */
export async function bundleForVm(entryTs: string, outName: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(outName)) {
    throw new Error(`bundle name must be letters, digits, '.', '_' or '-': ${JSON.stringify(outName)}`);
  }
  const root = projectRoot();
  const entry = isAbsolute(entryTs) ? entryTs : resolve(root, entryTs);
  const outDir = join(root, BUILD_DIR);
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [entry],
    outfile: join(outDir, `${outName}.cjs`),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node18',
    logLevel: 'silent',
  });
  return `${VM_PROJECT_DIR}/${BUILD_DIR}/${outName}.cjs`;
}
