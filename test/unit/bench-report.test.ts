// npm run bench, the pure parts: statistics, the pre-start time shares, the targets, the parsers of what
// dd and the nested guest print, and the payload loader boot sector's layout.
import { describe, expect, it } from 'vitest';
import { lockHeldMs, median, preStartShares, ratio, stat } from '../../bench/stats.js';
import { summarize, type DiskRaw, type LatencyRaw, type ScaleRaw } from '../../bench/summary.js';
import { renderMarkdown } from '../../bench/markdown.js';
import { parseDd, parseBaselineTiming } from '../e2e/guest/bench-util.js';
import { parseGuestReads } from '../e2e/guest/bench-guest.js';
import { loaderPlan, payloadLoaderSector, LOADER_DONE, LOADER_MAX_BYTES, LOADER_START, SECTORS_PER_CALL } from '../e2e/guest/bench-loader.js';

describe('stat', () => {
  it('gives median, min, max and spread; even counts average the middle pair', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(stat([10, 12, 8])).toEqual({ n: 3, median: 10, min: 8, max: 12, spreadPct: 40 });
  });
  it('ignores missing values and says so with n = 0', () => {
    expect(stat([Number.NaN, 5]).n).toBe(1);
    expect(stat([]).n).toBe(0);
    expect(ratio(stat([]), stat([1]))).toBeNaN();
    expect(ratio(stat([3]), stat([2]))).toBe(1.5);
  });
});

describe('preStartShares', () => {
  const t = { main: 200, deps: 220, validated: 400, cleaned: 450, modules: 460, recorded: 470, quirk: 475, configfs: 500, bound: 510, enumerated: 700, mapping: 800, done: 801, end: 850 };
  it('splits the wall time into steps that add up to it', () => {
    const s = preStartShares(t, 900)!;
    expect(s).toEqual({ nodeStartup: 200, setup: 20, api: 180 + 100, lockAndChecks: 50, modules: 10, configfs: 50, enumeration: 190, finish: 100 });
    expect(Object.values(s).reduce((a, b) => a + b, 0)).toBe(900);
  });
  it('needs the main marks (a failed or foreign run has none)', () => {
    expect(preStartShares({ main: 1, end: 2 }, 3)).toBeUndefined();
  });
  it('host lock held: from lock-acquired to lock-released; n/a for a hook without the marks', () => {
    expect(lockHeldMs({ ...t, 'lock-acquired': 420, 'lock-released': 530 })).toBe(110);
    expect(lockHeldMs(t)).toBeNaN();
    expect(lockHeldMs(undefined)).toBeNaN();
  });
});

describe('summarize: targets', () => {
  const tr = (mbps: number) => ({ bytes: 1e6, seconds: 1 / mbps, mbps });
  const disk: DiskRaw = {
    options: { runs: 2, mib: 256, fullMib: 8, speeds: ['super'] },
    samples: [
      { builder: 'hook', speed: 'super', run: 1, usbMbps: 5000, read: tr(100), write: tr(90) },
      { builder: 'hook', speed: 'super', run: 2, usbMbps: 5000, read: tr(96), write: tr(90) },
      { builder: 'baseline', speed: 'super', run: 1, usbMbps: 5000, read: tr(100), write: tr(90) },
      { builder: 'baseline', speed: 'super', run: 2, usbMbps: 5000, read: tr(100), write: tr(90) },
    ],
    backing: [tr(1500)],
  };
  it('host-side read: met at 0.98 x the baseline, missed at 0.90 x', () => {
    expect(summarize({ disk }).targets[0]).toMatchObject({ met: true });
    const slow = { ...disk, samples: disk.samples.map((s) => (s.builder === 'hook' ? { ...s, read: tr(90) } : s)) };
    expect(summarize({ disk: slow }).targets[0]).toMatchObject({ met: false });
  });
  it('warm pre-start: compares both sides without their enumeration wait', () => {
    const hook = (ms: number, wait: number) => ({ phase: 'pre-start', code: 0, signal: null, stdout: '', stderr: '', ms, timing: { bound: 100, enumerated: 100 + wait } });
    const latency = {
      options: { runs: 1, controllers: 8 },
      floor: { nodeEmpty: [100], bundleLoad: [300] },
      hook: [{ mode: 'warm', run: 1, pre: hook(1000, 500), post: hook(400, 0) }],
      baseline: [{ mode: 'warm', run: 1, up: { ms: 600, timing: { bound: 10, enumerated: 260 } }, down: { ms: 50, timing: {} } }],
      variants: [],
    } as unknown as LatencyRaw;
    // 1000 - 500 = 500 against 600 - 250 = 350: +150 ms is still within the target
    const t = summarize({ latency }).targets[0]!;
    expect(t.measured).toContain('+150 ms');
    expect(t.met).toBe(true);
  });
  it('latency and scale: the host lock held per pre-start, in the summary and the report', () => {
    const timing = { bound: 100, enumerated: 300, 'lock-acquired': 40, 'lock-released': 160 };
    const pre = { phase: 'pre-start', code: 0, signal: null, stdout: '', stderr: '', ms: 1000, timing };
    const latency = {
      options: { runs: 1, controllers: 8 },
      floor: { nodeEmpty: [100], bundleLoad: [300] },
      hook: [{ mode: 'warm', run: 1, pre, post: { ...pre, timing: {} } }],
      baseline: [],
      variants: [],
    } as unknown as LatencyRaw;
    const scale: ScaleRaw = { options: { counts: [2], runs: 1 }, samples: [{ n: 2, run: 1, preTotalMs: 900, postTotalMs: 1, allEnumerated: true, quirkFallbacks: 0, failed: [], pre: [{ ms: 800, timing }, { ms: 850, timing: { ...timing, 'lock-released': 240 } }], post: [] }] };
    const sum = summarize({ latency, scale });
    expect(sum.latency?.modes.find((m) => m.mode === 'warm')?.lockHeld).toMatchObject({ n: 1, median: 120 });
    expect(sum.scale?.counts[0]?.perHookLockHeld).toMatchObject({ n: 2, min: 120, max: 200 });
    const md = renderMarkdown(sum, { date: '2026-01-01', cpu: 'cpu', cores: 2, memGiB: 4, hostKernel: 'k', qemu: 'q', vmCpus: 2, vmMemMb: 3072, loadBefore: [0, 0, 0], loadAfter: [0, 0, 0], durationS: 60, notes: [] });
    expect(md).toContain('| host lock held |');
    expect(md).toMatch(/\| warm \| 1000 \(1000-1000\) \|.*\| 120 \(120-120\) \|/);
    expect(md).toContain('| host lock held (each) |');
    expect(md).toContain('| 160 (120-200) ms |');
  });
  it('scale: 16 at once must all enumerate within 3 x one', () => {
    const sample = (n: number, ms: number, ok = true) => ({ n, run: 1, preTotalMs: ms, postTotalMs: 1, allEnumerated: ok, quirkFallbacks: 0, failed: [], pre: [], post: [] });
    const scale = (ok: boolean, ms: number): ScaleRaw => ({ options: { counts: [1, 16], runs: 1 }, samples: [sample(1, 1000), sample(16, ms, ok)] });
    expect(summarize({ scale: scale(true, 2900) }).targets[0]?.met).toBe(true);
    expect(summarize({ scale: scale(true, 3100) }).targets[0]?.met).toBe(false);
    expect(summarize({ scale: scale(false, 2000) }).targets[0]?.met).toBe(false);
  });
  it('renders every target into the Markdown report', () => {
    const md = renderMarkdown(summarize({ disk }), { date: '2026-01-01', cpu: 'cpu', cores: 2, memGiB: 4, hostKernel: 'k', qemu: 'q', vmCpus: 2, vmMemMb: 3072, loadBefore: [0, 0, 0], loadAfter: [0, 0, 0], durationS: 60, notes: [] });
    expect(md).toContain('| host-side read at super speed >= 0.95 x shell baseline | 98.0 vs 100.0 MB/s = 0.98 x | yes |');
    expect(md).toContain('without KVM');
  });
});

describe('parsers', () => {
  it('reads GNU dd summaries', () => {
    const t = parseDd('256+0 records in\n256+0 records out\n268435456 bytes (268 MB, 256 MiB) copied, 2.5 s, 107 MB/s\n');
    expect(t).toEqual({ bytes: 268435456, seconds: 2.5, mbps: 268435456 / 2.5 / 1e6 });
    expect(() => parseDd('dd: error reading')).toThrow(/no dd summary/);
  });
  it('reads the baseline script timing line', () => {
    expect(parseBaselineTiming('x\nbaseline timing: modules=3 configfs=40 bound=41 enumerated=300 end=301\n')).toEqual({ modules: 3, configfs: 40, bound: 41, enumerated: 300, end: 301 });
  });
  it('times nested-guest reads from begin to read line on the test VM clock', () => {
    const lines = [
      { at: 1000, text: 'PVUG-GUEST begin direct 1' },
      { at: 3000, text: 'PVUG-GUEST read direct 1 67108864 2500' },
      { at: 3100, text: 'PVUG-GUEST begin buffered 1' },
      { at: 4100, text: 'PVUG-GUEST read buffered 1 67108864 900' },
    ];
    const r = parseGuestReads(lines, 'super');
    expect(r.map((x) => [x.mode, x.ms, x.guestMs])).toEqual([['direct', 2000, 2500], ['buffered', 1000, 900]]);
    expect(r[0]!.mbps).toBeCloseTo(67108864 / 2 / 1e6);
  });
});

describe('payload loader boot sector', () => {
  it('reads whole 127-sector calls covering the payload', () => {
    expect(loaderPlan(256 * 1024 * 1024)).toEqual({ calls: 4129, bytes: 4129 * SECTORS_PER_CALL * 512 });
    expect(() => loaderPlan(0x10000 * SECTORS_PER_CALL * 512)).toThrow(RangeError);
  });
  it('is a 512-byte MBR with the call count, the disk address packet and both markers in place', () => {
    const s = payloadLoaderSector(loaderPlan(1024 * 1024));
    expect(s).toHaveLength(512);
    expect([s[510], s[511]]).toEqual([0x55, 0xaa]);
    expect(s.readUInt16LE(0x87)).toBe(17);
    expect([s[0x8c], s.readUInt16LE(0x8e), s.readUInt16LE(0x92)]).toEqual([16, SECTORS_PER_CALL, 0x1000]);
    // the code's operands point at these offsets (0x7c00 + offset)
    expect(s.indexOf(Buffer.from([0xbe, 0x8c, 0x7c]))).toBe(0x40);
    expect(s.toString('latin1', 0x9c, 0x9c + LOADER_START.length)).toBe(LOADER_START);
    expect(s.toString('latin1', 0xae, 0xae + LOADER_DONE.length)).toBe(LOADER_DONE);
  });
});

describe('the loader and an unRAID-sized payload', () => {
  it('400 MiB is 6,451 calls of 127 sectors, well below the 16-bit call counter', () => {
    const plan = loaderPlan(400 * 1024 * 1024);
    expect(plan).toEqual({ calls: 6451, bytes: 6451 * 65_024 });
    expect(plan.bytes).toBeGreaterThanOrEqual(400 * 1024 * 1024);
    expect(payloadLoaderSector(plan).readUInt16LE(0x87)).toBe(6451);
  });
  it('reads at most 65,535 calls (~3.97 GiB)', () => {
    expect(LOADER_MAX_BYTES).toBe(4_261_347_840);
    expect(loaderPlan(LOADER_MAX_BYTES).calls).toBe(0xffff);
    expect(() => loaderPlan(LOADER_MAX_BYTES + 1)).toThrow(/at most 4261347840/);
    expect(SECTORS_PER_CALL * 512).toBe(65_024);
  });
});
