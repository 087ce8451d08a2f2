/**
 * Runs INSIDE the test VM. Part of the bench's "guest" section: the boot-time side of an unRAID-sized
 * payload (~400 MB: bzimage + bzroot + bzmodules + bzfirmware), read by the payload loader boot sector
 * (bench-loader.ts) through SeaBIOS's INT 13h from three boot sources in one run, all serving the same
 * image file with the same loader sector:
 *  - stick: our gadget, built by the hook, passed through with usb-host on qemu-xhci as qemu-server does;
 *  - qemu-usb-storage: no gadget; QEMU's own emulated USB stick (usb-storage) on the same qemu-xhci: what a
 *    user could pick instead, without a licensed stick's GUID (its VID and PID are fixed: bench-boot-devices.ts);
 *  - sata: no gadget; an ide-hd on QEMU's AHCI, as Proxmox's sataN is: unRAID 7.3+'s internal boot.
 * The sources take turns within each run, so a slow spell of the host falls on all three alike.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { LOADER_DONE, LOADER_FAIL, loaderPlan, payloadLoaderSector } from './bench-loader.js';
import { BENCH_USB, bootDeviceArgs, bootTimeoutMs, type BootSource } from './bench-boot-devices.js';
import { loaderTimes, nestedQemu, withGadget } from './bench-nested.js';
import { log, mustRun } from './bench-util.js';
import type { BenchSpeed } from './bench-disk.js';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';

export interface BootOptions {
  /** payload the loader reads from each source, MiB (0: no comparison) */
  mib: number;
  /** boots of each source */
  runs: number;
  sources: BootSource[];
  /** the stick's speed */
  speed: BenchSpeed;
}

export interface BootSample {
  source: BootSource;
  /** the stick's speed (the others have their own) */
  speed?: BenchSpeed;
  run: number;
  bytes: number;
  /** START..DONE on the serial port */
  loadMs: number;
  /** QEMU start..START: firmware up, boot disk found, loader booted */
  bootMs: number;
  mbps: number;
}

/** its own VM: the notes name the boot image, not the guest section's */
const VMID = 613;
const IMAGE = `${IMAGES}/bench-boot.img`;

/** Boots every source `opts.runs` times, interleaved; failed boots are added to `failures`. */
export async function bootSources(node: PveNode, opts: BootOptions, failures: string[]): Promise<BootSample[]> {
  if (opts.mib <= 0 || opts.sources.length === 0) return [];
  const plan = loaderPlan(opts.mib * 1024 * 1024);
  // the loader reads LBA 0 on; a read past the end would fail, so one MiB more than the payload
  await mustRun('dd', ['if=/dev/zero', `of=${IMAGE}`, 'bs=1M', `count=${Math.ceil(plan.bytes / 1048576) + 1}`]);
  const fd = openSync(IMAGE, 'r+');
  writeSync(fd, payloadLoaderSector(plan), 0, 512, 0);
  closeSync(fd);
  node.addVm(VMID, gadgetNotes({ image: IMAGE, ...BENCH_USB, serial: `PVUGBENCH0002${VMID}`, speed: opts.speed }));

  const samples: BootSample[] = [];
  const boot = async (source: BootSource, run: number) => {
    const w = await nestedQemu(bootDeviceArgs(source, IMAGE), ['-m', '64'], [LOADER_DONE, LOADER_FAIL], bootTimeoutMs(opts.mib));
    const t = loaderTimes(w, plan.bytes);
    if ('failure' in t) {
      failures.push(`boot ${source} run ${run}: ${t.failure}`);
      return;
    }
    samples.push({ source, ...(source === 'stick' ? { speed: opts.speed } : {}), run, bytes: plan.bytes, ...t });
    log(`guest boot ${source} run ${run}: ${(plan.bytes / 1048576).toFixed(0)} MiB in ${(t.loadMs / 1000).toFixed(1)} s (${t.mbps.toFixed(1)} MB/s), booted after ${(t.bootMs / 1000).toFixed(1)} s`);
  };
  try {
    for (let run = 1; run <= opts.runs; run++) {
      for (const source of opts.sources) {
        if (source === 'stick') await withGadget(VMID, () => boot(source, run));
        else await boot(source, run);
      }
    }
  } finally {
    // the test VM's root is a tmpfs: give the memory back
    rmSync(IMAGE, { force: true });
  }
  return samples;
}
