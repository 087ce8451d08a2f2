// npm run bench: throughput, latency and scale of the emulated stick on a real kernel (one test VM per
// section, see test/e2e/guest/bench-main.ts), written to bench/results/<date>-<flavour>[-<name>].json and .md.
// PVUG_FLAVOUR=bookworm runs it on the PVE 8-like test VM (6.1, node 18); the default is trixie (PVE 9-like).
//   --quick            small sizes and one run each (to try the bench out, not for figures)
//   --only=a,b         sections: disk, guest, latency, scale
//   --linux / --no-linux   the nested Linux guest (slow under nested TCG; off by default)
//   --out=DIR          where to write (default bench/results)
//   --name=x           a suffix for the results files
//   --mib=N --runs=N   the transfer size (disk and guest sections) and the runs of every section: a full
//                      run on a 2-core TCG machine takes about an hour; 64 MiB x 3 runs about a third of it
//   --boot-mib=N       the guest section's boot sources comparison: an unRAID-sized payload (default 400, 32
//                      with --quick; 0 skips it) loaded from the stick, QEMU's own usb-storage and a SATA disk
//                      (test/e2e/guest/bench-sources.ts); --mib does not change it
//   --boot-runs=N      boots of each boot source (default 1: a 400 MiB load from the stick takes ~150 s under
//                      nested TCG); --runs=N sets it too unless --boot-runs is given
//   --boot-sources=a,b which of stick, qemu-usb-storage, sata (default all three)
//   --kernel-args=a;b  extra test VM kernel arguments
//   --variants=a,b     also time test/e2e/.build/hook-a.cjs, ... (other builds of the hook) warm, interleaved
//                      with dist/hook.cjs, in the latency section: for trying start-up changes
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderMarkdown, type Machine } from '../bench/markdown.js';
import { summarize, type Raw } from '../bench/summary.js';
import type { BenchOptions, Section } from '../test/e2e/guest/bench-main.js';
import { bundleForVm } from '../test/e2e/harness/bundle.js';
import { cacheDir, projectRoot, runInVm } from '../test/e2e/harness/vm.js';
import { FLAVOUR } from '../test/e2e/harness/flavour.js';
import { schedulerOfModule } from '../src/kernel/scheduler.js';
import { BOOT_SOURCES, bootTimeoutMs, type BootSource } from '../test/e2e/guest/bench-boot-devices.js';

const SECTIONS: Section[] = ['disk', 'guest', 'latency', 'scale'];
const VM_MEM_MB = 3072;
const VM_CPUS = 2;

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = flag('quick');
const only = (value('only')?.split(',') ?? SECTIONS) as Section[];
const outDir = value('out') ?? join(projectRoot(), 'bench', 'results');
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}; sections: ${SECTIONS.join(', ')}`);
const linux = flag('linux') && !flag('no-linux');

const options: BenchOptions = quick
  ? {
      disk: { runs: 1, mib: 32, fullMib: 2, speeds: ['super', 'high', 'full'] },
      guest: { speeds: ['super'], loadMib: 32, loadRuns: 1, linux, linuxMib: 16, linuxRuns: 1, linuxTimeoutMs: 1_200_000, bootMib: 32, bootRuns: 1, bootSources: [...BOOT_SOURCES] },
      latency: { runs: 2, controllers: 8 },
      scale: { counts: [1, 4], runs: 1 },
    }
  : {
      disk: { runs: 3, mib: 256, fullMib: 8, speeds: ['super', 'high', 'full'] },
      guest: { speeds: ['super', 'high'], loadMib: 256, loadRuns: 3, linux, linuxMib: 64, linuxRuns: 3, linuxTimeoutMs: 1_200_000, bootMib: 400, bootRuns: 1, bootSources: [...BOOT_SOURCES] },
      latency: { runs: 5, controllers: 8 },
      scale: { counts: [1, 4, 8, 16], runs: 3 },
    };
const mib = value('mib');
const runs = value('runs');
if (mib !== undefined) {
  if (!/^[1-9][0-9]*$/.test(mib)) throw new Error(`--mib takes a whole number of MiB, got ${mib}`);
  options.disk.mib = Number(mib);
  options.guest.loadMib = Number(mib);
}
if (runs !== undefined) {
  if (!/^[1-9][0-9]?$/.test(runs)) throw new Error(`--runs takes a whole number from 1 to 99, got ${runs}`);
  for (const o of [options.disk, options.latency, options.scale]) o.runs = Number(runs);
  options.guest.loadRuns = Number(runs);
  options.guest.linuxRuns = Number(runs);
  options.guest.bootRuns = Number(runs);
}
const bootMib = value('boot-mib');
const bootRuns = value('boot-runs');
const bootSourceList = value('boot-sources');
if (bootMib !== undefined) {
  if (!/^(0|[1-9][0-9]*)$/.test(bootMib)) throw new Error(`--boot-mib takes a whole number of MiB (0: no boot sources), got ${bootMib}`);
  options.guest.bootMib = Number(bootMib);
}
if (bootRuns !== undefined) {
  if (!/^[1-9][0-9]?$/.test(bootRuns)) throw new Error(`--boot-runs takes a whole number from 1 to 99, got ${bootRuns}`);
  options.guest.bootRuns = Number(bootRuns);
}
if (bootSourceList !== undefined) {
  const list = bootSourceList.split(',').filter(Boolean);
  for (const b of list) if (!BOOT_SOURCES.includes(b as BootSource)) throw new Error(`unknown boot source ${b}; boot sources: ${BOOT_SOURCES.join(', ')}`);
  options.guest.bootSources = list as BootSource[];
}
const bootBoots = options.guest.bootMib > 0 ? options.guest.bootRuns * options.guest.bootSources.length : 0;
const variants = value('variants')?.split(',').filter(Boolean) ?? [];
if (variants.length > 0) options.latency.variants = variants.map((name) => ({ name, path: `/project/test/e2e/.build/hook-${name}.cjs` }));
// scale: one run of 1+4+8+16 VMs took ~7 minutes under TCG on 2 cores (2026-11-21)
const TIMEOUT_MS: Record<Section, number> = {
  disk: 1_800_000,
  // plus each boot source's boot at its own timeout (bootTimeoutMs, bench-boot-devices.ts)
  guest: (linux ? 3_600_000 : 1_800_000) + bootBoots * bootTimeoutMs(options.guest.bootMib),
  latency: 900_000,
  scale: 300_000 + 720_000 * options.scale.runs,
};

// no_timer_check: a busy host can starve the TCG guest during the kernel's IO-APIC timer check (it then
// panics). --kernel-args=a,b adds more (e.g. clearcpuid=erms,fsrm: see docs/benchmark.md).
const KERNEL_ARGS = ['no_timer_check', ...(value('kernel-args')?.split(';').filter(Boolean) ?? [])];

const say = (line: string) => process.stdout.write(`${line}\n`);

async function runSection(entry: string, section: Section): Promise<{ raw?: unknown; vm?: Record<string, unknown>; error?: string }> {
  const resultsDir = mkdtempSync(join(tmpdir(), 'pvug-bench-'));
  writeFileSync(join(resultsDir, 'options.json'), JSON.stringify(options));
  let started = false;
  let partial = '';
  const clocks: { vm: number; host: number }[] = [];
  try {
    const run = await runInVm({
      script: `exec node ${entry} ${section} /results/out.json /results/options.json`,
      resultsDir,
      memMb: VM_MEM_MB,
      cpus: VM_CPUS,
      timeoutMs: TIMEOUT_MS[section],
      kernelArgs: KERNEL_ARGS,
      extraShares: section === 'guest' ? [{ hostPath: join(cacheDir(), 'bench-guest'), tag: 'benchguest', mountPoint: '/bench-guest', readOnly: true }] : [],
      onConsole: (chunk) => {
        // progress lines of the section ("bench: ..."), whole lines only
        const lines = (partial + chunk.replaceAll('\r', '')).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) {
          if (l.includes('pvug-stage2: running the job')) started = true;
          else if (started && l.startsWith('bench-clock ')) clocks.push({ vm: Number(l.split(' ')[1]), host: Date.now() });
          else if (started && l.startsWith('bench')) say(`  ${l}`);
        }
      },
    });
    if (run.exitCode !== 0) return { error: `exit ${run.exitCode}: ${run.output.trim().split('\n').slice(-15).join('\n')}` };
    const out = JSON.parse(readFileSync(join(resultsDir, 'out.json'), 'utf8')) as { result: unknown; vm: Record<string, unknown>; loadBefore: number[]; loadAfter: number[] };
    const [a, b] = [clocks[0], clocks[clocks.length - 1]];
    // > 1: the VM's clock ran fast against the host's; in-VM timings are off by the same factor
    const vmClockRate = a && b && b.host - a.host > 10_000 ? (b.vm - a.vm) / (b.host - a.host) : undefined;
    return { raw: out.result, vm: { ...out.vm, loadBefore: out.loadBefore, loadAfter: out.loadAfter, vmClockRate } };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}

/** Which transfer scheduler the test kernel's own dummy_hcd has (its symbols; trixie ships it as .ko.xz). */
function testModuleScheduler(): string {
  const out = execFileSync('find', [join(cacheDir(), 'kernel'), '-name', 'dummy_hcd.ko*']).toString().trim().split('\n')[0];
  if (!out) return 'unknown (no dummy_hcd module in the cache)';
  const bytes = out.endsWith('.xz') ? execFileSync('xz', ['-dc', out], { maxBuffer: 64 << 20 }) : readFileSync(out);
  return schedulerOfModule(bytes.toString('latin1'));
}

/** The same floor as the latency section, on this machine's own node (not in the VM): the TCG factor. */
function nativeFloor(runs = 5): { nodeEmpty: number[]; bundleLoad: number[]; node: string } {
  const time = (args: string[]) => {
    const t = performance.now();
    spawnSync(process.execPath, args, { stdio: 'ignore' });
    return performance.now() - t;
  };
  const out = { nodeEmpty: [] as number[], bundleLoad: [] as number[], node: process.version };
  for (let i = 0; i < runs; i++) {
    out.nodeEmpty.push(time(['-e', '0']));
    out.bundleLoad.push(time([join(projectRoot(), 'dist', 'hook.cjs')]));
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg();
  say(`bench: sections ${only.join(', ')}${quick ? ' (quick)' : ''}; host load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const entry = await bundleForVm('test/e2e/guest/bench-main.ts', 'bench');
  const raw: Raw = {};
  const errors: string[] = [];
  const vms: Record<string, unknown>[] = [];
  for (const section of only) {
    const t = Date.now();
    say(`bench: section ${section}: booting the test VM`);
    const r = await runSection(entry, section);
    say(`bench: section ${section}: ${r.error ? `FAILED (${r.error.split('\n')[0]})` : 'done'} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    if (r.error) errors.push(`${section}: ${r.error}`);
    if (r.raw) (raw as Record<string, unknown>)[section] = r.raw;
    if (r.vm) vms.push({ section, ...r.vm });
  }

  const native = nativeFloor();
  const vm = vms[0] as { kernel?: string; node?: string } | undefined;
  const date = new Date().toISOString().slice(0, 10);
  const notes = [
    ...(quick ? ['--quick: small sizes, one run each: not figures to quote.'] : []),
    ...(KERNEL_ARGS.length > 1 ? [`Test VM kernel arguments added: ${KERNEL_ARGS.slice(1).join(' ')}.`] : []),
    ...(variants.length > 0 ? [`Hook variants timed next to the shipped one: ${variants.join(', ')}.`] : []),
    ...(only.length < SECTIONS.length ? [`Only sections ${only.join(', ')}.`] : []),
    ...(mib !== undefined || runs !== undefined || bootMib !== undefined || bootRuns !== undefined || bootSourceList !== undefined
      ? [`Sizes and runs set on the command line: ${[mib && `--mib=${mib}`, runs && `--runs=${runs}`, bootMib && `--boot-mib=${bootMib}`, bootRuns && `--boot-runs=${bootRuns}`, bootSourceList && `--boot-sources=${bootSourceList}`].filter(Boolean).join(' ')}.`]
      : []),
    ...(linux ? [] : ['Nested Linux guest not run (--linux): under nested TCG it needs minutes to boot; the guest-visible figure is the BIOS loader.']),
    `Test VM clock against the host's (1.00 = in-VM timings are true): ${vms.map((v) => `${String(v.section)} ${typeof v.vmClockRate === 'number' ? v.vmClockRate.toFixed(3) : 'n/a'}`).join(', ')}.`,
    ...errors.map((e) => `Section failed: ${e.split('\n')[0]}`),
  ];
  const machine: Machine = {
    date,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    hostKernel: release(),
    qemu: execFileSync('qemu-system-x86_64', ['--version']).toString().split('\n')[0]?.replace(/^QEMU emulator version /, '') ?? '?',
    testKernel: vm?.kernel,
    flavour: FLAVOUR,
    scheduler: testModuleScheduler(),
    node: vm?.node,
    vmCpus: VM_CPUS,
    vmMemMb: VM_MEM_MB,
    loadBefore,
    loadAfter: loadavg(),
    nativeFloor: native,
    durationS: (Date.now() - t0) / 1000,
    notes,
  };
  const summary = summarize(raw);
  mkdirSync(outDir, { recursive: true });
  // one file per flavour and day; --name=x adds a suffix (e.g. latency-1)
  const base = join(outDir, [date, FLAVOUR, value('name')].filter(Boolean).join('-'));
  writeFileSync(`${base}.json`, `${JSON.stringify({ machine, options, summary, errors, vms, raw }, null, 1)}\n`);
  writeFileSync(`${base}.md`, renderMarkdown(summary, machine));
  say(`bench: wrote ${base}.json and ${base}.md in ${(machine.durationS / 60).toFixed(1)} min`);
  for (const t of summary.targets) say(`bench: target ${t.met === undefined ? 'n/a' : t.met ? 'MET ' : 'MISSED'}: ${t.name}: ${t.measured}`);
  process.exit(errors.length > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
