/**
 * Byte copy with SHA-256, used for stick copies, restores (to a new file, or in place onto a volume) and
 * stick snapshots (and the hash alone, for a reflink clone that is the copy already). Synchronous on
 * purpose: the hook does nothing else meanwhile, and a pause of the guest must end as soon as the last
 * byte is read. The destination of copyWithHash is created exclusively (never an existing file, never through a symlink), with mode
 * 0600, and left sparse where the source is zero: an unRAID stick is mostly empty, and holes cost
 * nothing in the dump directory. On any failure the destination is removed: nothing half-made stays.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

const CHUNK = 1 << 20;

export interface CopyResult {
  size: number;
  sha256: string;
}

const isZero = (b: Buffer, n: number): boolean => {
  for (let i = 0; i < n; i++) if (b[i] !== 0) return false;
  return true;
};

/** Every chunk of the open file `fd` in order, from offset 0; the size read. */
function eachChunk(fd: number, buf: Buffer, chunk: (n: number, pos: number) => void): number {
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return pos;
    chunk(n, pos);
    pos += n;
  }
}

/** size and SHA-256 of a file (real path), read without following a symlink */
export function hashFile(file: string): CopyResult {
  return hashPrefix(file, Number.MAX_SAFE_INTEGER);
}

/** Copies `src` to a new file `dst` (real paths). `expect`: refuse to keep it unless size and hash match. */
export function copyWithHash(src: string, dst: string, expect?: CopyResult): CopyResult {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  const inFd = fs.openSync(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  let outFd: number | undefined;
  try {
    outFd = fs.openSync(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    const out = outFd;
    const pos = eachChunk(inFd, buf, (n, at) => {
      hash.update(buf.subarray(0, n));
      if (!isZero(buf, n)) fs.writeSync(out, buf, 0, n, at);
    });
    fs.ftruncateSync(outFd, pos);
    fs.fsyncSync(outFd);
    const result = { size: pos, sha256: hash.digest('hex') };
    if (expect && (expect.size !== result.size || expect.sha256 !== result.sha256)) {
      throw new ChecksumMismatch(expect, result);
    }
    return result;
  } catch (err) {
    if (outFd !== undefined) {
      fs.closeSync(outFd);
      outFd = undefined;
      fs.rmSync(dst, { force: true });
    }
    throw err;
  } finally {
    if (outFd !== undefined) fs.closeSync(outFd);
    fs.closeSync(inFd);
  }
}

export class ChecksumMismatch extends Error {
  constructor(
    readonly expected: CopyResult,
    readonly actual: CopyResult,
  ) {
    super(`expected ${expected.size} bytes with SHA-256 ${expected.sha256}, read ${actual.size} bytes with ${actual.sha256}`);
  }
}

/**
 * Writes the file `src` over the existing file or block device `dst` from offset 0, in place (a device
 * cannot be replaced by a rename), and returns what was written. `dstBytes` is dst's size: past the end
 * of src it is zeroed, so the volume reads exactly the copy and then zeros, never older data. A chunk of
 * zeros is written only where dst is not zero already: a thin LV, a zvol or a sparse file stays thin.
 * Then fsync, and the written bytes are read back and hashed: throws ChecksumMismatch if they are not
 * `expect`. Opened without O_CREAT: dst must exist; never through a symlink.
 */
export function writeInPlace(src: string, dst: string, dstBytes: number, expect: CopyResult): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  const old = Buffer.allocUnsafe(CHUNK);
  const inFd = fs.openSync(src, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const outFd = fs.openSync(dst, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
    try {
      const zeroUnlessZero = (n: number, at: number) => {
        const got = fs.readSync(outFd, old, 0, n, at);
        if (!isZero(old, got)) fs.writeSync(outFd, Buffer.alloc(n), 0, n, at);
      };
      const end = eachChunk(inFd, buf, (n, at) => {
        if (isZero(buf, n)) zeroUnlessZero(n, at);
        else fs.writeSync(outFd, buf, 0, n, at);
      });
      for (let at = end; at < dstBytes; at += CHUNK) zeroUnlessZero(Math.min(CHUNK, dstBytes - at), at);
      fs.fsyncSync(outFd);
    } finally {
      fs.closeSync(outFd);
    }
  } finally {
    fs.closeSync(inFd);
  }
  const back = hashPrefix(dst, expect.size);
  if (back.size !== expect.size || back.sha256 !== expect.sha256) throw new ChecksumMismatch(expect, back);
}

/** size and SHA-256 of the first `size` bytes of a file or device (fewer when it is shorter) */
function hashPrefix(file: string, size: number): CopyResult {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    let pos = 0;
    while (pos < size) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    return { size: pos, sha256: hash.digest('hex') };
  } finally {
    fs.closeSync(fd);
  }
}
