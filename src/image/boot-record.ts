/** The BIOS boot chain: syslinux's volume boot record + ldlinux.sys, then the MBR boot code. */
import { open, readFile } from 'node:fs/promises';
import { ImageError } from './errors.js';
import type { Exec } from '../ports/exec.js';
import { BOOT_CODE_BYTES, withBootCode } from './mbr.js';
import { PARTITION_OFFSET_BYTES, SECTOR_BYTES } from './size.js';
import { runTool } from './tools.js';
import type { SyslinuxChoice } from './unraid.js';

async function writeBootCode(file: string, bootCode: Buffer, mbr: Buffer): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const current = Buffer.alloc(SECTOR_BYTES);
    await fh.read(current, 0, SECTOR_BYTES, 0);
    await fh.write(withBootCode(current, bootCode), 0, BOOT_CODE_BYTES, 0);
    const after = Buffer.alloc(SECTOR_BYTES);
    await fh.read(after, 0, SECTOR_BYTES, 0);
    if (!after.subarray(BOOT_CODE_BYTES).equals(mbr.subarray(BOOT_CODE_BYTES))) {
      throw new ImageError('the partition table changed while installing the boot record', { path: file });
    }
  } finally {
    await fh.close();
  }
}

export /** syslinux's boot record into the volume (at the partition offset), then the MBR boot code. */
async function installBootRecord(tmp: string, mbr: Buffer, syslinux: SyslinuxChoice, deps: { exec: Exec }): Promise<void> {
  await runTool(deps.exec, syslinux.installer, ['--offset', String(PARTITION_OFFSET_BYTES), '--install', tmp], 'installing the syslinux boot record', {
    path: syslinux.installer,
    fix:
      syslinux.source === 'release'
        ? 'the release\'s installer runs from a folder next to the image: that filesystem must not be mounted noexec; mtools must be installed'
        : 'apt-get install -y mtools syslinux',
  });
  const bootCode = await readFile(syslinux.mbrBin);
  if (bootCode.length < BOOT_CODE_BYTES || bootCode.length > SECTOR_BYTES) {
    throw new ImageError(`${syslinux.mbrBin} is ${bootCode.length} bytes, not an MBR boot code file (440..512 bytes)`, { path: syslinux.mbrBin });
  }
  await writeBootCode(tmp, bootCode, mbr);
}

