/** Zip archives through Debian's Info-ZIP `unzip`: list first (cheap checks), then extract. */
import type { Exec } from '../ports/exec.js';
import { ImageError } from './errors.js';
import { runTool, type ToolPaths } from './tools.js';

/** Why a member name is unsafe to extract, or undefined. */
export function badZipMember(name: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(name)) return 'control characters in the name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute path';
  if (name.includes('\\')) return 'backslash in the name';
  if (name.split('/').some((p) => p === '..')) return '".." in the path';
  return undefined;
}

/** Member names of a zip ("dir/" for directories). Throws ImageError when it is not a readable zip. */
export async function listZip(exec: Exec, tools: ToolPaths, zip: string): Promise<string[]> {
  const r = await exec(tools.unzip as string, ['-Z1', zip], { timeoutMs: 5 * 60_000 });
  if (r.exitCode !== 0) {
    const said = (r.stderr || r.stdout).trim().split('\n').slice(0, 2).join(' / ');
    throw new ImageError(`${zip} is not a readable zip archive${said ? ` (${said})` : ''}`, {
      path: zip,
      fix: 'check the file (a complete download? unzip -t)',
    });
  }
  const names = r.stdout.split('\n').filter((l) => l.length > 0);
  for (const name of names) {
    const why = badZipMember(name);
    if (why) throw new ImageError(`${zip} has an unsafe member "${name}": ${why}`, { path: zip });
  }
  return names;
}

export async function extractZip(exec: Exec, tools: ToolPaths, zip: string, dir: string): Promise<void> {
  await runTool(exec, tools.unzip as string, ['-qq', '-o', zip, '-d', dir], `extracting ${zip}`, {
    path: zip,
    fix: 'check the zip (unzip -t) and the free space next to the image',
    timeoutMs: 60 * 60_000,
  });
}
