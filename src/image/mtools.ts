/**
 * Formatting and filling the FAT32 partition inside the image file with Debian's dosfstools and mtools:
 * `mkfs.fat --offset` writes the filesystem at the partition's sector, `mcopy -i file@@offset` copies
 * into it. No root, no loop device, nothing mounted.
 */
import type { Exec } from '../ports/exec.js';
import { ImageError } from './errors.js';
import type { Payload } from './payload.js';
import { copyBatches } from './payload.js';
import type { ProgressSink } from './progress.js';
import { runTool, type ToolPaths } from './tools.js';
import { PARTITION_OFFSET_BYTES, PARTITION_START_LBA } from './size.js';

/** What mtools' -i takes: the image and the byte offset of the filesystem in it. */
export function mtoolsTarget(file: string): string {
  if (file.includes('@@')) {
    throw new ImageError(`image path ${file} contains "@@", which mtools reads as an offset marker`, {
      path: file,
      fix: 'choose a path without "@@"',
    });
  }
  return `${file}@@${PARTITION_OFFSET_BYTES}`;
}

/** Volume labels: up to 11 characters of A-Z 0-9 space _ - (what every OS shows and accepts). */
export function checkLabel(label: string): string {
  const up = label.toUpperCase();
  if (!/^[A-Z0-9_-][A-Z0-9 _-]{0,10}$/.test(up) || up.endsWith(' ')) {
    throw new ImageError(`volume label "${label}" is not usable`, {
      key: 'label',
      fix: 'use 1 to 11 characters: letters, digits, space, _ or - (stored upper-case)',
    });
  }
  return up;
}

/**
 * FAT32 over the partition (sector 2048 to the end). `-h` records the hidden sectors before the volume,
 * which boot code uses to find itself; `--mbr=n` keeps mkfs.fat from writing a fake partition table
 * into the volume boot sector.
 */
export async function formatFat32(
  exec: Exec,
  tools: ToolPaths,
  file: string,
  partitionSectors: number,
  label: string,
): Promise<void> {
  await runTool(
    exec,
    tools['mkfs.fat'] as string,
    [
      '-F', '32',
      '-n', label,
      `--offset=${PARTITION_START_LBA}`,
      '-h', String(PARTITION_START_LBA),
      '--mbr=n',
      file,
      String(Math.floor(partitionSectors / 2)), // mkfs.fat counts 1 KiB blocks
    ],
    'formatting FAT32',
    { path: file },
  );
}

const target = (dir: string) => (dir ? `::/${dir}/` : '::/');

/** Creates the payload's directories, then copies its files in batches, reporting bytes copied. */
export async function copyPayload(
  exec: Exec,
  tools: ToolPaths,
  file: string,
  payload: Payload,
  progress: ProgressSink,
  label = 'copying files',
): Promise<void> {
  const image = mtoolsTarget(file);
  const dirs = payload.entries.filter((e) => e.isDirectory).map((e) => `::/${e.rel}`);
  for (let i = 0; i < dirs.length; i += 100) {
    // pre-order, so a parent is always made before its children
    await runTool(exec, tools.mmd as string, ['-i', image, ...dirs.slice(i, i + 100)], 'creating directories', { path: file });
  }
  progress.start(label, payload.bytes);
  let done = 0;
  try {
    for (const batch of copyBatches(payload)) {
      const r = await exec(
        tools.mcopy as string,
        ['-i', image, '-p', '-m', '-Q', '-D', 'o', ...batch.files.map((f) => f.abs), target(batch.targetDir)],
        { timeoutMs: 30 * 60_000 },
      );
      if (r.exitCode !== 0) {
        const said = (r.stderr || r.stdout).trim();
        if (/disk full|no free clusters|not enough space/i.test(said)) {
          throw new ImageError(`the image is too small for the files (${said.split('\n').pop()})`, {
            key: 'size',
            path: file,
            fix: 'give a larger --size',
          });
        }
        throw new ImageError(`copying files failed: mcopy exited with ${r.exitCode}: ${said.split('\n').slice(-3).join(' / ')}`, {
          path: file,
        });
      }
      done += batch.bytes;
      progress.update(done);
    }
  } finally {
    progress.end();
  }
}
