import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The filesystem as the hook sees it, rooted at a prefix ("/" on a real host). Every configfs, sysfs and
 * state-file access goes through this, so the same code runs on the host, in the test VM, and against a
 * temporary directory in unit tests. Paths passed in are host-absolute ("/sys/class/udc").
 */
export interface HostFs {
  readonly root: string;
  /** the real path for a host-absolute path */
  real(p: string): string;
  exists(p: string): boolean;
  isSymlink(p: string): boolean;
  readText(p: string): string;
  /** read, or undefined when the file does not exist */
  readTextIfExists(p: string): string | undefined;
  write(p: string, value: string): void;
  /** write to a temp file in the same directory and rename: readers never see a half file */
  writeAtomic(p: string, value: string, mode?: number): void;
  mkdir(p: string, opts?: { recursive?: boolean; mode?: number }): void;
  rmdir(p: string): void;
  symlink(target: string, p: string): void;
  unlink(p: string): void;
  readdir(p: string): string[];
  /** readdir, or [] when the directory does not exist */
  list(p: string): string[];
  readlink(p: string): string;
  /** realpath, returned host-absolute (root prefix removed) */
  realpath(p: string): string;
  stat(p: string): FileInfo;
}

export interface FileInfo {
  kind: 'file' | 'block' | 'directory' | 'other';
  size: number;
  uid: number;
  mode: number;
  /** hard links to the inode: a regular file with more than one has another name, anywhere on its filesystem */
  nlink: number;
}

export function nodeHostFs(root: string): HostFs {
  const real = (p: string) => (root === '/' ? p : path.join(root, p));
  const readText = (p: string) => fs.readFileSync(real(p), 'utf8');
  return {
    root,
    real,
    exists: (p) => fs.existsSync(real(p)),
    isSymlink: (p) => {
      try {
        return fs.lstatSync(real(p)).isSymbolicLink();
      } catch {
        return false;
      }
    },
    readText,
    readTextIfExists: (p) => {
      try {
        return readText(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    // configfs and sysfs attributes take one write(2) per value: writeFileSync does exactly that.
    write: (p, value) => fs.writeFileSync(real(p), value),
    writeAtomic: (p, value, mode = 0o600) => {
      const tmp = `${real(p)}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, value, { mode });
      fs.renameSync(tmp, real(p));
    },
    mkdir: (p, opts) => {
      fs.mkdirSync(real(p), opts);
    },
    rmdir: (p) => fs.rmdirSync(real(p)),
    // configfs links must point at the real configfs path, which for a non-"/" root is prefixed too
    symlink: (target, p) => fs.symlinkSync(real(target), real(p)),
    unlink: (p) => fs.unlinkSync(real(p)),
    readdir: (p) => fs.readdirSync(real(p)).sort(),
    list: (p) => {
      try {
        return fs.readdirSync(real(p)).sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
    readlink: (p) => fs.readlinkSync(real(p)),
    realpath: (p) => {
      const r = fs.realpathSync(real(p));
      if (root === '/') return r;
      const rel = path.relative(root, r);
      // a link that escapes the root resolves outside it: report it as such, never as inside
      return rel.startsWith('..') ? r : `/${rel}`;
    },
    stat: (p) => {
      const st = fs.statSync(real(p));
      const kind = st.isFile() ? 'file' : st.isBlockDevice() ? 'block' : st.isDirectory() ? 'directory' : 'other';
      return { kind, size: st.size, uid: st.uid, mode: st.mode, nlink: st.nlink };
    },
  };
}
