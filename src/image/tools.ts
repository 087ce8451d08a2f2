/** The Debian tools the image commands drive, found on PATH (plus the sbin dirs) and run without a shell. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Exec, ExecResult } from '../ports/exec.js';
import { ImageError } from './errors.js';

/** Which Debian package ships each tool, for the "fix:" part of messages. */
export const DEBIAN_PACKAGE_OF: Readonly<Record<string, string>> = {
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  mmd: 'mtools',
  mattrib: 'mtools',
  unzip: 'unzip',
  syslinux: 'syslinux syslinux-common',
};

/** Absolute paths of the tools a run needs. */
export type ToolPaths = Record<string, string>;

/** PATH plus the sbin dirs: mkfs.fat lives in /usr/sbin, which a non-login PATH may lack. */
export function defaultSearchPath(): string {
  return [process.env.PATH ?? '', '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
}

/** Returns the absolute path of `name` in a colon-separated search path, or undefined. */
export async function findTool(name: string, searchPath = defaultSearchPath()): Promise<string | undefined> {
  for (const dir of searchPath.split(':').filter((d) => d.startsWith('/'))) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next directory
    }
  }
  return undefined;
}

/** Finds every tool or throws one ImageError naming all missing ones and the packages to install. */
export async function requireTools(names: readonly string[], searchPath?: string): Promise<ToolPaths> {
  const found: ToolPaths = {};
  const missing: string[] = [];
  for (const name of names) {
    const p = await findTool(name, searchPath);
    if (p) found[name] = p;
    else missing.push(name);
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((m) => DEBIAN_PACKAGE_OF[m] ?? m))].join(' ');
    throw new ImageError(`missing tools: ${missing.join(', ')}`, { fix: `apt-get install -y ${packages}` });
  }
  return found;
}

/** Runs a tool; on a non-zero exit throws an ImageError with the tool's last words and `fix`. */
export async function runTool(
  exec: Exec,
  file: string,
  args: readonly string[],
  what: string,
  opts: { fix?: string; path?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const r = await exec(file, args, { timeoutMs: opts.timeoutMs ?? 10 * 60_000 });
  if (r.exitCode !== 0) {
    const said = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
    throw new ImageError(`${what} failed: ${path.basename(file)} exited with ${r.exitCode}${said ? `: ${said}` : ''}`, {
      path: opts.path,
      fix: opts.fix,
    });
  }
  return r;
}
