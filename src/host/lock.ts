import { spawn } from 'node:child_process';
import { ConflictError } from '../errors.js';
import type { Release, HostLock } from '../ports/lock.js';

/**
 * A host-wide lock held by a `flock(1)` child process. Node has no flock(2); a child that holds the
 * lock until its stdin closes gives the kernel's semantics for free: if the hook is killed (even with
 * SIGKILL), its end of the pipe closes, the child exits and the lock is released. The child's stdout
 * and stderr are pipes of our own, never the hook's, so it can never hold up Proxmox's task.
 * This is our own lock file: Proxmox's /var/lock/qemu-server locks are never touched.
 */
export function flockHostLock(lockFile: string, timeoutMs: number): HostLock {
  return {
    acquire: () =>
      new Promise<Release>((resolve, reject) => {
        const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
        const child = spawn('flock', ['-w', String(secs), lockFile, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        let held = false;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (!held && out.includes('locked')) {
            held = true;
            resolve(
              () =>
                new Promise<void>((done) => {
                  child.once('exit', () => done());
                  child.stdin.end();
                }),
            );
          }
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', (e) =>
          reject(new ConflictError(`cannot take the host lock ${lockFile}: ${e.message}`, { path: lockFile, fix: 'install util-linux (flock)' })),
        );
        child.on('exit', (code) => {
          if (!held) {
            reject(
              new ConflictError(`timed out after ${secs} s waiting for the host lock${err ? `: ${err.trim()}` : ''}`, {
                path: lockFile,
                fix: 'another pve-usb-gadget run holds it; check for a hung hook process (ps aux | grep hook)',
              }),
            );
          } else if (code !== 0 && code !== null) {
            // lock child died while held: nothing to do, the lock is gone with it
          }
        });
      }),
  };
}
