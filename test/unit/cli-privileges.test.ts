// The token's privilege list: exactly what the hook and the CLI need, checked the way doctor checks it.
import { describe, expect, it } from 'vitest';
import { aclPaths, hasMappingUse, missingPrivileges, PRIVILEGE_NEEDS, privilegesTable, rolePrivileges } from '../../src/cli/privileges.js';

describe('privileges', () => {
  it('is the least set: VM.Audit, VM.Config.HWType, VM.Config.Options, Mapping.Modify; Mapping.Use per mapping', () => {
    expect(rolePrivileges()).toEqual(['Mapping.Modify', 'VM.Audit', 'VM.Config.HWType', 'VM.Config.Options']);
    expect(aclPaths()).toEqual(['/vms', '/mapping/usb']);
    // never on /mapping/usb as a whole: it would let the token pass any mapped real USB device to a VM
    expect(rolePrivileges('use')).toEqual(['Mapping.Use']);
    expect(PRIVILEGE_NEEDS.filter((n) => n.privilege === 'Mapping.Use').map((n) => n.aclPath)).toEqual(['/mapping/usb/<mapping>']);
    expect(rolePrivileges()).not.toContain('Mapping.Audit');
  });

  it('reads Mapping.Use on one path from a permissions answer', () => {
    expect(hasMappingUse({ '/mapping/usb/usb-gadget-100': { 'Mapping.Use': 1 } }, '/mapping/usb/usb-gadget-100')).toBe(true);
    expect(hasMappingUse({ '/mapping/usb/usb-gadget-100': { 'Mapping.Modify': 1 } }, '/mapping/usb/usb-gadget-100')).toBe(false);
    expect(hasMappingUse({}, '/mapping/usb')).toBe(false);
  });

  it('never asks for what would let the token change disks, power or the host', () => {
    for (const p of rolePrivileges()) expect(p).not.toMatch(/^(VM\.Config\.Disk|VM\.PowerMgmt|Sys\.|Datastore\.|Permissions\.|VM\.Monitor)/);
  });

  it('the CLI-only privileges are VM.Config.Options (the notes) and the per-mapping Mapping.Use (the usbN line)', () => {
    expect(PRIVILEGE_NEEDS.filter((n) => n.neededBy === 'cli').map((n) => n.privilege)).toEqual(['Mapping.Use', 'VM.Config.Options']);
  });

  it('reports what a token lacks, per ACL path', () => {
    const perms = {
      '/vms': { 'VM.Audit': 1, 'VM.Config.HWType': 1 },
      '/mapping/usb': { 'Mapping.Use': 1, 'Mapping.Audit': 0 },
    };
    expect(missingPrivileges(perms).map((m) => `${m.privilege}@${m.aclPath}`)).toEqual(['Mapping.Modify@/mapping/usb', 'VM.Config.Options@/vms']);
    expect(missingPrivileges({})).toHaveLength(PRIVILEGE_NEEDS.length - 1);
    // a privilege on the wrong path does not count
    expect(missingPrivileges({ '/vms': { 'Mapping.Modify': 1 } }).some((m) => m.privilege === 'Mapping.Modify')).toBe(true);
  });

  it('renders one table row per need plus the root-only actions', () => {
    const rows = privilegesTable();
    expect(rows[0]).toBe('| privilege | on | needed by | why |');
    expect(rows.filter((r) => r.startsWith('| VM.') || r.startsWith('| Mapping.'))).toHaveLength(PRIVILEGE_NEEDS.length);
    expect(rows.some((r) => r.includes('hookscript'))).toBe(true);
  });
});
