// ensureModules: when dummy_hcd does not load, the error says which kernel lacks it, what kernel-module
// recorded about it, and the command (modprobe itself runs for real only on the e2e kernels).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostFs } from '../../src/ports/host-fs.js';
import { CommandError } from '../../src/errors.js';
import type { Exec } from '../../src/ports/exec.js';
import { ensureModules } from '../../src/host/modules.js';
import { writeRecord } from '../../src/kernel/records.js';
import { parseSettings } from '../../src/settings/parse.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

let root: string;
let fs: HostFs;
let put: TmpRoot['put'];
let tmp: TmpRoot;
beforeEach(() => {
  tmp = tmpRoot('pvug-modules-');
  ({ root, fs, put } = tmp);
  for (const m of ['configfs', 'libcomposite', 'usb_f_mass_storage', 'usb_storage']) mkdirSync(join(root, 'sys/module', m), { recursive: true });
  mkdirSync(join(root, 'sys/kernel/config/usb_gadget'), { recursive: true });
  put('/proc/sys/kernel/osrelease', '6.14.8-2-pve\n');
});
afterEach(() => tmp.remove());

const noDummyHcd: Exec = async (file, args) =>
  file === 'modprobe' && args[0] === 'dummy_hcd' ? { exitCode: 1, stdout: '', stderr: "modprobe: FATAL: Module dummy_hcd not found in directory /lib/modules/6.14.8-2-pve" } : { exitCode: 0, stdout: '', stderr: '' };
const settings = () => parseSettings('', '/etc/pve-usb-gadget/settings.ini', 'pve');
const failure = async () => ensureModules(fs, noDummyHcd, settings()).then(() => undefined, (e: unknown) => e);

describe('ensureModules without dummy_hcd', () => {
  it('names the kernel and the command', async () => {
    const err = await failure();
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).toLine()).toMatch(/^modprobe dummy_hcd .*failed \(exit 1\): modprobe: FATAL: Module dummy_hcd not found.*; fix: dummy_hcd is not built for kernel 6\.14\.8-2-pve: run install\.sh --kernel-module --kernel 6\.14\.8-2-pve/);
  });
  it('adds what kernel-module recorded (here: no file could be had)', async () => {
    writeRecord(fs, { kernel: '6.14.8-2-pve', status: 'failed', attempts: [], message: 'dummy_hcd is not built for kernel 6.14.8-2-pve: no source could be had or built (linux-6.12.y: no-source)', at: '2026-12-04T00:00:00Z' });
    expect((await failure() as CommandError).fix).toBe('dummy_hcd is not built for kernel 6.14.8-2-pve: no source could be had or built (linux-6.12.y: no-source); run install.sh --kernel-module --kernel 6.14.8-2-pve (or, with its headers installed: pve-usb-gadget kernel-module --kernel 6.14.8-2-pve)');
  });
});
