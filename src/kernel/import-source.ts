/**
 * --kernel-source PATH: a dummy_hcd.c the admin gives (offline nodes, a patched file, a mirror). PATH is
 * a kernel source tree, a folder holding dummy_hcd.c, the file itself, or a kernel tarball. Its version
 * comes from the tree's (or the tarball's) top-level Makefile; a bare file has none and is tried as it is.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostFs } from '../ports/host-fs.js';
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { UDC_SOURCE } from './fetch-source.js';
import { looksLikeDummyHcd } from './source-store.js';
import { versionFromMakefile, type LinuxVersion } from './version.js';

export interface GivenSource {
  path: string;
  text: string;
  version?: LinuxVersion;
}

const notOne = (path: string, why: string) =>
  new CommandError(`--kernel-source ${path}: ${why}`, { path, fix: 'give a kernel source tree, a folder holding dummy_hcd.c, the file, or a kernel tarball' });

export async function importSource(fs: HostFs, exec: Exec, path: string): Promise<GivenSource> {
  if (!path.startsWith('/')) throw notOne(path, 'not an absolute path');
  if (!fs.exists(path)) throw notOne(path, 'does not exist');
  const st = fs.stat(path);
  let text: string;
  let makefile: string | undefined;
  if (st.kind === 'directory') {
    const file = [`${path}/${UDC_SOURCE}`, `${path}/dummy_hcd.c`].find((f) => fs.exists(f));
    if (file === undefined) throw notOne(path, `holds neither ${UDC_SOURCE} nor dummy_hcd.c`);
    text = fs.readText(file);
    makefile = fs.readTextIfExists(`${path}/Makefile`);
  } else if (st.kind === 'file' && path.endsWith('.c')) {
    text = fs.readText(path);
  } else if (st.kind === 'file') {
    ({ text, makefile } = await fromTarball(exec, fs.real(path), path));
  } else {
    throw notOne(path, 'is neither a file nor a folder');
  }
  if (!looksLikeDummyHcd(text)) throw notOne(path, 'that is not a dummy_hcd.c');
  return { path, text, version: makefile === undefined ? undefined : versionFromMakefile(makefile) };
}

async function fromTarball(exec: Exec, real: string, shown: string): Promise<{ text: string; makefile?: string }> {
  const list = await exec('tar', ['-tf', real], { timeoutMs: 300_000 });
  if (list.exitCode !== 0) throw notOne(shown, `not a tarball tar can read (${list.stderr.trim().split('\n')[0] ?? ''})`);
  const members = list.stdout.split('\n').filter((m) => m !== '');
  const udc = members.find((m) => m === UDC_SOURCE || m.endsWith(`/${UDC_SOURCE}`));
  if (udc === undefined) throw notOne(shown, `no ${UDC_SOURCE} in it`);
  // the top-level Makefile sits where drivers/ does: "linux-6.6.120/Makefile", "./Makefile", "Makefile"
  const prefix = udc.slice(0, udc.length - UDC_SOURCE.length);
  const mk = members.find((m) => m === `${prefix}Makefile`);
  // extracted to a folder, not read from tar's stdout: the file must stay byte for byte what it is
  const tmp = mkdtempSync(join(tmpdir(), 'pvug-kernel-source-'));
  try {
    const x = await exec('tar', ['-xf', real, '-C', tmp, udc, ...(mk === undefined ? [] : [mk])], { timeoutMs: 300_000 });
    if (x.exitCode !== 0) throw notOne(shown, `tar could not extract ${udc}: ${x.stderr.trim().split('\n')[0] ?? ''}`);
    return { text: readFileSync(join(tmp, udc), 'utf8'), makefile: mk === undefined ? undefined : readFileSync(join(tmp, mk), 'utf8') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
