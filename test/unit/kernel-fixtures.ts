// Shared by the kernel-module unit tests: dummy_hcd.c of both generations reduced to what our checks
// read, a kernel Makefile, and a DKMS stand-in that keeps its state in memory and builds a tree when a
// predicate says the file fits the kernel (real DKMS and gcc run in test/e2e/kernel-upgrade.test.ts).
import type { HostFs } from '../../src/ports/host-fs.js';
import type { Exec } from '../../src/ports/exec.js';

export const HRTIMER_FILE = '/* dummy_hcd */\nstruct dummy_hcd {\n\tstruct hrtimer\t\t\ttimer;\n};\nstatic struct platform_driver dummy_udc_driver;\nMODULE_LICENSE("GPL");\n';
export const JIFFIES_FILE = '/* dummy_hcd */\nstruct dummy_hcd {\n\tstruct timer_list\t\ttimer;\n};\nstatic struct platform_driver dummy_udc_driver;\nMODULE_LICENSE("GPL");\n';

export function makefile(ver: string): string {
  const [a, b, c] = ver.split('.');
  return `# SPDX-License-Identifier: GPL-2.0\nVERSION = ${a}\nPATCHLEVEL = ${b}\nSUBLEVEL = ${c}\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n`;
}

export function versionH(ver: string): string {
  const [a, b, c] = ver.split('.');
  return `#define LINUX_VERSION_CODE 0\n#define LINUX_VERSION_MAJOR ${a}\n#define LINUX_VERSION_PATCHLEVEL ${b}\n#define LINUX_VERSION_SUBLEVEL ${c}\n`;
}

export interface FakeDkms {
  exec: Exec;
  /** "version kernel" of every installed module */
  installed: Set<string>;
  added: Set<string>;
  calls: string[];
}

/** `builds(text, kernel)` decides whether `dkms build` of a tree succeeds */
export function fakeDkms(fs: HostFs, builds: (text: string, kernel: string) => boolean): FakeDkms {
  const installed = new Set<string>();
  const added = new Set<string>();
  const built = new Set<string>();
  const calls: string[] = [];
  const arg = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1] ?? '';
  const ok = (stdout = '') => ({ exitCode: 0, stdout, stderr: '' });
  const exec: Exec = async (file, args) => {
    if (file !== 'dkms') return { exitCode: 127, stdout: '', stderr: `${file}: not here` };
    calls.push(args.join(' '));
    const [verb] = args;
    const v = arg(args, '-v');
    const k = arg(args, '-k');
    if (verb === 'status') {
      const lines = [...added].map((x) => {
        const on = [...installed].filter((i) => i.startsWith(`${x} `)).map((i) => i.split(' ')[1]);
        return on.length ? on.map((kk) => `pve-usb-gadget-dummy-hcd/${x}, ${kk}, x86_64: installed`).join('\n') : `pve-usb-gadget-dummy-hcd/${x}: added`;
      });
      return ok(lines.join('\n'));
    }
    if (verb === 'add') {
      added.add(v);
      return ok();
    }
    if (verb === 'build') {
      const text = fs.readText(`/usr/src/pve-usb-gadget-dummy-hcd-${v}/dummy_hcd.c`);
      if (!builds(text, k)) return { exitCode: 10, stdout: '', stderr: `Error! Bad return status for module build on kernel: ${k} (x86_64)\nConsult make.log` };
      built.add(`${v} ${k}`);
      return ok();
    }
    if (verb === 'install') {
      if (!built.has(`${v} ${k}`)) return { exitCode: 1, stdout: '', stderr: 'not built' };
      installed.add(`${v} ${k}`);
      return ok();
    }
    if (verb === 'remove') {
      for (const i of [...installed]) if (i.startsWith(`${v} `) && (args.includes('--all') || i.endsWith(` ${k}`))) installed.delete(i);
      if (args.includes('--all') || ![...installed].some((i) => i.startsWith(`${v} `))) added.delete(v);
      return ok();
    }
    return { exitCode: 2, stdout: '', stderr: `unknown dkms ${verb}` };
  };
  return { exec, installed, added, calls };
}
