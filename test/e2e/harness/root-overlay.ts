/**
 * A throw-away copy of the provisioned Debian root (test/e2e/provision.sh) to chroot into, for what
 * needs a whole system's packages but no booted kernel of its own: apt, dpkg, DKMS and gcc building
 * against installed kernel headers. An overlay over the cached root (the cache is never written), with
 * /proc and /dev, this checkout at /project (read-only) and extra folders bound in. Commands run in a
 * network namespace of their own: no network at all, like an offline node (nothing reaches a mirror).
 */
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface RootRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export class OverlayRoot {
  private constructor(
    readonly dir: string,
    readonly root: string,
    private readonly mounts: string[],
  ) {}

  static async create(lower: string, binds: Record<string, string> = {}): Promise<OverlayRoot> {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-root-'));
    for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d));
    const root = join(dir, 'root');
    const mounts: string[] = [];
    const mount = async (args: string[], target: string) => {
      await execa('mount', [...args, target]);
      mounts.push(target);
    };
    await mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`], root);
    const r = new OverlayRoot(dir, root, mounts);
    try {
      await mount(['-t', 'proc', 'proc'], join(root, 'proc'));
      await mount(['--rbind', '/dev'], join(root, 'dev'));
      const all: Record<string, string> = { '/project': resolve('.'), ...binds };
      for (const [inside, host] of Object.entries(all)) {
        mkdirSync(join(root, inside), { recursive: true });
        await mount(['--bind', host], join(root, inside));
        await execa('mount', ['-o', 'remount,bind,ro', join(root, inside)]);
      }
    } catch (err) {
      await r.close();
      throw err;
    }
    return r;
  }

  /** `sh -c script` as root inside, offline; never throws for a non-zero exit */
  async run(script: string, env: Record<string, string> = {}, timeoutMs = 900_000): Promise<RootRun> {
    const t0 = Date.now();
    const r = await execa('unshare', ['--net', 'chroot', this.root, '/bin/sh', '-c', script], {
      reject: false,
      timeout: timeoutMs,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root', ...env },
      extendEnv: false,
      stdin: 'ignore',
      all: false,
    });
    return { code: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr), ms: Date.now() - t0 };
  }

  async close(): Promise<void> {
    for (const m of [...this.mounts].reverse()) await execa('umount', ['-l', m], { reject: false });
    this.mounts.length = 0;
    // never rm through a mount that is still there (/dev is bound read-write)
    const left = readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => (l.split(' ')[1] ?? '').startsWith(this.dir));
    if (!left) rmSync(this.dir, { recursive: true, force: true });
  }
}
