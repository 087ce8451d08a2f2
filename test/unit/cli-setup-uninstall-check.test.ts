// `pve-usb-gadget setup uninstall-check`: install.sh --uninstall stops while a VM of this node still names
// the hook as its hookscript (main section only; other nodes' VMs do not count), unless --force.
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { clusterVms } from '../../src/host/cluster-vms.js';
import { hookUsers, uninstallCheck } from '../../src/cli/setup-uninstall-check.js';
import { recordingReport } from './setup-fakes.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

let t: TmpRoot | undefined;
afterEach(() => t?.remove());

function cluster(): TmpRoot {
  t = tmpRoot('pvug-setup-check-');
  t.put('/etc/pve/qemu-server/100.conf', 'memory: 64\nhookscript: local:snippets/pve-usb-gadget-hook.cjs\n');
  t.put('/etc/pve/qemu-server/101.conf', 'hookscript: local:snippets/other-hook.pl\n');
  // only a snapshot still has it: the VM itself does not use the hook
  t.put('/etc/pve/qemu-server/102.conf', 'memory: 64\n[before]\nhookscript: local:snippets/pve-usb-gadget-hook.cjs\n');
  t.put('/etc/pve/nodes/pve2/qemu-server/200.conf', 'hookscript: nfs1:snippets/pve-usb-gadget-hook.cjs\n');
  t.put('/etc/pve/nodes/pve1/qemu-server/103.conf', 'hookscript: shared.1:snippets/pve-usb-gadget-hook.cjs\n');
  return t;
}

describe('setup uninstall-check', () => {
  it("lists this node's VMs whose hookscript is ours, on any storage", () => {
    const r = cluster();
    expect(hookUsers(clusterVms(r.fs, '/etc/pve/qemu-server'), 'pve1')).toEqual([100, 103]);
    expect(hookUsers(clusterVms(r.fs, '/etc/pve/qemu-server'), 'pve2')).toEqual([100, 200]);
  });

  it("refuses with install.sh's words while VMs use the hook", () => {
    const report = recordingReport();
    const err = (() => {
      try {
        uninstallCheck({ fs: cluster().fs, report, node: 'pve1' }, { force: false });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).toLine()).toMatch(/^VMs on this node still use the hook: 100 103; run 'pve-usb-gadget disable <vmid>' for each/);
    expect((err as ConflictError).key).toBe('hookscript');
  });

  it('only warns with --force, and says so when no VM uses it', () => {
    const report = recordingReport();
    uninstallCheck({ fs: cluster().fs, report, node: 'pve1' }, { force: true });
    expect(report.lines).toEqual([expect.stringMatching(/^WARNING: VMs on this node still use the hook: 100 103 \(--force/)]);
    t?.remove();
    t = tmpRoot('pvug-setup-check-');
    const none = recordingReport();
    uninstallCheck({ fs: t.fs, report: none, node: 'pve1' }, { force: false });
    expect(none.lines).toEqual(['ok: no VM on this node uses the hook']);
  });
});
