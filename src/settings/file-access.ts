/**
 * Reading a root-trusted file: content, owner and mode come from the same open file descriptor, so the
 * file cannot be swapped between the permission check and the read.
 */

import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { SettingsError } from '../errors.js';

export interface FileWithStat {
  content: string;
  uid: number;
  mode: number;
}

/** Files this big are not settings or secrets: refuse instead of reading them whole. */
export const MAX_TRUSTED_FILE_BYTES = 64 * 1024;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

export function isRegularFile(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

/**
 * Throws the fs error (with its code) when the file cannot be opened. Opened non-blocking so a FIFO
 * in its place cannot hang the hook; only regular files are read (others come back with no content,
 * for the caller to refuse by their mode).
 */
export function readFileWithStat(path: string): FileWithStat {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (st.size > MAX_TRUSTED_FILE_BYTES) {
      throw new SettingsError(`${path} is ${st.size} bytes long, more than the ${MAX_TRUSTED_FILE_BYTES} allowed`, {
        path,
        fix: 'point the setting at the right file',
      });
    }
    return { content: isRegularFile(st.mode) ? readFileSync(fd, 'utf8') : '', uid: st.uid, mode: st.mode };
  } finally {
    closeSync(fd);
  }
}
