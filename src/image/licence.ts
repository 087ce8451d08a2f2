/**
 * `image create --unraid-licence [--key-file FILE]`: the smallest sensible stick for unRAID 7.3+ internal
 * boot, where unRAID boots from a disk of the VM and only licenses from a USB flash device it finds by
 * its FAT label UNRAID (FACTS.md "unRAID"). An MBR with one FAT32 partition labelled UNRAID and, when
 * given, the user's key file in config/ (where unRAID keeps it on a flash). No release, no boot code: the
 * stick is never booted, it just has to be there with the same GUID (vendor_id, product_id, serial in the
 * notes) on every start. The key file is the user's own; it is copied as it is, never read or sent.
 */
import { copyFile, lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../errors.js';
import { createImage, type CreateImageDeps, type CreateImageResult } from './create.js';
import { ImageError } from './errors.js';
import { UNRAID_LABEL } from './unraid.js';

/** Sparse: 64 MiB costs a few hundred KiB on disk; FAT32 needs at least 34 MiB, the rest is room for unRAID's writes. */
export const DEFAULT_LICENCE_SIZE = '64M';
/** unRAID key files are a few hundred bytes; anything large is not one. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;
/** Pro.key, Basic.key, Plus.key, Starter.key, Unleashed.key, Lifetime.key, Trial.key, ...: letters, digits, - _ . */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}\.key$/i;

export interface LicenceImageOptions {
  file: string;
  sizeBytes: number;
  keyFile?: string;
  force?: boolean;
}

/** The key file, checked: a regular file (not a link), named *.key, small. Returns its resolved path. */
export async function checkKeyFile(keyFile: string): Promise<string> {
  const file = path.resolve(keyFile);
  const st = await lstat(file).catch((err: unknown) => {
    throw new ImageError(`cannot read the key file ${file}`, { key: 'key-file', path: file, errno: errnoOf(err), fix: 'give the .key file Lime Technology sent you (e.g. Pro.key)' });
  });
  if (!st.isFile()) throw new ImageError(`the key file ${file} is not a regular file`, { key: 'key-file', path: file, fix: 'give the .key file itself, not a link or a folder' });
  if (!KEY_NAME.test(path.basename(file))) {
    throw new ImageError(`the key file name ${JSON.stringify(path.basename(file))} is not an unRAID key file name`, {
      key: 'key-file',
      path: file,
      fix: 'unRAID reads config/<Name>.key: a name of letters, digits, - _ . ending in .key, e.g. Pro.key',
    });
  }
  if (st.size === 0 || st.size > MAX_KEY_FILE_BYTES) {
    throw new ImageError(`the key file ${file} has ${st.size} bytes; an unRAID key file has 1 to ${MAX_KEY_FILE_BYTES}`, { key: 'key-file', path: file, fix: 'give the .key file Lime Technology sent you' });
  }
  return file;
}

export async function createLicenceImage(o: LicenceImageOptions, deps: CreateImageDeps): Promise<CreateImageResult & { keyFile?: string }> {
  const key = o.keyFile === undefined ? undefined : await checkKeyFile(o.keyFile);
  const dir = path.dirname(path.resolve(o.file));
  // staged next to the target like createImage's own staging, removed whatever happens
  const staging = await mkdtemp(path.join(dir, `.${path.basename(o.file)}.licence-`)).catch((err: unknown) => {
    throw new ImageError(`cannot write an image into ${dir}`, { path: dir, errno: errnoOf(err), cause: err });
  });
  try {
    await mkdir(path.join(staging, 'config'));
    if (key) await copyFile(key, path.join(staging, 'config', path.basename(key)));
    const r = await createImage({ file: o.file, sizeBytes: o.sizeBytes, label: UNRAID_LABEL, fromDir: staging, force: o.force }, deps);
    return key ? { ...r, keyFile: `config/${path.basename(key)}` } : r;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
