/** Pure: the raw samples of each bench section → the figures (median + spread) and the targets. */
import type { diskSection } from '../test/e2e/guest/bench-disk.js';
import type { guestSection } from '../test/e2e/guest/bench-guest.js';
import type { latencySection } from '../test/e2e/guest/bench-latency.js';
import type { scaleSection } from '../test/e2e/guest/bench-scale.js';
import { lockHeldMs, medianShares, preStartShares, ratio, stat, type PreStartShares, type Stat } from './stats.js';

export type DiskRaw = Awaited<ReturnType<typeof diskSection>>;
export type GuestRaw = Awaited<ReturnType<typeof guestSection>>;
export type LatencyRaw = Awaited<ReturnType<typeof latencySection>>;
export type ScaleRaw = Awaited<ReturnType<typeof scaleSection>>;

export interface Raw {
  disk?: DiskRaw;
  guest?: GuestRaw;
  latency?: LatencyRaw;
  scale?: ScaleRaw;
}

export function summarizeDisk(raw: DiskRaw) {
  const speeds = raw.options.speeds.map((speed) => {
    const of = (b: 'hook' | 'baseline') => raw.samples.filter((s) => s.speed === speed && s.builder === b);
    const side = (b: 'hook' | 'baseline') => ({
      read: stat(of(b).map((s) => s.read.mbps)),
      write: stat(of(b).map((s) => s.write.mbps)),
      linkMbps: of(b)[0]?.usbMbps,
    });
    const hook = side('hook');
    const baseline = side('baseline');
    const mib = speed === 'full' ? raw.options.fullMib : raw.options.mib;
    return { speed, mib, hook, baseline, readRatio: ratio(hook.read, baseline.read), writeRatio: ratio(hook.write, baseline.write) };
  });
  return { speeds, backing: stat(raw.backing.map((b) => b.mbps)) };
}

export function summarizeGuest(raw: GuestRaw) {
  const speeds = raw.options.speeds.map((speed) => {
    const loads = raw.loads.filter((l) => l.speed === speed);
    const reads = (mode: 'direct' | 'buffered') => stat(raw.linux.filter((l) => l.speed === speed && l.mode === mode).map((l) => l.mbps));
    return {
      speed,
      bios: { mbps: stat(loads.map((l) => l.mbps)), loadS: stat(loads.map((l) => l.loadMs / 1000)), bootS: stat(loads.map((l) => l.bootMs / 1000)), mib: (loads[0]?.bytes ?? 0) / 1048576 },
      linux: { direct: reads('direct'), buffered: reads('buffered') },
    };
  });
  return { speeds, boot: summarizeBoot(raw), failures: raw.failures };
}

/**
 * The boot sources (stick, QEMU's usb-storage, SATA) loading the same payload: per source the load time,
 * MB/s and firmware-to-loader time, and the stick's load time as a multiple of each other source's
 * (medians). Undefined when the run did not compare them (older raw files have no `boot`).
 */
export function summarizeBoot(raw: GuestRaw) {
  const all = raw.boot ?? [];
  const names = raw.options.bootSources ?? [];
  if (!(raw.options.bootMib > 0) || names.length === 0) return undefined;
  const sources = names.map((source) => {
    const s = all.filter((b) => b.source === source);
    return {
      source,
      speed: s.find((b) => b.speed !== undefined)?.speed,
      loadS: stat(s.map((b) => b.loadMs / 1000)),
      mbps: stat(s.map((b) => b.mbps)),
      bootS: stat(s.map((b) => b.bootMs / 1000)),
    };
  });
  const stick = sources.find((x) => x.source === 'stick');
  /** the stick's load time ÷ this source's (NaN without both) */
  const stickTimes = (other: (typeof sources)[number]) => (stick ? ratio(stick.loadS, other.loadS) : Number.NaN);
  const of = (source: string) => sources.find((x) => x.source === source);
  const usb = of('qemu-usb-storage');
  const sata = of('sata');
  return {
    /** the payload actually read (whole loader calls), MiB */
    mib: all.length > 0 ? all[0]!.bytes / 1048576 : raw.options.bootMib,
    runs: raw.options.bootRuns,
    sources: sources.map((x) => ({ ...x, stickTimes: stickTimes(x) })),
    stickVsUsbStorage: usb ? stickTimes(usb) : Number.NaN,
    stickVsSata: sata ? stickTimes(sata) : Number.NaN,
  };
}

export function summarizeLatency(raw: LatencyRaw) {
  const modes = (['cold', 'warm'] as const).map((mode) => {
    const hooks = raw.hook.filter((h) => h.mode === mode);
    const base = raw.baseline.filter((b) => b.mode === mode);
    const enumWait = (t: Record<string, number> | undefined) => (t && t.enumerated !== undefined && t.bound !== undefined ? t.enumerated - t.bound : Number.NaN);
    const shares = hooks.map((h) => (h.pre.timing ? preStartShares(h.pre.timing, h.pre.ms) : undefined)).filter((s): s is PreStartShares => s !== undefined);
    return {
      mode,
      pre: stat(hooks.map((h) => h.pre.ms)),
      post: stat(hooks.map((h) => h.post.ms)),
      baselineUp: stat(base.map((b) => b.up.ms)),
      baselineDown: stat(base.map((b) => b.down.ms)),
      preWithoutEnumeration: stat(hooks.map((h) => h.pre.ms - enumWait(h.pre.timing))),
      baselineUpWithoutEnumeration: stat(base.map((b) => b.up.ms - enumWait(b.up.timing))),
      enumeration: stat(hooks.map((h) => enumWait(h.pre.timing))),
      lockHeld: stat(hooks.map((h) => lockHeldMs(h.pre.timing))),
      baselineEnumeration: stat(base.map((b) => enumWait(b.up.timing))),
      shares: medianShares(shares),
    };
  });
  const names = [...new Set((raw.variants ?? []).map((v) => v.name))];
  const variants = names.map((name) => {
    const v = (raw.variants ?? []).filter((x) => x.name === name);
    return {
      name,
      pre: stat(v.map((x) => x.pre.ms)),
      post: stat(v.map((x) => x.post.ms)),
      startup: stat(v.map((x) => x.pre.timing?.main ?? Number.NaN)),
      lockHeld: stat(v.map((x) => lockHeldMs(x.pre.timing))),
    };
  });
  return { modes, floor: { nodeEmpty: stat(raw.floor.nodeEmpty), bundleLoad: stat(raw.floor.bundleLoad) }, variants };
}

export function summarizeScale(raw: ScaleRaw) {
  const counts = raw.options.counts.map((n) => {
    const s = raw.samples.filter((x) => x.n === n);
    return {
      n,
      preTotal: stat(s.map((x) => x.preTotalMs)),
      postTotal: stat(s.map((x) => x.postTotalMs)),
      perHookPre: stat(s.flatMap((x) => x.pre.map((p) => p.ms))),
      perHookLockHeld: stat(s.flatMap((x) => x.pre.map((p) => lockHeldMs(p.timing)))),
      allEnumerated: s.length > 0 && s.every((x) => x.allEnumerated),
      quirkFallbacks: Math.max(0, ...s.map((x) => x.quirkFallbacks)),
      failed: s.flatMap((x) => x.failed),
    };
  });
  const single = counts.find((c) => c.n === 1)?.preTotal;
  return { counts: counts.map((c) => ({ ...c, vsSingle: single ? ratio(c.preTotal, single) : Number.NaN })) };
}

export interface Target {
  name: string;
  /** what was measured, in words with the numbers */
  measured: string;
  met: boolean | undefined;
}

export interface Summary {
  disk?: ReturnType<typeof summarizeDisk>;
  guest?: ReturnType<typeof summarizeGuest>;
  latency?: ReturnType<typeof summarizeLatency>;
  scale?: ReturnType<typeof summarizeScale>;
  targets: Target[];
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export function summarize(raw: Raw): Summary {
  const disk = raw.disk && summarizeDisk(raw.disk);
  const guest = raw.guest && summarizeGuest(raw.guest);
  const latency = raw.latency && summarizeLatency(raw.latency);
  const scale = raw.scale && summarizeScale(raw.scale);
  const targets: Target[] = [];

  const superDisk = disk?.speeds.find((s) => s.speed === 'super');
  if (superDisk) {
    targets.push({
      name: 'host-side read at super speed >= 0.95 x shell baseline',
      measured: `${f(superDisk.hook.read.median)} vs ${f(superDisk.baseline.read.median)} MB/s = ${f(superDisk.readRatio, 2)} x`,
      met: Number.isFinite(superDisk.readRatio) ? superDisk.readRatio >= 0.95 : undefined,
    });
  }
  const superGuest = guest?.speeds.find((s) => s.speed === 'super');
  if (superGuest && superDisk) {
    const linux = superGuest.linux.direct;
    const [what, g] = linux.n > 0 ? ['Linux dd O_DIRECT', linux] : ['BIOS INT 13h load', superGuest.bios.mbps];
    const r = ratio(g, superDisk.hook.read);
    targets.push({ name: 'guest-visible read >= 50% of host-side read (super)', measured: `${what} ${f(g.median)} MB/s vs host ${f(superDisk.hook.read.median)} MB/s = ${f(r * 100, 0)} %`, met: Number.isFinite(r) ? r >= 0.5 : undefined });
  }
  const warm = latency?.modes.find((m) => m.mode === 'warm');
  if (warm) {
    const over = warm.preWithoutEnumeration.median - warm.baselineUpWithoutEnumeration.median;
    targets.push({
      name: 'warm pre-start <= shell baseline + 150 ms (without the enumeration wait)',
      measured: `${f(warm.preWithoutEnumeration.median, 0)} vs ${f(warm.baselineUpWithoutEnumeration.median, 0)} ms: +${f(over, 0)} ms`,
      met: Number.isFinite(over) ? over <= 150 : undefined,
    });
  }
  const sixteen = scale?.counts.find((c) => c.n === 16);
  if (sixteen) {
    targets.push({
      name: '16 VMs at once: all enumerate, total <= 3 x a single pre-start',
      measured: `all enumerated: ${sixteen.allEnumerated ? 'yes' : 'no'}; ${f(sixteen.preTotal.median / 1000, 1)} s = ${f(sixteen.vsSingle, 1)} x one pre-start`,
      met: Number.isFinite(sixteen.vsSingle) ? sixteen.allEnumerated && sixteen.vsSingle <= 3 : undefined,
    });
  }
  return { disk, guest, latency, scale, targets };
}
