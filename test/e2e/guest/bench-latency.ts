/**
 * Runs INSIDE the test VM. Bench section "latency": wall time of the shipped hook's pre-start and post-stop
 * (as Proxmox waits for them: spawn to exit), cold (dummy_hcd & co not loaded, as after every post-stop with
 * the default keep_loaded = false) and warm (keep_loaded = true), with the hook's own per-step timing; next
 * to the baseline script doing the same configfs writes; and the floor: node starting with nothing to run,
 * and node loading the hook bundle only.
 */
import { log, mustRun, parseBaselineTiming, run, timedHook, BASELINE, type TimedHook } from './bench-util.js';
import { HOOK, NODE_BIN } from './qemu-server.js';
import { gadgetNotes, IMAGES, markerImage, type PveNode } from './pve-node.js';

export interface LatencyOptions {
  runs: number;
  controllers: number;
  /**
   * Other bundles of the hook to compare warm, interleaved with the shipped one (paths as the VM sees
   * them, e.g. /project/test/e2e/.build/hook-x.cjs): for trying start-up changes before making them.
   */
  variants?: { name: string; path: string }[];
}

export interface VariantSample {
  name: string;
  run: number;
  pre: TimedHook;
  post: TimedHook;
}

const VMID = 620;
const USB = { vendor_id: '0x1d6b', product_id: '0x0106' };
const MODULES = ['dummy_hcd', 'usb_f_mass_storage', 'libcomposite'];

export interface BaselineRun {
  ms: number;
  timing: Record<string, number>;
}

export interface CycleSample {
  mode: 'cold' | 'warm';
  run: number;
  pre: TimedHook;
  post: TimedHook;
}

export interface BaselineSample {
  mode: 'cold' | 'warm';
  run: number;
  up: BaselineRun;
  down: BaselineRun;
}

const strip = (h: TimedHook): TimedHook => ({ ...h, stdout: '', stderr: h.stderr.split('\n').filter((l) => l.includes('WARN') || l.includes('ERROR')).join('\n') });

async function baseline(args: string[]): Promise<BaselineRun> {
  const r = await mustRun('bash', [BASELINE, ...args]);
  return { ms: r.ms, timing: parseBaselineTiming(r.stderr) };
}

export async function latencySection(node: PveNode, opts: LatencyOptions) {
  const image = await markerImage('bench-latency.img', 'PVUG-BENCH-LATENCY');
  node.addVm(VMID, gadgetNotes({ image: `${IMAGES}/bench-latency.img`, ...USB, serial: 'PVUGBENCH0003' }));
  await mustRun('modprobe', ['usb_storage']);
  const unload = () => run('modprobe', ['-r', ...MODULES]);

  const floor = { nodeEmpty: [] as number[], bundleLoad: [] as number[] };
  for (let i = 0; i < opts.runs; i++) {
    floor.nodeEmpty.push((await mustRun(NODE_BIN, ['-e', '0'])).ms);
    // no arguments: the bundle loads, main prints its usage and returns 2
    floor.bundleLoad.push((await run(NODE_BIN, [HOOK])).ms);
  }
  log(`latency floor: node -e 0 ${floor.nodeEmpty.map((x) => x.toFixed(0)).join('/')} ms, hook bundle load ${floor.bundleLoad.map((x) => x.toFixed(0)).join('/')} ms`);

  const hook: CycleSample[] = [];
  const shell: BaselineSample[] = [];
  const upArgs = ['up', 'baseline', 'dummy_udc.0', USB.vendor_id, USB.product_id, 'PVUGBENCH0003', image, 'super'];

  // cold: the hook unloads the modules at post-stop (keep_loaded = false), so each pre-start loads them
  node.writeSettings({ keepModules: false, controllers: opts.controllers });
  await unload();
  for (let r = 1; r <= opts.runs; r++) {
    const pre = await timedHook(VMID, 'pre-start');
    const post = await timedHook(VMID, 'post-stop');
    hook.push({ mode: 'cold', run: r, pre: strip(pre), post: strip(post) });
    await unload();
    const up = await baseline([...upArgs, '--modules', String(opts.controllers)]);
    const down = await baseline(['down', 'baseline', '--modules']);
    shell.push({ mode: 'cold', run: r, up, down });
    log(`latency cold run ${r}: hook ${pre.ms.toFixed(0)} / ${post.ms.toFixed(0)} ms, baseline ${up.ms.toFixed(0)} / ${down.ms.toFixed(0)} ms`);
    await unload();
  }

  // warm: modules stay loaded
  node.writeSettings({ keepModules: true, controllers: opts.controllers });
  await mustRun('modprobe', ['-a', 'libcomposite', 'usb_f_mass_storage']);
  await mustRun('modprobe', ['dummy_hcd', `num=${opts.controllers}`, 'is_high_speed=1', 'is_super_speed=1']);
  // one untimed cycle each: page cache and the API's TLS session are warm after it, as on a busy host
  await timedHook(VMID, 'pre-start');
  await timedHook(VMID, 'post-stop');
  await baseline(upArgs);
  await baseline(['down', 'baseline']);
  for (let r = 1; r <= opts.runs; r++) {
    const first = r % 2 === 1 ? 'hook' : 'baseline';
    for (const who of first === 'hook' ? ['hook', 'baseline'] : ['baseline', 'hook']) {
      if (who === 'hook') {
        const pre = await timedHook(VMID, 'pre-start');
        const post = await timedHook(VMID, 'post-stop');
        hook.push({ mode: 'warm', run: r, pre: strip(pre), post: strip(post) });
      } else {
        const up = await baseline(upArgs);
        const down = await baseline(['down', 'baseline']);
        shell.push({ mode: 'warm', run: r, up, down });
      }
    }
    const h = hook[hook.length - 1]!;
    const s = shell[shell.length - 1]!;
    log(`latency warm run ${r}: hook ${h.pre.ms.toFixed(0)} / ${h.post.ms.toFixed(0)} ms, baseline ${s.up.ms.toFixed(0)} / ${s.down.ms.toFixed(0)} ms`);
  }

  const variants: VariantSample[] = [];
  const all = opts.variants?.length ? [{ name: 'shipped', path: HOOK }, ...opts.variants] : [];
  for (let r = 1; r <= opts.runs && all.length > 0; r++) {
    // rotate the order each run: no bundle always runs right after the same other one
    for (let i = 0; i < all.length; i++) {
      const v = all[(i + r) % all.length]!;
      const pre = await timedHook(VMID, 'pre-start', v.path);
      const post = await timedHook(VMID, 'post-stop', v.path);
      variants.push({ name: v.name, run: r, pre: strip(pre), post: strip(post) });
    }
    log(`latency variants run ${r}: ${variants.slice(-all.length).map((v) => `${v.name} ${v.pre.ms.toFixed(0)}/${v.post.ms.toFixed(0)}`).join(', ')} ms`);
  }
  return { options: opts, floor, hook, baseline: shell, variants };
}
