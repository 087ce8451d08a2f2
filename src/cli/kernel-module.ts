/**
 * `pve-usb-gadget kernel-module [--kernel RELEASE] [--kernel-source PATH]...`: build dummy_hcd for the
 * running or a named installed kernel (src/kernel/build-module.ts). The same command runs from our
 * kernel hook (templates/kernel/pve-usb-gadget) with --from-kernel-hook, inside apt.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { nodeHostFs } from '../apply/host-fs.js';
import type { HostFs } from '../ports/host-fs.js';
import { execaExec } from '../host/exec.js';
import { buildKernelModule } from '../kernel/build-module.js';
import { httpsDownload, KERNEL_ORG_PLAIN } from '../kernel/fetch-source.js';
import { importSource, type GivenSource } from '../kernel/import-source.js';
import { headersVersion } from '../kernel/kernel-facts.js';
import { buildFix, KERNEL_RECORDS, readRecord } from '../kernel/records.js';
import { isKernelRelease } from '../kernel/version.js';
import { printLine } from './admin-deps.js';

/** where install.sh puts templates/dkms; a checkout's own templates/ next to dist/ otherwise */
export const INSTALLED_TEMPLATES = '/usr/local/share/pve-usb-gadget';

function defaultTemplates(): string {
  const beside = resolve(dirname(process.argv[1] ?? '.'), '..', 'templates');
  return existsSync(`${INSTALLED_TEMPLATES}/dkms/dkms.conf`) || !existsSync(`${beside}/dkms/dkms.conf`) ? INSTALLED_TEMPLATES : beside;
}

/** kernels whose record says their headers were missing, and that have headers now */
function pendingKernels(fs: HostFs): string[] {
  return fs
    .list(KERNEL_RECORDS)
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter((k) => readRecord(fs, k)?.status === 'no-headers' && headersVersion(fs, k) !== undefined);
}

interface Options {
  kernel?: string;
  kernelSource: string[];
  rebuild?: boolean;
  offline?: boolean;
  sourceUrl: string;
  templates?: string;
  fromKernelHook?: boolean;
  pending?: boolean;
}

export function registerKernelModuleCommand(program: Command): void {
  program
    .command('kernel-module')
    .description('build dummy_hcd with DKMS for the running or a named installed kernel, from the source that fits it best')
    .option('--kernel <release>', 'kernel release (default: the running kernel, uname -r)')
    .option('--kernel-source <path>', 'a dummy_hcd.c to try first: kernel tree, folder, file or tarball (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--rebuild', 'build again even when a module is installed for that kernel')
    .option('--offline', 'download nothing: use given and stored files only')
    .option('--source-url <url>', 'base URL of a kernel.org stable tree mirror (plain files)', KERNEL_ORG_PLAIN)
    .option('--templates <dir>', 'folder holding dkms/dkms.conf and dkms/Makefile')
    .option('--from-kernel-hook', 'run by the kernel packages\' hook: missing headers are not an error')
    .option('--pending', 'build for every kernel recorded as waiting for its headers, now that they are there (apt\'s Post-Invoke)')
    .action(async (o: Options) => {
      const fs = nodeHostFs('/');
      if (o.pending && o.kernel) throw new CommanderError(2, 'usage', 'give either --pending or --kernel');
      const kernels = o.pending ? pendingKernels(fs) : [o.kernel ?? fs.readText('/proc/sys/kernel/osrelease').trim()];
      for (const k of kernels) if (!isKernelRelease(k)) throw new CommanderError(2, 'usage', `--kernel: not a kernel release: '${k}'`);
      if (!/^https:\/\/[^\s]+$/.test(o.sourceUrl)) throw new CommanderError(2, 'usage', `--source-url must be an https URL: '${o.sourceUrl}'`);
      const given: GivenSource[] = [];
      for (const p of o.kernelSource) given.push(await importSource(fs, execaExec, resolve(p)));
      const say = (l: string) => printLine(`pve-usb-gadget: ${l}`);
      for (const kernel of kernels) {
        const rec = await buildKernelModule(
          {
            fs,
            exec: execaExec,
            download: o.offline ? undefined : httpsDownload(),
            baseUrl: o.sourceUrl.replace(/\/+$/, ''),
            templatesDir: o.templates ?? defaultTemplates(),
            now: () => new Date(),
            say,
            warn: (l) => process.stderr.write(`pve-usb-gadget: WARNING: ${l}\n`),
          },
          { kernel, given, rebuild: o.rebuild === true },
        );
        if (rec.status === 'built') {
          say(rec.message);
          continue;
        }
        if (rec.status === 'no-headers' && o.fromKernelHook) {
          say(`${rec.message}; it is built once they are, when this dpkg run ends (proxmox-default-headers brings them with every kernel)`);
          continue;
        }
        const fix = rec.status === 'no-headers' ? `install proxmox-headers-${kernel} (install.sh --kernel-module --kernel ${kernel} does)` : buildFix(kernel);
        process.stderr.write(`pve-usb-gadget: ERROR: ${rec.message}; fix: ${fix}\n`);
        process.exitCode = 1;
      }
    });
}
