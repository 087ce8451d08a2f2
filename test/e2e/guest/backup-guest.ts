/** Runs INSIDE the test VM: the nested guest and the stick's bytes, for the backup and snapshot scenarios. */
import { closeSync, openSync, readSync } from 'node:fs';
import { GuestShell } from './guest-shell.js';
import type { QemuServerStandIn } from './qemu-server.js';

/** the guest writes one 512-byte sector (page cache, then fsync: it reaches the stick before dd ends) */
export const writeSector = (sector: number, text: string) => `printf '${text}\\n' | dd of=/dev/sda bs=512 seek=${sector} count=1 conv=sync,fsync 2>/tmp/e; r=$?; grep -v records /tmp/e; exit $r`;

export function readAt(path: string, offset: number, n: number): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, offset);
    return b.toString('latin1').replace(/\0+$/, '');
  } finally {
    closeSync(fd);
  }
}

/** starts the VM through the qemu-server stand-in and opens a shell in its nested guest, once it sees the stick */
export async function bootShell(qs: QemuServerStandIn, vmid: number) {
  const start = await qs.start(vmid);
  if (!start.started) return { start };
  const opened = await GuestShell.open(qs, vmid);
  const disk = opened.shell ? await opened.shell.until('ls /sys/block', /sda/, 120_000) : undefined;
  return { start, shell: opened.shell, bootMs: opened.bootMs, bootSerial: opened.shell ? undefined : opened.serial.slice(-1500), disk };
}

