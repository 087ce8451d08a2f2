/**
 * The least privileges the API token needs, in one place: install.sh's two roles must equal these lists
 * (a unit test reads install.sh), doctor checks the token against it, the README table shows it.
 * Checked against qemu-server (API2/Qemu.pm check_vm_modify_config_perm, check_usb_perm) and pve-manager
 * (API2/Cluster/Mapping/USB.pm).
 */

/** `/mapping/usb/<mapping>`: the one mapping of one VM (usb-gadget-<vmid>), granted by enable. */
export const PER_MAPPING = '/mapping/usb/<mapping>';
export type AclPath = '/vms' | '/mapping/usb' | typeof PER_MAPPING;

/**
 * The two roles install.sh creates (their names: here and in install.sh, a unit test keeps them equal).
 * `main` is granted on /vms and /mapping/usb once; `use` only on each enabled VM's own mapping, so the
 * token cannot pass an admin's mapped real USB device (or another tool's mapping) to any VM.
 */
export const ROLES = { main: 'UsbGadget', use: 'UsbGadgetUse' } as const;

export interface PrivilegeNeed {
  privilege: string;
  aclPath: AclPath;
  role: keyof typeof ROLES;
  /** 'hook': every VM start; 'cli': enable/disable only */
  neededBy: 'hook' | 'cli';
  why: string;
}

// Mapping.Audit is not asked for: pve-manager's mapping index and GET accept any of Audit, Use or
// Modify (API2/Cluster/Mapping/USB.pm), and Modify on /mapping/usb covers every mapping below it.
// Modify must be on /mapping/usb itself: POST (create) and DELETE check that path, not the mapping's.
export const PRIVILEGE_NEEDS: readonly PrivilegeNeed[] = [
  { privilege: 'VM.Audit', aclPath: '/vms', role: 'main', neededBy: 'hook', why: 'read the VM config and notes, and whether the VM runs' },
  { privilege: 'VM.Config.HWType', aclPath: '/vms', role: 'main', neededBy: 'hook', why: 'add or remove usbN: mapping=usb-gadget-<vmid>' },
  { privilege: 'Mapping.Modify', aclPath: '/mapping/usb', role: 'main', neededBy: 'hook', why: "create the VM's mapping, point this node's entry at the stick, and read mappings" },
  { privilege: 'Mapping.Use', aclPath: PER_MAPPING, role: 'use', neededBy: 'cli', why: "put the VM's own mapping in a usbN line (enable; the hook's helper when the line is missing); granted by enable, removed by disable" },
  { privilege: 'VM.Config.Options', aclPath: '/vms', role: 'main', neededBy: 'cli', why: 'write and remove the [usb-gadget] section of the notes' },
];

/** What the token is never given: done as root on the node (`qm set`) instead. */
export const ROOT_ACTIONS: readonly { what: string; why: string }[] = [
  { what: 'hookscript', why: 'Proxmox VE lets only root@pam set it (qm set <vmid> --hookscript)' },
  { what: 'boot order (enable --boot)', why: 'through the API it needs VM.Config.Disk, which could also detach disks' },
  { what: 'usbN: host=VID:PID', why: 'root@pam only; pve-usb-gadget uses a USB resource mapping instead' },
];

/** The needs granted once, on /vms and /mapping/usb (doctor checks these for the token as a whole). */
export const MAIN_NEEDS: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS.filter((n) => n.role === 'main');

/** A role's privileges, sorted, without duplicates. */
export function rolePrivileges(role: keyof typeof ROLES = 'main', needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS): string[] {
  return [...new Set(needs.filter((n) => n.role === role).map((n) => n.privilege))].sort();
}

/** The paths the main role is granted on once (the per-mapping path is granted VM by VM). */
export function aclPaths(needs: readonly PrivilegeNeed[] = PRIVILEGE_NEEDS): AclPath[] {
  return [...new Set(needs.filter((n) => n.role === 'main').map((n) => n.aclPath))];
}

/** The ACL path of one VM's mapping. */
export function mappingAclPath(mapping: string): string {
  return `/mapping/usb/${mapping}`;
}

/**
 * The needs the token lacks, from GET /access/permissions?path=<p> answers ({ path: { privilege: 0|1 } }),
 * one per ACL path; a privilege is there when its key is present.
 */
export function missingPrivileges(
  byPath: Readonly<Record<string, Readonly<Record<string, number>> | undefined>>,
  needs: readonly PrivilegeNeed[] = MAIN_NEEDS,
): PrivilegeNeed[] {
  return needs.filter((n) => !Object.prototype.hasOwnProperty.call(byPath[n.aclPath] ?? {}, n.privilege));
}

/** Whether a GET /access/permissions?path=<path> answer grants Mapping.Use on that path. */
export function hasMappingUse(answer: Readonly<Record<string, Readonly<Record<string, number>> | undefined>>, path: string): boolean {
  return Object.prototype.hasOwnProperty.call(answer[path] ?? {}, 'Mapping.Use');
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
