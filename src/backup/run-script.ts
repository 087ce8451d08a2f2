/** The real ScriptRunner (chain.ts): no shell, stdio inherited so the script writes to the task log. */
import { spawn } from 'node:child_process';
import type { ScriptRunner } from './chain.js';

export const spawnScript: ScriptRunner = (file, args, env) =>
  new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...env } });
    child.on('error', () => resolve({ exitCode: 1, signal: null }));
    child.on('exit', (exitCode, signal) => resolve({ exitCode, signal }));
  });
