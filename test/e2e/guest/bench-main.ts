/**
 * Entry point INSIDE the test VM for `npm run bench`: `node bench.cjs <section> <out.json> <options.json>`
 * runs one section on a one-node "Proxmox host" (fake API, shipped hook bundle) and writes its raw samples
 * as JSON. scripts/bench.ts boots one VM per section and turns the samples into the report.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { diskSection, type DiskOptions } from './bench-disk.js';
import { guestSection, type GuestOptions } from './bench-guest.js';
import { latencySection, type LatencyOptions } from './bench-latency.js';
import { scaleSection, type ScaleOptions } from './bench-scale.js';
import { loadAverage } from './bench-util.js';
import { PveNode } from './pve-node.js';

export interface BenchOptions {
  disk: DiskOptions;
  guest: GuestOptions;
  latency: LatencyOptions;
  scale: ScaleOptions;
}
export type Section = keyof BenchOptions;

const sections: { [S in Section]: (node: PveNode, opts: BenchOptions[S]) => Promise<unknown> } = {
  disk: diskSection,
  guest: guestSection,
  latency: latencySection,
  scale: scaleSection,
};

async function main(): Promise<void> {
  const [section, out, optionsFile] = process.argv.slice(2);
  if (!section || !(section in sections) || !out || !optionsFile) throw new Error(`usage: bench-main <${Object.keys(sections).join('|')}> <out.json> <options.json>`);
  const options = JSON.parse(readFileSync(optionsFile, 'utf8')) as BenchOptions;
  const s = section as Section;
  // the host compares these with its own clock: a TCG guest's clock can drift when the host is busy
  const clock = () => process.stdout.write(`bench-clock ${Date.now()}\n`);
  clock();
  const node = await PveNode.start();
  const started = Date.now();
  const loadBefore = loadAverage();
  try {
    const result = await (sections[s] as (n: PveNode, o: unknown) => Promise<unknown>)(node, options[s]);
    writeFileSync(
      out,
      JSON.stringify({
        section: s,
        vm: {
          kernel: execFileSync('uname', ['-r']).toString().trim(),
          node: process.version,
          cpus: Number(execFileSync('nproc').toString().trim()),
          clocksource: readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim(),
        },
        loadBefore,
        loadAfter: loadAverage(),
        durationMs: Date.now() - started,
        result,
      }),
    );
  } finally {
    await node.api.close();
    clock();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
