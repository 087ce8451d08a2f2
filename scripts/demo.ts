// npm run demo: the whole lifecycle on a real kernel in a VM (see test/e2e/guest/demo-main.ts).
import { bundleForVm } from '../test/e2e/harness/bundle.js';
import { FLAVOUR } from '../test/e2e/harness/flavour.js';
import { runInVm } from '../test/e2e/harness/vm.js';

const entry = await bundleForVm('test/e2e/guest/demo-main.ts', 'demo');
// PVUG_FLAVOUR=bookworm runs it on the Proxmox VE 8-like node instead (6.1, node 18)
process.stdout.write(`booting Debian ${FLAVOUR}'s kernel in QEMU (TCG, no KVM needed): about 10-30 s...\n`);
const MARKER = 'pvug-stage2: running the job';
let started = false;
// console chunks are as small as the serial port delivers them (a single '\r' or half a line): look for
// the marker in what has come so far, not in one chunk
let boot = '';
let partial = '';
const run = await runInVm({
  script: `exec node ${entry}`,
  // about a minute on an idle 2-core machine; generous for a loaded one
  timeoutMs: 900_000,
  onConsole: (chunk) => {
    // show the job's own output, not the VM's boot chatter
    let text = chunk;
    if (!started) {
      boot += chunk;
      const at = boot.indexOf(MARKER);
      if (at < 0) return;
      started = true;
      text = boot.slice(at + MARKER.length);
    }
    // whole lines only, without the harness's own lines and the kernel's power-off message
    const lines = (partial + text.replace(/\r/g, '')).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (!l.startsWith('pvug-stage2:') && !/^\[ *\d+\.\d+\] /.test(l)) process.stdout.write(`${l}\n`);
  },
});
process.stdout.write(`\nVM run took ${(run.durationMs / 1000).toFixed(1)} s, exit ${run.exitCode}\n`);
process.exit(run.exitCode);
