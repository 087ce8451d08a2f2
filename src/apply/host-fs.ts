import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileInfo, HostFs } from '../ports/host-fs.js';

/** The HostFs port (ports/host-fs.ts) on the real filesystem below `root` ("/" on a host). */
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
