/**
 * Runs INSIDE the test VM: the nested QEMU of the bench's "guest" section (bench-guest.ts, bench-sources.ts)
 * with its serial port watched line by line, the gadget built and torn down around it by the hook, and the
 * payload loader's START..DONE read off the serial lines.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOADER_DONE, LOADER_FAIL, LOADER_START } from './bench-loader.js';
import { timedHook, type TimedHook } from './bench-util.js';

export interface SerialWatch {
  /** each complete serial line with the ms since QEMU started at which the test VM first saw it */
  lines: { at: number; text: string }[];
  serial: string;
  qemuStderr: string;
  exitCode: number | null;
}

/** ms at which the first line containing `text` was seen */
export const seenAt = (w: Pick<SerialWatch, 'lines'>, text: string) => w.lines.find((l) => l.text.includes(text))?.at;

/**
 * Start the nested QEMU with `bootDevice` (the controller and the disk it boots from, see bootDeviceArgs in
 * bench-boot-devices.ts) and `args`, and poll its serial log, stamping each new line, until a line contains one
 * of `until` (or QEMU ends, or the timeout). The stamps come from the test VM's clock, not the guest's.
 */
export async function nestedQemu(bootDevice: readonly string[], args: readonly string[], until: readonly string[], timeoutMs: number, pollMs = 20): Promise<SerialWatch> {
  const serialLog = '/tmp/bench-nested-serial.log';
  rmSync(serialLog, { force: true });
  const full = ['-accel', 'tcg', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', `file:${serialLog}`, ...bootDevice, ...args];
  const t0 = performance.now();
  const qemu = spawn('qemu-system-x86_64', full, { stdio: ['ignore', 'ignore', 'pipe'] });
  const result: SerialWatch = { lines: [], serial: '', qemuStderr: '', exitCode: null };
  qemu.stderr.on('data', (d: Buffer) => (result.qemuStderr += d.toString()));
  let exited = false;
  const closed = new Promise<void>((done) => qemu.on('close', (code) => ((exited = true), (result.exitCode = code), done())));
  try {
    while (performance.now() - t0 < timeoutMs) {
      result.serial = existsSync(serialLog) ? readFileSync(serialLog, 'latin1') : '';
      const complete = result.serial.replaceAll('\r', '').split('\n').slice(0, -1);
      const now = performance.now() - t0;
      for (const text of complete.slice(result.lines.length)) result.lines.push({ at: now, text });
      if (result.lines.some((l) => until.some((u) => l.text.includes(u))) || exited) break;
      await sleep(pollMs);
    }
  } finally {
    if (!exited) qemu.kill('SIGKILL');
    await closed;
  }
  return result;
}

/** The hook's pre-start for `vmid` (its gadget up, enumerated), `fn`, then its post-stop. */
export async function withGadget<T>(vmid: number, fn: (pre: TimedHook) => Promise<T>): Promise<T> {
  const pre = await timedHook(vmid, 'pre-start');
  try {
    return await fn(pre);
  } finally {
    await timedHook(vmid, 'post-stop');
  }
}

export interface LoaderTimes {
  /** START..DONE on the serial port */
  loadMs: number;
  /** QEMU start..START: firmware up, boot disk found, loader booted */
  bootMs: number;
  /** 10^6 bytes per second over START..DONE */
  mbps: number;
}

/** The payload loader's times from a watched boot that read `bytes`, or why there are none. */
export function loaderTimes(w: Pick<SerialWatch, 'lines' | 'serial' | 'qemuStderr'>, bytes: number): LoaderTimes | { failure: string } {
  const start = seenAt(w, LOADER_START);
  const done = seenAt(w, LOADER_DONE);
  if (start === undefined || done === undefined) {
    const why = seenAt(w, LOADER_FAIL) !== undefined ? 'INT 13h read failed' : start === undefined ? 'no START' : 'no DONE';
    return { failure: `${why}; serial ${JSON.stringify(w.serial.slice(-300))}; qemu ${w.qemuStderr.slice(-300)}` };
  }
  const loadMs = done - start;
  return { loadMs, bootMs: start, mbps: bytes / (loadMs / 1000) / 1e6 };
}
