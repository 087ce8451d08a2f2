/**
 * Chaining the admin's own vzdump hook. vzdump runs one `script` per job (PVE/VZDump.pm
 * run_hook_script), so installing ours as the node's script would silently replace theirs. Instead the
 * installer records theirs in CHAIN_FILE (one line: its absolute path; vzdump-conf.ts) and we run it
 * first, in every phase, with the same arguments and environment and our stdout/stderr (so its lines
 * land in the task log as before).
 *
 * Failure semantics, chosen to match what vzdump would have done had theirs been the script: vzdump
 * dies in that phase when the script is missing or not executable (the same "Error: The hook script
 * ... does not exist/is not executable" check), or exits non-zero or is killed (run_command). So we exit
 * with their exit code (1 for a missing script or a signal) and skip our own work for that phase,
 * except cleaning up after an aborted backup. The chain file is root's: it must be owned by root (or
 * the user running, for tests) and not writable by group or others, or nothing is run.
 */
import { constants } from 'node:fs';
import type { HostFs } from '../ports/host-fs.js';
import { isRegularFile, readFileWithStat, type FileWithStat } from '../settings/file-access.js';

export const CHAIN_FILE = '/etc/pve-usb-gadget/vzdump-chain';

export interface ScriptResult {
  exitCode: number | null;
  signal: string | null;
}

/** Runs a program with the given argv and env, stdio inherited; resolves when it exits. */
export type ScriptRunner = (file: string, args: readonly string[], env: Readonly<Record<string, string | undefined>>) => Promise<ScriptResult>;

export interface ChainDeps {
  fs: HostFs;
  run: ScriptRunner;
  /** default readFileWithStat; a seam for tests */
  readTrusted?: (realPath: string) => FileWithStat;
  trustedUids: readonly number[];
  /** realpath of our own hook entry: never chained to (a loop) */
  self?: string;
  say(line: string): void;
}

export type ChainOutcome = { chained: false } | { chained: true; script: string; exitCode: number };

/** The recorded script, or undefined; throws when the chain file is there but not trustworthy. */
export function chainedScript(deps: ChainDeps, chainFile = CHAIN_FILE): string | undefined {
  let f: FileWithStat;
  try {
    f = (deps.readTrusted ?? readFileWithStat)(deps.fs.real(chainFile));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!isRegularFile(f.mode) || !deps.trustedUids.includes(f.uid) || (f.mode & 0o022) !== 0) {
    throw new Error(`${chainFile} is not a root-owned file writable only by root: the chained vzdump hook was not run (fix: chown root:root ${chainFile}; chmod 0644 ${chainFile})`);
  }
  const line = f.content.split('\n')[0]?.trim() ?? '';
  if (line === '') return undefined;
  if (!line.startsWith('/') || /[\0\r]/.test(line)) throw new Error(`${chainFile}: '${line.slice(0, 80)}' is not an absolute path`);
  return line;
}

export async function runChained(deps: ChainDeps, argv: readonly string[], env: Readonly<Record<string, string | undefined>>, chainFile = CHAIN_FILE): Promise<ChainOutcome> {
  let script: string | undefined;
  try {
    script = chainedScript(deps, chainFile);
  } catch (err) {
    deps.say(`ERROR: ${(err as Error).message}`);
    return { chained: true, script: chainFile, exitCode: 1 };
  }
  if (script === undefined) return { chained: false };
  // the same checks vzdump makes before running its script (run_hook_script)
  let st;
  try {
    st = deps.fs.stat(script);
  } catch {
    st = undefined;
  }
  if (!st || st.kind !== 'file') {
    deps.say(`Error: The hook script '${script}' does not exist.`);
    return { chained: true, script, exitCode: 1 };
  }
  if ((st.mode & (constants.S_IXUSR | constants.S_IXGRP | constants.S_IXOTH)) === 0) {
    deps.say(`Error: The hook script '${script}' is not executable.`);
    return { chained: true, script, exitCode: 1 };
  }
  if (deps.self !== undefined && deps.fs.realpath(script) === deps.self) {
    deps.say(`WARNING: ${chainFile} names pve-usb-gadget's own hook; not running it twice`);
    return { chained: false };
  }
  const r = await deps.run(deps.fs.real(script), argv, env);
  if (r.signal) {
    deps.say(`ERROR: the chained vzdump hook '${script}' was killed by ${r.signal}`);
    return { chained: true, script, exitCode: 1 };
  }
  return { chained: true, script, exitCode: r.exitCode ?? 1 };
}
