/**
 * Port: the filesystem as the hook sees it, rooted at a prefix ("/" on a real host). Every configfs,
 * sysfs and state-file access goes through this, so the same code runs on the host, in the test VM, and
 * against a temporary directory in unit tests. Paths passed in are host-absolute ("/sys/class/udc").
 * The implementation is apply/host-fs.ts (nodeHostFs), over any root.
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
