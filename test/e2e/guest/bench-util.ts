/** Runs INSIDE the test VM: small helpers shared by the bench sections (test/e2e/guest/bench-*.ts). */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseTimingLine } from '../../../src/hook/timing.js';
import { scsiDisksOn } from './host-state.js';
import { SETTINGS } from './pve-node.js';
import { HOOK, NODE_BIN, runHook, type HookRun } from './qemu-server.js';

export const BASELINE = '/project/bench/baseline-gadget.sh';

export interface ProcRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** wall time from spawn to exit with both pipes at EOF */
  ms: number;
}

/** Run a program (no shell) and wait for it, like PVE's run_command waits for a hook. */
export function run(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<ProcRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

export async function mustRun(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<ProcRun> {
  const r = await run(file, args, env);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
  return r;
}

export interface Transfer {
  bytes: number;
  seconds: number;
  /** decimal megabytes per second (10^6 bytes), as dd prints them */
  mbps: number;
}

/** The summary line of GNU dd: "268435456 bytes (268 MB, 256 MiB) copied, 17.3 s, 15.5 MB/s". */
export function parseDd(stderr: string): Transfer {
  const m = /(\d+) bytes .*copied, ([\d.]+) s/.exec(stderr);
  if (!m) throw new Error(`no dd summary in: ${stderr.trim().slice(-300)}`);
  const bytes = Number(m[1]);
  const seconds = Number(m[2]);
  return { bytes, seconds, mbps: bytes / seconds / 1e6 };
}

/** Sequential read (of=/dev/null) or write (if=/dev/zero) of `mib` MiB in 1 MiB blocks. */
export async function dd(kind: 'read' | 'write', path: string, mib: number, direct: boolean): Promise<Transfer> {
  const flag = direct ? [kind === 'read' ? 'iflag=direct' : 'oflag=direct'] : [];
  const io = kind === 'read' ? [`if=${path}`, 'of=/dev/null'] : ['if=/dev/zero', `of=${path}`, 'conv=notrunc'];
  const r = await mustRun('dd', [...io, 'bs=1M', `count=${mib}`, ...flag]);
  return parseDd(r.stderr);
}

export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The sdX disk the host's usb-storage made for the device on `busPort` (usb-storage scans ~1 s late). */
export function diskOn(busPort: string, timeoutMs = 30_000): Promise<string> {
  return waitFor(`a disk on ${busPort}`, () => scsiDisksOn(busPort).find((d) => d.name.startsWith('sd'))?.name, timeoutMs, 100);
}

/** Negotiated speed of a USB device in Mbit/s (12, 480, 5000). */
export function usbSpeed(busPort: string): number {
  return Number(readFileSync(`/sys/bus/usb/devices/${busPort}/speed`, 'utf8').trim());
}

/** The bus-port of the device on dummy_hcd.N (the UDC's pair), when there is one. */
export function busPortOfUdc(udc: string): string | undefined {
  const n = udc.split('.')[1];
  const hcd = `/sys/devices/platform/dummy_hcd.${n}`;
  try {
    for (const bus of readdirSync(hcd).filter((e) => /^usb\d+$/.test(e))) {
      const name = `${bus.slice(3)}-1`;
      if (readdirSync(`${hcd}/${bus}`).includes(name)) return name;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export interface TimedHook extends HookRun {
  /** step → ms since the hook process started (PVE_USB_GADGET_TIMING=1) */
  timing?: Record<string, number>;
}

/**
 * The shipped hook (dist/hook.cjs on Debian's node) or another bundle of it (`hook`, to compare builds),
 * with its per-step timing line; any exit code. Spawned as qemu-server's stand-in does (runHook).
 */
export async function hookRun(vmid: number, phase: 'pre-start' | 'post-stop', hook = HOOK): Promise<TimedHook> {
  const env = { PVE_USB_GADGET_TIMING: '1' };
  const r = hook === HOOK ? await runHook(vmid, phase, env) : await runOtherHook(hook, vmid, phase, env);
  return { ...r, timing: parseTimingLine(r.stderr) };
}

async function runOtherHook(hook: string, vmid: number, phase: string, env: Record<string, string>): Promise<HookRun> {
  const r = await run(NODE_BIN, [hook, String(vmid), phase], { PVE_USB_GADGET_SETTINGS: SETTINGS, ...env });
  return { phase, code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr, ms: r.ms };
}

/** hookRun that throws when the hook fails. */
export async function timedHook(vmid: number, phase: 'pre-start' | 'post-stop', hook = HOOK): Promise<TimedHook> {
  const r = await hookRun(vmid, phase, hook);
  if (r.code !== 0) throw new Error(`hook ${vmid} ${phase} failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().slice(-800)}`);
  return r;
}

/** "baseline timing: modules=3 configfs=40 ..." from bench/baseline-gadget.sh */
export function parseBaselineTiming(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith('baseline timing:')) ?? '';
  const out: Record<string, number> = {};
  for (const m of line.matchAll(/([a-z]+)=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

/** /proc/loadavg's first three fields. */
export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export const log = (s: string) => process.stdout.write(`bench: ${s}\n`);
