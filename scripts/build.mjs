// Bundles the hook and the CLI into two self-contained CommonJS files for Node >= 18.20.
// undici (proxmox-api's default fetch) is replaced by a stub: ProxmoxClient passes its own node:https fetch.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node18',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
  alias: { undici: './src/proxmox/undici-absent.ts' },
};

const entries = [
  ['hooks/hook.ts', 'dist/hook.cjs'],
  ['src/cli/main.ts', 'dist/cli.cjs'],
];
for (const [entry, outfile] of entries) {
  await build({ ...common, entryPoints: [entry], outfile });
  chmodSync(outfile, 0o755);
}
console.log(`built ${entries.map(([, o]) => o).join(', ')}`);
