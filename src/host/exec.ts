import { execa } from 'execa';
import { CommandError } from '../errors.js';
import type { ExecResult, Exec } from '../ports/exec.js';

export const execaExec: Exec = async (file, args, opts = {}) => {
  const r = await execa(file, args, {
    reject: false,
    input: opts.input,
    timeout: opts.timeoutMs ?? 30_000,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    env: { LC_ALL: 'C' },
  });
  return { exitCode: r.exitCode ?? (r.failed ? 1 : 0), stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
};

/** Run and throw a CommandError carrying the program's own message when it fails. */
export async function run(exec: Exec, file: string, args: readonly string[], fix: string): Promise<ExecResult> {
  const r = await exec(file, args);
  if (r.exitCode !== 0) {
    const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
    throw new CommandError(`${file} ${args.join(' ')} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`, { fix });
  }
  return r;
}
