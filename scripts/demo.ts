// npm run demo: the whole lifecycle on a real kernel in a VM (see test/e2e/guest/demo-main.ts).
import { bundleForVm } from '../test/e2e/harness/bundle.js';
import { runInVm } from '../test/e2e/harness/vm.js';

const entry = await bundleForVm('test/e2e/guest/demo-main.ts', 'demo');
process.stdout.write('booting a Debian bookworm kernel in QEMU (TCG, no KVM needed): about 10-20 s...\n');
let started = false;
const run = await runInVm({
  script: `exec node ${entry}`,
  // about a minute on an idle 2-core machine; generous for a loaded one
  timeoutMs: 900_000,
  onConsole: (chunk) => {
    // show the job's own output, not the VM's boot chatter
    if (!started && chunk.includes('pvug-stage2: running the job')) started = true;
    else if (started) process.stdout.write(chunk.replace(/^pvug-stage2:.*$/gm, '').replace(/\r/g, ''));
  },
});
process.stdout.write(`\nVM run took ${(run.durationMs / 1000).toFixed(1)} s, exit ${run.exitCode}\n`);
process.exit(run.exitCode);
