/**
 * The image tests drive real Debian tools (the same ones the product uses, plus independent checkers).
 * Missing ones fail loudly with the apt-get line, instead of skipping silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { execaExec } from '../../src/host/exec.js';
import type { Exec } from '../../src/ports/exec.js';

const NEEDED: Record<string, string> = {
  'mkfs.fat': 'dosfstools',
  'fsck.fat': 'dosfstools',
  mcopy: 'mtools',
  mdir: 'mtools',
  mtype: 'mtools',
  sfdisk: 'fdisk',
  unzip: 'unzip',
  zip: 'zip',
  syslinux: 'syslinux',
};

export function requireHostTools(): void {
  const missing = Object.keys(NEEDED).filter((t) => spawnSync('sh', ['-c', `command -v ${t} || test -x /usr/sbin/${t} || test -x /sbin/${t}`]).status !== 0);
  if (!existsSync('/usr/lib/syslinux/modules/bios/ldlinux.c32') || !existsSync('/usr/lib/syslinux/mbr/mbr.bin')) missing.push('syslinux-common');
  if (!existsSync('/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi')) missing.push('syslinux-efi');
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => NEEDED[m] ?? m))].join(' ');
    throw new Error(`image tests need: ${missing.join(', ')} — apt-get install -y ${pkgs}`);
  }
}

/** Output of a checker tool (sbin included in PATH); throws with its stderr when it fails. */
export function tool(file: string, args: string[]): string {
  return execFileSync(file, args, {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A file's bytes from inside an image, read with mtools (an independent reader). */
export function readFromImage(img: string, file: string): Buffer {
  return execFileSync('mcopy', ['-i', `${img}@@1M`, `::/${file}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The product's own exec, with a log of what ran (to assert which installer was used). */
export function recordingExec(): { exec: Exec; calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    exec: async (file, args, opts) => {
      calls.push([file, ...args]);
      return execaExec(file, args, opts);
    },
  };
}
