/**
 * Entry point INSIDE the test VM: `node scenarios.cjs <group> <out.json>` runs one group of scenarios and
 * writes their facts as JSON; the vitest files on the test side assert on them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { happyPath, identityAndData } from './scenarios-lifecycle.js';
import { PveNode } from './pve-node.js';
import { attachHelper, faultScenarios, lateCleanup, refusalScenarios, staleMappingStart, twoVms } from './scenarios-more.js';
import { apiDown, api403, concurrency, enumerationTimeout, kernelRefusal, mappingConflict, moduleBusy, noFreeController } from './scenarios-hardening.js';
import { allHookOutput } from './qemu-server.js';
import { blockVolume, rbdSysfs, sharedMigration, volumeRefusals } from './scenarios-storage.js';
import { unraidImage } from './scenarios-images.js';
import { identityScenarios, licenceStick } from './scenarios-identity.js';
import { mediaEject, mediaForceEject, mediaKill, mediaSwap } from './scenarios-media.js';
import { mediaGuest } from './scenarios-media-guest.js';
import { backupScenarios } from './scenarios-backup.js';

const groups: Record<string, ((node: PveNode) => Promise<unknown>)[]> = {
  lifecycle: [happyPath, identityAndData],
  multi: [twoVms, attachHelper, staleMappingStart, lateCleanup],
  faults: [faultScenarios, refusalScenarios],
  hardening: [moduleBusy, kernelRefusal, noFreeController, enumerationTimeout, apiDown, api403, mappingConflict],
  soak: [concurrency],
  storage: [blockVolume, sharedMigration, volumeRefusals, rbdSysfs],
  images: [unraidImage],
  identity: [identityScenarios, licenceStick],
  media: [mediaSwap, mediaEject, mediaForceEject, mediaKill, mediaGuest],
  backup: [backupScenarios],
};

async function main(): Promise<void> {
  const [group, out] = process.argv.slice(2);
  const scenarios = group ? groups[group] : undefined;
  if (!scenarios || !out) throw new Error(`usage: main <${Object.keys(groups).join('|')}> <out.json>`);
  const node = await PveNode.start();
  const facts: Record<string, unknown> = { nodeVersion: process.version };
  try {
    // PVUG_ONLY=name,name runs part of a group (for working on one scenario)
    const only = process.env.PVUG_ONLY?.split(',');
    for (const s of scenarios.filter((x) => !only || only.includes(x.name))) {
      const t0 = Date.now();
      try {
        facts[s.name] = await s(node);
      } catch (err) {
        facts[s.name] = { crashed: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      process.stdout.write(`scenario ${s.name}: ${Date.now() - t0} ms\n`);
      writeFileSync(out, JSON.stringify(facts, null, 2));
    }
  } finally {
    // the token secret must never reach the task log (hook stdout/stderr)
    let syslog = '';
    try {
      syslog = readFileSync('/var/log/syslog', 'utf8');
    } catch {
      // no syslogd: the task-log check still runs
    }
    facts.secretLeaked = allHookOutput().includes(node.secret) || syslog.includes(node.secret);
    facts.syslogHasHookLines = syslog.includes('pve-usb-gadget');
    facts.hookRuns = allHookOutput().length > 0;
    writeFileSync(out, JSON.stringify(facts, null, 2));
    await node.api.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
