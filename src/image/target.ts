/** The image's final path: checked before anything is written, replaced atomically at the end. */
import { constants } from 'node:fs';
import { access, link, lstat, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { ImageError } from './errors.js';

/** Resolves the target and refuses non-files, existing files without force, and unwritable dirs. */
export async function checkTarget(opts: { file: string; force?: boolean }): Promise<string> {
  const target = path.resolve(opts.file);
  const existing = await lstat(target).catch((err: unknown) => {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw new ImageError(`cannot check ${target}`, { path: target, errno: errnoOf(err), cause: err });
  });
  if (existing && !existing.isFile()) {
    throw new ImageError(`${target} exists and is not a regular file; refusing to replace it`, {
      path: target,
      fix: 'choose another path',
    });
  }
  if (existing && !opts.force) {
    throw new ImageError(`${target} already exists`, { path: target, errno: 'EEXIST', fix: 'choose another path, or pass --force to replace it' });
  }
  const dir = path.dirname(target);
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new ImageError(`cannot write an image into ${dir}`, {
      path: dir,
      errno: errnoOf(err),
      fix: 'create the directory or choose a writable one',
      cause: err,
    });
  }
  return target;
}

/** Moves the finished temp file into place; without force it never replaces a file that appeared meanwhile. */
export async function moveIntoPlace(tmp: string, target: string, force: boolean): Promise<void> {
  if (force) {
    await rename(tmp, target);
    return;
  }
  try {
    await link(tmp, target); // fails if the target appeared meanwhile: never clobber without --force
    await unlink(tmp);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') {
      throw new ImageError(`${target} appeared while the image was built`, { path: target, errno: 'EEXIST', fix: 'pass --force to replace it' });
    }
    if (await lstat(target).then(() => true, () => false)) throw err;
    await rename(tmp, target); // filesystems without hard links
  }
}

