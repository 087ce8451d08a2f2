/**
 * Runs INSIDE the test VM. Bench section "disk": host-side throughput of the emulated disk through the
 * host's own usb-storage (isolation off), for a gadget built by the hook and one built by the baseline
 * script (bench/baseline-gadget.sh) with the same settings, at each speed; and the backing file itself.
 */
import { readFileSync } from 'node:fs';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';
import { BASELINE, busPortOfUdc, dd, diskOn, log, mustRun, timedHook, usbSpeed, waitFor, type Transfer } from './bench-util.js';

export type Builder = 'hook' | 'baseline';
export type BenchSpeed = 'full' | 'high' | 'super';

export interface DiskSample {
  builder: Builder;
  speed: BenchSpeed;
  run: number;
  /** negotiated speed the host reports, Mbit/s */
  usbMbps: number;
  read: Transfer;
  write: Transfer;
}

export interface DiskOptions {
  runs: number;
  /** MiB per transfer at high and super speed */
  mib: number;
  /** MiB per transfer at full speed (12 Mbit/s: 256 MiB would take minutes) */
  fullMib: number;
  speeds: BenchSpeed[];
}

const VMID = 600;
const USB = { vendor_id: '0x1d6b', product_id: '0x0104' };

interface Built {
  busPort: string;
  teardown(): Promise<void>;
}

/** one VM per speed (the fake API cannot change notes): 600 super, 601 high, 602 full */
const vmidFor = (speed: BenchSpeed) => VMID + ['super', 'high', 'full'].indexOf(speed);

async function buildWithHook(speed: BenchSpeed): Promise<Built> {
  const vmid = vmidFor(speed);
  await timedHook(vmid, 'pre-start');
  const state = JSON.parse(readFileSync(`/run/pve-usb-gadget/${vmid}.json`, 'utf8')) as { busPort: string };
  return { busPort: state.busPort, teardown: async () => void (await timedHook(vmid, 'post-stop')) };
}

async function buildWithBaseline(image: string, speed: BenchSpeed): Promise<Built> {
  const udc = 'dummy_udc.0';
  await mustRun('bash', [BASELINE, 'up', 'baseline', udc, USB.vendor_id, USB.product_id, 'PVUGBENCH0001', image, speed]);
  const busPort = await waitFor('the baseline device', () => busPortOfUdc(udc), 10_000);
  return { busPort, teardown: async () => void (await mustRun('bash', [BASELINE, 'down', 'baseline'])) };
}

export async function diskSection(node: PveNode, opts: DiskOptions) {
  // isolation off: the host's usb-storage must claim the disk; modules stay loaded between builds
  node.writeSettings({ isolate: false, keepModules: true, controllers: 1 });
  // loaded once for both builders (the baseline may go first); the hook finds them loaded and keeps them
  await mustRun('modprobe', ['-a', 'libcomposite', 'usb_f_mass_storage', 'usb_storage', 'sd_mod']);
  await mustRun('modprobe', ['dummy_hcd', 'num=1', 'is_high_speed=1', 'is_super_speed=1']);
  const image = `${IMAGES}/bench-disk.img`;
  const imageMib = Math.max(opts.mib, opts.fullMib);
  // real pages, not a sparse file: holes would read faster than data
  await mustRun('dd', ['if=/dev/zero', `of=${image}`, 'bs=1M', `count=${imageMib}`]);

  for (const speed of opts.speeds) node.addVm(vmidFor(speed), gadgetNotes({ image, ...USB, serial: `PVUGBENCH0001${vmidFor(speed)}`, speed }));

  const samples: DiskSample[] = [];
  const backing: Transfer[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const speed of opts.speeds) {
      const mib = speed === 'full' ? opts.fullMib : opts.mib;
      // alternate who goes first, so a slow phase of the machine does not always hit the same builder
      const order: Builder[] = run % 2 === 1 ? ['hook', 'baseline'] : ['baseline', 'hook'];
      for (const builder of order) {
        const built = builder === 'hook' ? await buildWithHook(speed) : await buildWithBaseline(image, speed);
        try {
          const disk = `/dev/${await diskOn(built.busPort)}`;
          const read = await dd('read', disk, mib, true);
          const write = await dd('write', disk, mib, true);
          const s: DiskSample = { builder, speed, run, usbMbps: usbSpeed(built.busPort), read, write };
          samples.push(s);
          log(`disk run ${run} ${speed} ${builder}: read ${read.mbps.toFixed(1)} MB/s, write ${write.mbps.toFixed(1)} MB/s (${s.usbMbps} Mbit/s link)`);
        } finally {
          await built.teardown();
        }
      }
    }
    // the backing file on the VM's tmpfs root: from page cache (tmpfs has no O_DIRECT in 6.1)
    const b = await dd('read', image, opts.mib, false);
    backing.push(b);
    log(`disk run ${run} backing file: read ${b.mbps.toFixed(1)} MB/s`);
  }
  return { options: opts, samples, backing };
}
