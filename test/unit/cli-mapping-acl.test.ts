// The root side of the per-mapping grant: which pveum commands run, and what `pveum acl list` tells.
import { describe, expect, it } from 'vitest';
import { grantedVmids, pveumAclTool, syncMappingAcls } from '../../src/cli/mapping-acl.js';
import { CommandError } from '../../src/errors.js';
import type { Exec } from '../../src/ports/exec.js';

const TOKEN = 'pve-usb-gadget@pve!hook';

function recordingExec(stdout = '', exitCode = 0, stderr = ''): Exec & { calls: string[][] } {
  const calls: string[][] = [];
  const exec = async (file: string, args: readonly string[]) => {
    calls.push([file, ...args]);
    return { exitCode, stdout, stderr };
  };
  return Object.assign(exec, { calls });
}

describe('mapping ACLs', () => {
  it('grants and removes the use role on the VM mapping for the user and its token together', async () => {
    const exec = recordingExec();
    const acl = pveumAclTool(exec, TOKEN);
    await acl.grant(100);
    await acl.revoke(100);
    expect(exec.calls).toEqual([
      ['pveum', 'acl', 'modify', '/mapping/usb/usb-gadget-100', '--users', 'pve-usb-gadget@pve', '--tokens', TOKEN, '--roles', 'UsbGadgetUse'],
      ['pveum', 'acl', 'delete', '/mapping/usb/usb-gadget-100', '--users', 'pve-usb-gadget@pve', '--tokens', TOKEN, '--roles', 'UsbGadgetUse'],
    ]);
  });

  it('lists only our token\'s use-role grants on VM mappings', () => {
    const rows = [
      { path: '/mapping/usb/usb-gadget-100', type: 'token', ugid: TOKEN, roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-100', type: 'user', ugid: 'pve-usb-gadget@pve', roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-7', type: 'token', ugid: TOKEN, roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/real-disk', type: 'token', ugid: TOKEN, roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-0101', type: 'token', ugid: TOKEN, roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-205', type: 'token', ugid: 'other@pve!x', roleid: 'UsbGadgetUse', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-206', type: 'token', ugid: TOKEN, roleid: 'PVEMappingUser', propagate: 1 },
      { path: '/mapping/usb/usb-gadget-300', type: 'token', ugid: TOKEN, roleid: 'UsbGadgetUse', propagate: 1 },
    ];
    expect(grantedVmids(JSON.stringify(rows), TOKEN)).toEqual([7, 100, 300]);
    expect(() => grantedVmids('not json', TOKEN)).toThrow(CommandError);
    expect(() => grantedVmids('{}', TOKEN)).toThrow(/no list/);
  });

  it('says what pveum said when it fails, and refuses a token id that is not one', async () => {
    const acl = pveumAclTool(recordingExec('', 255, "role 'UsbGadgetUse' does not exist\n"), TOKEN);
    await expect(acl.grant(100)).rejects.toThrow(/pveum acl modify failed \(exit 255\): role 'UsbGadgetUse' does not exist/);
    expect(() => pveumAclTool(recordingExec(), 'root@pam')).toThrow(CommandError);
  });
});

describe('syncMappingAcls', () => {
  function memoryAcl(start: number[]) {
    const vmids = new Set(start);
    return {
      vmids,
      tokenId: TOKEN,
      granted: async () => [...vmids].sort((a, b) => a - b),
      grant: async (v: number) => void vmids.add(v),
      revoke: async (v: number) => void vmids.delete(v),
    };
  }
  const api = { listUsbMappings: async () => [{ id: 'usb-gadget-100' }, { id: 'usb-gadget-300' }, { id: 'real-disk' }, { id: 'usb-gadget-0400' }] };

  it('grants each VM mapping of ours and removes grants whose mapping is gone; a second run changes nothing', async () => {
    const acl = memoryAcl([100, 205]);
    expect(await syncMappingAcls({ api, acl })).toEqual([
      `granted ${TOKEN} Mapping.Use on /mapping/usb/usb-gadget-300`,
      'removed Mapping.Use on /mapping/usb/usb-gadget-205 (its mapping is gone)',
    ]);
    expect([...acl.vmids].sort()).toEqual([100, 300]);
    expect(await syncMappingAcls({ api, acl })).toEqual([]);
  });

  it('removes every grant for uninstall', async () => {
    const acl = memoryAcl([100, 300]);
    expect(await syncMappingAcls({ api, acl }, { remove: true })).toHaveLength(2);
    expect(acl.vmids.size).toBe(0);
  });
});
