/**
 * `pve-usb-gadget setup uninstall-check [--force]`: before install.sh --uninstall removes the hook, no VM
 * of this node may still name it as its hookscript, or its next start fails (qemu-server refuses a
 * missing hookscript). Read from the VM configs as pmxcfs shows them (host/cluster-vms.ts, main section
 * only, the reader the hook uses), not through the API: the token may be gone or never made (--no-api).
 * Only this node's VMs: the hook file is removed on this node only.
 */
import type { Command } from 'commander';
import { ConflictError } from '../errors.js';
import { clusterVms, type ClusterVm } from '../host/cluster-vms.js';
import { DEFAULT_PVE_CONFIG_DIR as PVE_CONFIG_DIR } from '../settings/parse.js';
import { isOurHookscript } from './hookscript.js';
import type { SetupDeps } from './setup-report.js';

/** The vmids of `node` whose hookscript is our hook, on any storage (what disable removes). */
export function hookUsers(vms: readonly ClusterVm[], node: string): number[] {
  // a VM found only in pveConfigDir has no node: on Proxmox that folder is this node's
  return vms.filter((vm) => (vm.node === undefined || vm.node === node) && isOurHookscript(vm.options.hookscript)).map((vm) => vm.vmid);
}

/** Throws while VMs use the hook, unless forced (then it only warns). */
export function uninstallCheck(deps: Pick<SetupDeps, 'fs' | 'report' | 'node'>, o: { force: boolean }): void {
  const users = hookUsers(clusterVms(deps.fs, PVE_CONFIG_DIR), deps.node);
  if (users.length === 0) return deps.report.ok('no VM on this node uses the hook');
  const list = users.join(' ');
  if (o.force) return deps.report.warn(`VMs on this node still use the hook: ${list} (--force: their starts fail until 'pve-usb-gadget disable <vmid>')`);
  // install.sh's words since its first release (the e2e install test reads them)
  throw new ConflictError(`VMs on this node still use the hook: ${list}; run 'pve-usb-gadget disable <vmid>' for each (or --force: their starts would then fail)`, {
    key: 'hookscript',
    path: PVE_CONFIG_DIR,
  });
}

export function registerUninstallCheck(setup: Command, deps: () => SetupDeps): void {
  setup
    .command('uninstall-check')
    .description('fail (exit 1) while VMs of this node still use the hook script; --force only warns')
    .option('--force', 'only warn: those VMs will not start until disabled')
    .action((o: { force?: boolean }) => uninstallCheck(deps(), { force: o.force === true }));
}
