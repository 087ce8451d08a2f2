/** Port: running programs. host/exec.ts has the real one (execaExec); tests pass their own. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; never throws for a non-zero exit (callers decide). */
export type Exec = (file: string, args: readonly string[], opts?: { input?: string; timeoutMs?: number }) => Promise<ExecResult>;
