/**
 * Runs INSIDE the test VM. Bench section "guest": what the nested guest sees through the passthrough, with
 * the gadget built by the hook (host isolation on, as shipped) and QEMU started the way qemu-server does
 * (qemu-xhci + usb-host by vendorid/productid). Two guests:
 *  - "bios": the payload loader boot sector (bench-loader.ts) reads N MiB through SeaBIOS's INT 13h, as
 *    syslinux loads unRAID's bzimage + bzroot; timed from its START to its DONE line on the serial port.
 *  - "linux": the test kernel + the bench initramfs (test/e2e/vm/bench-guest-init) reads /dev/sda with dd
 *    (O_DIRECT, then buffered) and prints the times itself.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOADER_DONE, LOADER_FAIL, LOADER_START, loaderPlan, payloadLoaderSector } from './bench-loader.js';
import { log, mustRun, timedHook, type TimedHook } from './bench-util.js';
import type { BenchSpeed } from './bench-disk.js';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';

/** Where the bench shares $CACHE/bench-guest (kernel + initramfs) into the test VM. */
export const GUEST_FILES = '/bench-guest';

export interface GuestOptions {
  speeds: BenchSpeed[];
  /** payload the BIOS loader reads, MiB */
  loadMib: number;
  /** boots of the BIOS loader per speed */
  loadRuns: number;
  /** run the Linux guest (slow under nested TCG) */
  linux: boolean;
  /** MiB per dd read in the Linux guest */
  linuxMib: number;
  /** O_DIRECT reads in the Linux guest (one boot); a buffered read follows */
  linuxRuns: number;
  linuxTimeoutMs: number;
}

const VMID = 610;
const USB = { vendor_id: '0x1d6b', product_id: '0x0105' };

interface SerialWatch {
  /** each complete serial line with the ms since QEMU started at which the test VM first saw it */
  lines: { at: number; text: string }[];
  serial: string;
  qemuStderr: string;
  exitCode: number | null;
}

/** ms at which the first line containing `text` was seen */
const seenAt = (w: SerialWatch, text: string) => w.lines.find((l) => l.text.includes(text))?.at;

/**
 * Start the nested QEMU and poll its serial log, stamping each new line, until a line contains one of
 * `until` (or QEMU ends, or the timeout). The stamps come from the test VM's clock, not the guest's.
 */
async function nestedQemu(args: string[], until: string[], timeoutMs: number, pollMs = 20): Promise<SerialWatch> {
  const serialLog = '/tmp/bench-nested-serial.log';
  rmSync(serialLog, { force: true });
  const usb = ['-device', 'qemu-xhci,p2=15,p3=15,id=xhci', '-device', `usb-host,bus=xhci.0,port=1,vendorid=${USB.vendor_id},productid=${USB.product_id},id=usb0,bootindex=100`];
  const full = ['-accel', 'tcg', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', `file:${serialLog}`, ...usb, ...args];
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

/** one VM per speed (the fake API cannot change notes): 610 super, 611 high, 612 full */
const vmidFor = (speed: BenchSpeed) => VMID + ['super', 'high', 'full'].indexOf(speed);

async function withGadget<T>(speed: BenchSpeed, fn: (pre: TimedHook) => Promise<T>): Promise<T> {
  const pre = await timedHook(vmidFor(speed), 'pre-start');
  try {
    return await fn(pre);
  } finally {
    await timedHook(vmidFor(speed), 'post-stop');
  }
}

export interface LoadSample {
  speed: BenchSpeed;
  run: number;
  bytes: number;
  /** START..DONE on the serial port */
  loadMs: number;
  /** QEMU start..START: firmware up, stick found, loader booted */
  bootMs: number;
  mbps: number;
}

export interface LinuxSample {
  speed: BenchSpeed;
  mode: 'direct' | 'buffered';
  run: number;
  bytes: number;
  /** "begin" to "read" line, on the test VM's clock */
  ms: number;
  /** what the guest measured with its own clock (can run slow under a busy host) */
  guestMs: number;
  mbps: number;
}

/** Pairs "PVUG-GUEST begin <mode> <run>" with "PVUG-GUEST read <mode> <run> <bytes> <ms>" lines. */
export function parseGuestReads(lines: readonly { at: number; text: string }[], speed: BenchSpeed): LinuxSample[] {
  const out: LinuxSample[] = [];
  for (const l of lines) {
    const m = /PVUG-GUEST read (direct|buffered) (\d+) (\d+) (\d+)/.exec(l.text);
    if (!m) continue;
    const begin = lines.find((b) => b.text.includes(`PVUG-GUEST begin ${m[1]} ${m[2]}`));
    const bytes = Number(m[3]);
    const ms = begin ? l.at - begin.at : Number.NaN;
    out.push({ speed, mode: m[1] as 'direct' | 'buffered', run: Number(m[2]), bytes, ms, guestMs: Number(m[4]), mbps: bytes / (ms / 1000) / 1e6 });
  }
  return out;
}

export async function guestSection(node: PveNode, opts: GuestOptions) {
  node.writeSettings({ isolate: true, keepModules: true, controllers: 1 });
  const plan = loaderPlan(opts.loadMib * 1024 * 1024);
  const image = `${IMAGES}/bench-guest.img`;
  const imageMib = Math.ceil(plan.bytes / 1048576) + 1;
  await mustRun('dd', ['if=/dev/zero', `of=${image}`, 'bs=1M', `count=${Math.max(imageMib, opts.linuxMib + 1)}`]);
  const fd = openSync(image, 'r+');
  writeSync(fd, payloadLoaderSector(plan), 0, 512, 0);
  closeSync(fd);

  for (const speed of opts.speeds) node.addVm(vmidFor(speed), gadgetNotes({ image, ...USB, serial: `PVUGBENCH0002${vmidFor(speed)}`, speed }));

  const loads: LoadSample[] = [];
  const linux: LinuxSample[] = [];
  const linuxBoots: { speed: BenchSpeed; upMs: number; diskMs: number; guestLines: { at: number; text: string }[] }[] = [];
  const failures: string[] = [];
  for (const speed of opts.speeds) {
    for (let run = 1; run <= opts.loadRuns; run++) {
      await withGadget(speed, async () => {
        const w = await nestedQemu(['-m', '64'], [LOADER_DONE, LOADER_FAIL], 600_000);
        const start = seenAt(w, LOADER_START);
        const done = seenAt(w, LOADER_DONE);
        if (start === undefined || done === undefined) {
          failures.push(`bios ${speed} run ${run}: ${seenAt(w, LOADER_FAIL) !== undefined ? 'INT 13h read failed' : 'no DONE'}; serial ${JSON.stringify(w.serial.slice(-300))}; qemu ${w.qemuStderr.slice(-300)}`);
          return;
        }
        const loadMs = done - start;
        loads.push({ speed, run, bytes: plan.bytes, loadMs, bootMs: start, mbps: plan.bytes / (loadMs / 1000) / 1e6 });
        log(`guest bios ${speed} run ${run}: ${(plan.bytes / 1048576).toFixed(0)} MiB in ${(loadMs / 1000).toFixed(1)} s (${(plan.bytes / (loadMs / 1000) / 1e6).toFixed(1)} MB/s), booted after ${(start / 1000).toFixed(1)} s`);
      });
    }
    if (opts.linux) {
      await withGadget(speed, async () => {
        const append = `console=ttyS0 quiet mitigations=off pvug.mib=${opts.linuxMib} pvug.runs=${opts.linuxRuns}`;
        const args = ['-m', '256', '-kernel', `${GUEST_FILES}/vmlinuz`, '-initrd', `${GUEST_FILES}/initramfs.cpio.gz`, '-append', append];
        const w = await nestedQemu(args, ['PVUG-GUEST done', 'PVUG-GUEST FAIL'], opts.linuxTimeoutMs, 50);
        const reads = parseGuestReads(w.lines, speed);
        linux.push(...reads);
        const up = seenAt(w, 'PVUG-GUEST up') ?? Number.NaN;
        linuxBoots.push({ speed, upMs: up, diskMs: seenAt(w, 'PVUG-GUEST disk') ?? Number.NaN, guestLines: w.lines.filter((l) => l.text.startsWith('PVUG-GUEST')) });
        if (seenAt(w, 'PVUG-GUEST done') === undefined) failures.push(`linux ${speed}: no 'done' after ${opts.linuxTimeoutMs} ms; serial ${JSON.stringify(w.serial.slice(-400))}`);
        log(`guest linux ${speed}: init after ${(up / 1000).toFixed(0)} s; ${reads.map((r) => `${r.mode} ${r.mbps.toFixed(1)} MB/s`).join(', ') || 'no reads'}`);
      });
    }
  }
  return { options: opts, loads, linux, linuxBoots, failures };
}
