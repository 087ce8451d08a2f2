/**
 * Runs INSIDE the test VM (bundled with bundleForVm, on Debian's node 18): boot a nested QEMU guest and
 * wait until a marker appears on its serial port. The test VM has no KVM, so the nested guest is TCG too.
 */
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface NestedGuestOptions {
  /** devices and boot options, e.g. ['-drive', 'file=/tmp/disk.img,format=raw,if=ide'] */
  qemuArgs: string[];
  /** text to wait for on the guest's first serial port */
  marker: string;
  /** where QEMU writes the serial port (default /tmp/nested-serial.log; replaced on each run) */
  serialLog?: string;
  /** give up after this long (default 60 s) */
  timeoutMs?: number;
  /** guest memory (default 64 MiB) */
  memMb?: number;
  /** how often to read the serial log (default 200 ms) */
  pollMs?: number;
}

export interface NestedGuestResult {
  /** the marker appeared before the timeout */
  found: boolean;
  /** the serial log as read last */
  serial: string;
  /** milliseconds from starting QEMU to seeing the marker (or to giving up) */
  elapsedMs: number;
  /** QEMU's own stderr (errors such as a missing device) */
  qemuStderr: string;
  /** QEMU's exit code if it ended by itself before the marker showed, else null */
  qemuExitCode: number | null;
}

/** Start `qemu-system-x86_64 -accel tcg -nodefaults -display none ...`, wait for the marker, then kill it. */
export async function bootNestedGuest(opts: NestedGuestOptions): Promise<NestedGuestResult> {
  const serialLog = opts.serialLog ?? '/tmp/nested-serial.log';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const pollMs = opts.pollMs ?? 200;
  await rm(serialLog, { force: true });
  const args = [
    '-accel', 'tcg',
    '-nodefaults',
    '-display', 'none',
    '-m', String(opts.memMb ?? 64),
    '-serial', `file:${serialLog}`,
    ...opts.qemuArgs,
  ];
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let qemuStderr = '';
  qemu.stderr.on('data', (chunk: Buffer) => {
    qemuStderr += chunk.toString('utf8');
  });
  let qemuExitCode: number | null = null;
  let exited = false;
  const closed = new Promise<void>((done) => {
    qemu.on('close', (code) => {
      exited = true;
      qemuExitCode = code;
      done();
    });
    qemu.on('error', (err) => {
      exited = true;
      qemuStderr += String(err);
      done();
    });
  });

  let serial = '';
  let found = false;
  try {
    while (Date.now() - started < timeoutMs) {
      serial = await readFile(serialLog, 'latin1').catch(() => '');
      if (serial.includes(opts.marker)) {
        found = true;
        break;
      }
      if (exited) break;
      await sleep(pollMs);
    }
  } finally {
    if (!exited) qemu.kill('SIGKILL');
    await closed;
  }
  const elapsedMs = Date.now() - started;
  return { found, serial, elapsedMs, qemuStderr, qemuExitCode: found ? null : qemuExitCode };
}
