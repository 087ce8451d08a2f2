/**
 * doctor: the licence identity across the cluster. Every unRAID GUID (spec/guid.ts) that more than one
 * VM has (pre-start refuses to start any of them), and every usbN line that names another VM's mapping
 * (what `qm clone` or a restore under a new vmid copies), each with the command that fixes it. Pure over
 * what checkEnabledVms read through the API.
 */
import { foreignGadgetLines } from '../proxmox/local-config.js';
import type { CheckResult } from './doctor-result.js';

export interface VmIdentity {
  vmid: number;
  guid: string;
  /** the image argument for a fix command (hook/identity-check.ts imageArg) */
  image: string;
}

export function guidCollisions(vms: readonly VmIdentity[]): CheckResult[] {
  const byGuid = new Map<string, VmIdentity[]>();
  for (const vm of vms) byGuid.set(vm.guid, [...(byGuid.get(vm.guid) ?? []), vm]);
  return [...byGuid]
    .filter(([, list]) => list.length > 1)
    .map(([guid, list]) => ({
      check: 'unRAID GUID collision',
      status: 'fail' as const,
      detail: `VMs ${list.map((v) => v.vmid).join(', ')} all have unRAID GUID ${guid}: one licence for several VMs; pre-start refuses to start any of them`,
      fix: `on each copy: ${list.slice(1).map((v) => `pve-usb-gadget enable ${v.vmid} --image ${v.image} --new-identity`).join('; ')} (a new GUID for unRAID: a licence transfer or a new trial; pick the copies, not the VM that holds the licence)`,
    }));
}

/** One result per usbN line naming another VM's usb-gadget mapping; `vmids` are the VMs that exist. */
export function copiedLineChecks(vmid: number, config: Readonly<Record<string, string | number | undefined>>, vmids: ReadonlySet<number>, image: string): CheckResult[] {
  return foreignGadgetLines(config, vmid).map((line) =>
    vmids.has(line.vmid)
      ? {
          check: `VM ${vmid}`,
          status: 'fail' as const,
          detail: `${line.key} passes through ${line.mapping}, VM ${line.vmid}'s stick (copied by a clone): pre-start refuses to start it`,
          fix: `pve-usb-gadget enable ${vmid} --image ${image} --new-identity (its own mapping and a new unRAID GUID), or qm set ${vmid} --delete ${line.key}`,
        }
      : {
          check: `VM ${vmid}`,
          status: 'warn' as const,
          detail: `${line.key} points at ${line.mapping} of VM ${line.vmid}, which no longer exists (a restore under a new vmid?): starts work only while that mapping is there`,
          fix: `pve-usb-gadget enable ${vmid} --image ${image} (points ${line.key} at usb-gadget-${vmid}; the GUID stays)`,
        },
  );
}
