/**
 * The least privileges the API token needs, in one place: install.sh builds its role from this list
 * (`pve-usb-gadget privileges --comma`), doctor checks the token against it, the README table shows it.
 * Checked against qemu-server (API2/Qemu.pm check_vm_modify_config_perm, check_usb_perm) and pve-manager
 * (API2/Cluster/Mapping/USB.pm).
 */

export type AclPath = '/vms' | '/mapping/usb';

export interface PrivilegeNeed {
  privilege: string;
  aclPath: AclPath;
  /** 'hook': every VM start; 'cli': enable/disable only */
  neededBy: 'hook' | 'cli';
  why: string;
}

export const PRIVILEGE_NEEDS: readonly PrivilegeNeed[] = [
  { privilege: 'VM.Audit', aclPath: '/vms', neededBy: 'hook', why: 'read the VM config and notes, and whether the VM runs' },
  { privilege: 'VM.Config.HWType', aclPath: '/vms', neededBy: 'hook', why: 'add or remove usbN: mapping=usb-gadget-<vmid>' },
  { privilege: 'Mapping.Audit', aclPath: '/mapping/usb', neededBy: 'hook', why: 'read and list the USB resource mappings' },
  { privilege: 'Mapping.Modify', aclPath: '/mapping/usb', neededBy: 'hook', why: "create the VM's mapping and point this node's entry at the stick" },
  { privilege: 'Mapping.Use', aclPath: '/mapping/usb', neededBy: 'hook', why: 'let a VM use the mapping in a usbN line' },
  { privilege: 'VM.Config.Options', aclPath: '/vms', neededBy: 'cli', why: 'write and remove the [usb-gadget] section of the notes' },
];

/** What the token is never given: done as root on the node (`qm set`) instead. */
export const ROOT_ACTIONS: readonly { what: string; why: string }[] = [
  { what: 'hookscript', why: 'Proxmox VE lets only root@pam set it (qm set <vmid> --hookscript)' },
  { what: 'boot order (enable --boot)', why: 'through the API it needs VM.Config.Disk, which could also detach disks' },
  { what: 'usbN: host=VID:PID', why: 'root@pam only; pve-usb-gadget uses a USB resource mapping instead' },
];

/** The role's privileges, sorted, without duplicates. */
export function rolePrivileges(needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS): string[] {
  return [...new Set(needs.map((n) => n.privilege))].sort();
}

export function aclPaths(needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS): AclPath[] {
  return [...new Set(needs.map((n) => n.aclPath))];
}

/**
 * The needs the token lacks, from GET /access/permissions?path=<p> answers ({ path: { privilege: 0|1 } }),
 * one per ACL path; a privilege is there when its key is present.
 */
export function missingPrivileges(
  byPath: Readonly<Record<string, Readonly<Record<string, number>> | undefined>>,
  needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS,
): PrivilegeNeed[] {
  return needs.filter((n) => !Object.prototype.hasOwnProperty.call(byPath[n.aclPath] ?? {}, n.privilege));
}

/** Markdown table of PRIVILEGE_NEEDS and ROOT_ACTIONS (docs/install.md shows the same). */
export function privilegesTable(needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS): string[] {
  return [
    '| privilege | on | needed by | why |',
    '|---|---|---|---|',
    ...needs.map((n) => `| ${n.privilege} | ${n.aclPath} | ${n.neededBy === 'hook' ? 'hook (every VM start)' : 'CLI (enable, disable)'} | ${n.why} |`),
    ...ROOT_ACTIONS.map((r) => `| (none: root) | | ${r.what} | ${r.why} |`),
  ];
}
