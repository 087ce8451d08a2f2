/**
 * Runs INSIDE the test VM. Bench section "guest": what the nested guest sees through the passthrough, with
 * the gadget built by the hook (host isolation on, as shipped) and QEMU started the way qemu-server does
 * (qemu-xhci + usb-host by vendorid/productid). Two guests:
 *  - "bios": the payload loader boot sector (bench-loader.ts) reads N MiB through SeaBIOS's INT 13h, as
 *    syslinux loads unRAID's bzimage + bzroot; timed from its START to its DONE line on the serial port.
 *  - "linux": the test kernel + the bench initramfs (test/e2e/vm/bench-guest-init) reads /dev/sda with dd
 *    (O_DIRECT, then buffered) and prints the times itself.
 * Then the boot sources (bench-sources.ts): an unRAID-sized payload from the stick, from QEMU's own
 * usb-storage and from a SATA disk, in the same run.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LOADER_DONE, LOADER_FAIL, loaderPlan, payloadLoaderSector } from './bench-loader.js';
import { loaderTimes, nestedQemu, seenAt, withGadget } from './bench-nested.js';
import { BENCH_USB, bootDeviceArgs, type BootSource } from './bench-boot-devices.js';
import { bootSources } from './bench-sources.js';
import { log, mustRun } from './bench-util.js';
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
  /** the boot sources' payload, MiB (unRAID-sized: ~400; 0: no comparison) */
  bootMib: number;
  /** boots of each boot source */
  bootRuns: number;
  bootSources: BootSource[];
}

const VMID = 610;

/** one VM per speed (the fake API cannot change notes): 610 super, 611 high, 612 full */
const vmidFor = (speed: BenchSpeed) => VMID + ['super', 'high', 'full'].indexOf(speed);

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

  for (const speed of opts.speeds) node.addVm(vmidFor(speed), gadgetNotes({ image, ...BENCH_USB, serial: `PVUGBENCH0002${vmidFor(speed)}`, speed }));
  const stick = bootDeviceArgs('stick', image);

  const loads: LoadSample[] = [];
  const linux: LinuxSample[] = [];
  const linuxBoots: { speed: BenchSpeed; upMs: number; diskMs: number; guestLines: { at: number; text: string }[] }[] = [];
  const failures: string[] = [];
  for (const speed of opts.speeds) {
    for (let run = 1; run <= opts.loadRuns; run++) {
      await withGadget(vmidFor(speed), async () => {
        const w = await nestedQemu(stick, ['-m', '64'], [LOADER_DONE, LOADER_FAIL], 600_000);
        const t = loaderTimes(w, plan.bytes);
        if ('failure' in t) {
          failures.push(`bios ${speed} run ${run}: ${t.failure}`);
          return;
        }
        loads.push({ speed, run, bytes: plan.bytes, ...t });
        log(`guest bios ${speed} run ${run}: ${(plan.bytes / 1048576).toFixed(0)} MiB in ${(t.loadMs / 1000).toFixed(1)} s (${t.mbps.toFixed(1)} MB/s), booted after ${(t.bootMs / 1000).toFixed(1)} s`);
      });
    }
    if (opts.linux) {
      await withGadget(vmidFor(speed), async () => {
        const append = `console=ttyS0 quiet mitigations=off pvug.mib=${opts.linuxMib} pvug.runs=${opts.linuxRuns}`;
        const args = ['-m', '256', '-kernel', `${GUEST_FILES}/vmlinuz`, '-initrd', `${GUEST_FILES}/initramfs.cpio.gz`, '-append', append];
        const w = await nestedQemu(stick, args, ['PVUG-GUEST done', 'PVUG-GUEST FAIL'], opts.linuxTimeoutMs, 50);
        const reads = parseGuestReads(w.lines, speed);
        linux.push(...reads);
        const up = seenAt(w, 'PVUG-GUEST up') ?? Number.NaN;
        linuxBoots.push({ speed, upMs: up, diskMs: seenAt(w, 'PVUG-GUEST disk') ?? Number.NaN, guestLines: w.lines.filter((l) => l.text.startsWith('PVUG-GUEST')) });
        if (seenAt(w, 'PVUG-GUEST done') === undefined) failures.push(`linux ${speed}: no 'done' after ${opts.linuxTimeoutMs} ms; serial ${JSON.stringify(w.serial.slice(-400))}`);
        log(`guest linux ${speed}: init after ${(up / 1000).toFixed(0)} s; ${reads.map((r) => `${r.mode} ${r.mbps.toFixed(1)} MB/s`).join(', ') || 'no reads'}`);
      });
    }
  }
  // the stick at the first speed measured above (super by default), against QEMU's usb-storage and SATA
  const boot = await bootSources(node, { mib: opts.bootMib, runs: opts.bootRuns, sources: opts.bootSources, speed: opts.speeds[0] ?? 'super' }, failures);
  return { options: opts, loads, linux, linuxBoots, boot, failures };
}
