/**
 * Before anything is built: is this stick's identity its own? unRAID binds a licence to the GUID
 * (spec/guid.ts), so two VMs with one GUID are one licence used twice, and `qm clone` copies both the
 * pinned notes and the `usbN: mapping=usb-gadget-<original>` line. Read from the cluster's VM configs
 * (host/cluster-vms.ts); every other VM's notes are validated like this VM's (hostile text: only a
 * valid section yields a GUID). Templates never start, so their identity is a pattern, not a use.
 * Both VMs of a pair are refused: which one is the copy cannot be known from the configs, so the message
 * says how to give either its own identity. Throws ConflictError (nothing has been changed yet) or warns;
 * never changes anything itself.
 */
import { ConflictError } from '../errors.js';
import { clusterVms, type ClusterVm } from '../host/cluster-vms.js';
import { foreignGadgetLines } from '../proxmox/local-config.js';
import { unraidGuid } from '../spec/guid.js';
import type { GadgetSpec } from '../spec/types.js';
import { validateNotes } from '../spec/validate.js';
import type { HookDeps } from './deps.js';
import { smbiosUuid } from './vm-source.js';

const where = (vm: ClusterVm) => `VM ${vm.vmid}${vm.node ? ` (node ${vm.node})` : ''}`;

/** The image argument of a fix command, when it can be pasted into a shell as it is. */
export function imageArg(spec: GadgetSpec): string {
  const image = spec.luns[0]?.image ?? '';
  return /^[A-Za-z0-9_./:@+-]+$/.test(image) ? image : '<image>';
}

/** The unRAID GUID of another VM's valid [usb-gadget] section, or undefined. */
export function guidOfVm(vm: Pick<ClusterVm, 'vmid' | 'description' | 'options'>, defaultSpeed: GadgetSpec['speed']): string | undefined {
  if (vm.description === undefined) return undefined;
  const r = validateNotes(vm.description, { vmid: vm.vmid, smbiosUuid: smbiosUuid(vm.options.smbios1), defaultSpeed });
  return r.kind === 'ok' ? unraidGuid(r.spec) : undefined;
}

const isTemplate = (vm: ClusterVm) => vm.options.template === '1';

export function checkOwnIdentity(deps: Pick<HookDeps, 'fs' | 'settings' | 'log'>, vmid: number, spec: GadgetSpec, vmConfig: Readonly<Record<string, string>>): void {
  const others = clusterVms(deps.fs, deps.settings.paths.pveConfigDir).filter((vm) => vm.vmid !== vmid);
  const guid = unraidGuid(spec);
  const image = imageArg(spec);
  const twin = others.find((vm) => !isTemplate(vm) && guidOfVm(vm, deps.settings.defaultSpeed) === guid);
  if (twin) {
    throw new ConflictError(`unRAID GUID ${guid} of VM ${vmid} is also the GUID of ${where(twin)}: one licence cannot be used by two VMs (a clone, or a copy with the original still there)`, {
      key: 'usb-gadget.serial',
      fix:
        `give the copy its own identity (a new GUID for unRAID: its licence must be transferred, or a new trial): pve-usb-gadget enable ${vmid} --image ${image} --new-identity ` +
        `if VM ${vmid} is the copy, pve-usb-gadget enable ${twin.vmid} --image <image> --new-identity if VM ${twin.vmid} is; ` +
        `or, to move the licence to VM ${vmid}, remove the stick of VM ${twin.vmid} first (pve-usb-gadget disable ${twin.vmid}, or destroy that VM)`,
    });
  }
  const byVmid = new Map(others.map((vm) => [vm.vmid, vm]));
  for (const line of foreignGadgetLines(vmConfig, vmid)) {
    const owner = byVmid.get(line.vmid);
    if (owner) {
      throw new ConflictError(`VM ${vmid}'s ${line.key} passes through ${line.mapping}, the stick of ${where(owner)} (copied by a clone): this VM would be given that VM's device`, {
        key: line.key,
        fix: `pve-usb-gadget enable ${vmid} --image ${image} --new-identity (its own mapping usb-gadget-${vmid} in ${line.key}, and a new GUID for unRAID), or qm set ${vmid} --delete ${line.key}`,
      });
    }
    deps.log.warn(
      `${line.key} points at ${line.mapping}, the mapping of VM ${line.vmid}, which no longer exists (a restore under a new vmid?): ` +
        `this start works only while that mapping is there; run pve-usb-gadget enable ${vmid} --image ${image} to use usb-gadget-${vmid} instead (the GUID stays ${guid})`,
    );
  }
}
