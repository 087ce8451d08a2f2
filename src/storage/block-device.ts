/**
 * Facts about a block device from sysfs. stat(2) reports size 0 for a block device, so its size comes
 * from /sys/class/block/<name>/size (always in 512-byte sectors, whatever the device's block size).
 */
import type { HostFs } from '../ports/host-fs.js';

/** The kernel name of a device node path that is already a realpath ("/dev/dm-3" → "dm-3"). */
export function kernelName(realDevPath: string): string | undefined {
  const m = /^\/dev\/([A-Za-z0-9][A-Za-z0-9_.+-]*)$/.exec(realDevPath);
  return m?.[1];
}

/** Size in bytes of the block device at `realDevPath` (a realpath under /dev), or undefined if unknown. */
export function blockDeviceBytes(fs: HostFs, realDevPath: string): number | undefined {
  const name = kernelName(realDevPath);
  if (!name) return undefined;
  const sectors = fs.readTextIfExists(`/sys/class/block/${name}/size`)?.trim();
  return sectors !== undefined && /^\d{1,18}$/.test(sectors) ? Number(sectors) * 512 : undefined;
}
