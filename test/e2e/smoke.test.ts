/**
 * Smoke test of the real-kernel harness: one VM boot proves what every e2e scenario stands on.
 * Node 18.20 in the VM, dummy_hcd with two UDCs, configfs + the mass-storage function, syslog, loopback,
 * and a nested QEMU + SeaBIOS guest booting a marker boot sector.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForVm } from './harness/bundle.js';
import { FLAVOUR, NODE } from './harness/flavour.js';
import { runInVm, type VmRun } from './harness/vm.js';
import type { SmokeReport } from './vm/smoke-main.js';

const marker = `PVUG-SMOKE-${Date.now().toString(36)}`;

function smokeScript(smokeMain: string): string {
  return `set -u
cd /results
node --version >node-version.txt 2>&1
modprobe dummy_hcd num=2 is_high_speed=1 is_super_speed=1; echo $? >modprobe-dummy.rc
ls /sys/class/udc >udc.txt 2>&1
awk '$2 == "/sys/kernel/config" { print $3 }' /proc/mounts >configfs-fstype.txt
# -a: without it modprobe takes the second name as a parameter of the first module
modprobe -a libcomposite usb_f_mass_storage; echo $? >modprobe-gadget.rc
G=/sys/kernel/config/usb_gadget/smoke
mkdir $G && mkdir $G/functions/mass_storage.0 && ls $G/functions/mass_storage.0 >mass-storage.txt
rmdir $G/functions/mass_storage.0 $G
logger -t pvug-smoke "syslog ${marker}"; echo $? >logger.rc
exec node ${smokeMain} /results/smoke.json '${marker}'
`;
}

describe('e2e harness smoke (real kernel in QEMU)', () => {
  let run: VmRun;
  const read = (name: string): Promise<string> => readFile(join(run.resultsDir, name), 'utf8');

  beforeAll(async () => {
    const smokeMain = await bundleForVm('test/e2e/vm/smoke-main.ts', 'smoke-main');
    run = await runInVm({ script: smokeScript(smokeMain), timeoutMs: 240_000 });
    const nestedMs = (JSON.parse(await read('smoke.json').catch(() => '{}')) as Partial<SmokeReport>).nested?.elapsedMs;
    console.log(`smoke VM run: ${run.durationMs} ms (nested guest marker after ${nestedMs ?? '?'} ms)`);
  });

  afterAll(async () => {
    if (run) await rm(run.resultsDir, { recursive: true, force: true });
  });

  it('runs the script to completion', () => {
    expect(run.exitCode, run.output).toBe(0);
  });

  it(`runs Debian's node ${NODE[FLAVOUR].text} (${NODE[FLAVOUR].pve}'s)`, async () => {
    expect((await read('node-version.txt')).trim()).toMatch(NODE[FLAVOUR].re);
  });

  it('loads dummy_hcd with two UDCs', async () => {
    expect((await read('modprobe-dummy.rc')).trim()).toBe('0');
    expect((await read('udc.txt')).split('\n').filter(Boolean)).toEqual(['dummy_udc.0', 'dummy_udc.1']);
  });

  it('has configfs at /sys/kernel/config and the mass-storage gadget function', async () => {
    expect((await read('configfs-fstype.txt')).trim()).toBe('configfs');
    expect((await read('modprobe-gadget.rc')).trim()).toBe('0');
    expect((await read('mass-storage.txt')).split('\n')).toContain('lun.0');
  });

  it('has a syslog socket that logger writes to', async () => {
    expect((await read('logger.rc')).trim()).toBe('0');
    expect(run.syslog).toContain(`pvug-smoke: syslog ${marker}`);
  });

  it('reaches a server on 127.0.0.1', async () => {
    const report = JSON.parse(await read('smoke.json')) as SmokeReport;
    expect(report.loopbackError).toBeNull();
    expect(report.loopbackBody).toBe('pong from 127.0.0.1');
  });

  it('boots a nested QEMU guest from the marker boot sector', async () => {
    const report = JSON.parse(await read('smoke.json')) as SmokeReport;
    expect(report.nested.found, `${report.nested.qemuStderr}\n${report.nested.serial}`).toBe(true);
    expect(report.nested.serial).toContain(`${marker}\r\n`);
  });
});
