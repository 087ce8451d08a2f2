/**
 * `pve-usb-gadget setup ...`: the steps install.sh runs once Node and the CLI are on the node (it keeps
 * in bash only what must run before: preflight, apt, Node, DKMS, signing, file installation). One
 * subcommand per file, each registered here with one line; they act through SetupDeps, so unit tests
 * pass fakes. Their output is the line format of setup-report.ts, which install.sh's cli_report reads.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { nodeHostFs } from '../apply/host-fs.js';
import { execaExec } from '../host/exec.js';
import { registerSetupApi } from './setup-api.js';
import { registerHookStorage } from './setup-hook-storage.js';
import { registerMappingAcls } from './setup-mapping-acls.js';
import { printReport, type SetupDeps } from './setup-report.js';
import { registerSetupSettings } from './setup-settings.js';
import { registerUninstallCheck } from './setup-uninstall-check.js';

const hostSetupDeps = (): SetupDeps => ({
  fs: nodeHostFs('/'),
  exec: execaExec,
  report: printReport((s) => process.stdout.write(s), (s) => process.stderr.write(s)),
  node: hostname().split('.')[0] || hostname(),
});

export function registerSetupCommands(program: Command): void {
  const setup = program.command('setup').description('the steps install.sh runs on a node (run as root; install.sh calls them)');
  registerSetupSettings(setup, hostSetupDeps, () => program.opts<{ settings?: string }>().settings);
  registerHookStorage(setup, hostSetupDeps);
  registerSetupApi(setup, hostSetupDeps);
  registerUninstallCheck(setup, hostSetupDeps);
  registerMappingAcls(setup, hostSetupDeps, () => program.opts<{ settings?: string }>().settings);
}
