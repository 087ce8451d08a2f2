/**
 * Runs INSIDE the test VM. Bench section "scale": N VMs' pre-starts at once (distinct VID:PIDs, each its own
 * VM as Proxmox would run them: separate processes, no shared lock but our host lock), then their
 * post-stops at once. Modules warm (loaded with enough controllers), host isolation on as shipped: past
 * about 10 sticks the usb_storage quirks list is full and the hook falls back to detaching usb-storage
 * after enumeration (counted).
 */
import { readFileSync } from 'node:fs';
import { hookRun, log, mustRun, type TimedHook, timedHook } from './bench-util.js';
import { gadgetNotes, IMAGES, markerImage, type PveNode } from './pve-node.js';

export interface ScaleOptions {
  counts: number[];
  runs: number;
}

export interface ScaleSample {
  n: number;
  run: number;
  /** first spawn to last exit */
  preTotalMs: number;
  postTotalMs: number;
  /** every pre-start exited 0 and the host lists every gadget with its id */
  allEnumerated: boolean;
  /** pre-starts that found the quirks list full and detached usb-storage instead */
  quirkFallbacks: number;
  /** the last lines of failed pre-starts */
  failed: string[];
  pre: Pick<TimedHook, 'ms' | 'timing'>[];
  post: Pick<TimedHook, 'ms' | 'timing'>[];
}

const vmidOf = (i: number) => 700 + i;
const pidOf = (i: number) => `0x${(0x0200 + i).toString(16).padStart(4, '0')}`;

function enumerated(vmid: number, pid: string): boolean {
  try {
    const rec = JSON.parse(readFileSync(`/run/pve-usb-gadget/${vmid}.json`, 'utf8')) as { busPort?: string };
    if (!rec.busPort) return false;
    const read = (f: string) => readFileSync(`/sys/bus/usb/devices/${rec.busPort}/${f}`, 'utf8').trim();
    return read('idVendor') === '1d6b' && `0x${read('idProduct')}` === pid;
  } catch {
    return false;
  }
}

export async function scaleSection(node: PveNode, opts: ScaleOptions) {
  const max = Math.max(...opts.counts);
  node.writeSettings({ keepModules: true, controllers: max });
  await mustRun('modprobe', ['-a', 'libcomposite', 'usb_f_mass_storage', 'usb_storage']);
  await mustRun('modprobe', ['dummy_hcd', `num=${max}`, 'is_high_speed=1', 'is_super_speed=1']);
  for (let i = 0; i < max; i++) {
    await markerImage(`bench-scale-${i}.img`, `PVUG-BENCH-SCALE-${i}`);
    node.addVm(vmidOf(i), gadgetNotes({ image: `${IMAGES}/bench-scale-${i}.img`, vendor_id: '0x1d6b', product_id: pidOf(i), serial: `PVUGSCALE${String(i).padStart(4, '0')}` }));
  }
  // one untimed start/stop: the hook bundle is in the page cache afterwards, as on a host that runs VMs
  await timedHook(vmidOf(0), 'pre-start');
  await timedHook(vmidOf(0), 'post-stop');

  const samples: ScaleSample[] = [];
  for (let run = 1; run <= opts.runs; run++) {
    for (const n of opts.counts) {
      const ids = Array.from({ length: n }, (_, i) => i);
      let t0 = performance.now();
      const pre = await Promise.all(ids.map((i) => hookRun(vmidOf(i), 'pre-start')));
      const preTotalMs = performance.now() - t0;
      const allEnumerated = pre.every((p) => p.code === 0) && ids.every((i) => enumerated(vmidOf(i), pidOf(i)));
      const failed = pre.filter((p) => p.code !== 0).map((p) => p.stderr.trim().split('\n').slice(-2).join(' / '));
      const quirkFallbacks = pre.filter((p) => p.stderr.includes('quirks list is full')).length;
      t0 = performance.now();
      const post = await Promise.all(ids.map((i) => hookRun(vmidOf(i), 'post-stop')));
      const postTotalMs = performance.now() - t0;
      const pick = (h: TimedHook) => ({ ms: h.ms, timing: h.timing });
      samples.push({ n, run, preTotalMs, postTotalMs, allEnumerated, quirkFallbacks, failed, pre: pre.map(pick), post: post.map(pick) });
      log(`scale run ${run} N=${n}: pre-starts ${preTotalMs.toFixed(0)} ms (all enumerated: ${allEnumerated}, quirk fallbacks ${quirkFallbacks}), post-stops ${postTotalMs.toFixed(0)} ms`);
    }
  }
  return { options: opts, samples };
}
