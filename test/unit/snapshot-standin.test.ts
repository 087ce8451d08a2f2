// The test VM's qm snapshot/rollback/delsnapshot stand-in (test/e2e/guest/snapshot-cmds.ts) on the fake
// API, with the real snapshot commands run against it: the e2e scenario builds on both, so they are
// checked together here. The config file is what the fake API renders, as pmxcfs would show it.
import { afterEach, describe, expect, it } from 'vitest';
import { qmTool } from '../../src/cli/qm.js';
import type { Exec } from '../../src/ports/exec.js';
import { parseLocalVmConfig, parseSnapshotSections } from '../../src/proxmox/local-config.js';
import { deleteSnapshot } from '../../src/snapshot/delete.js';
import { rollbackVm } from '../../src/snapshot/rollback.js';
import { snapshotVm } from '../../src/snapshot/take.js';
import { qmSnapshotCommand, type SnapshotVmState } from '../e2e/guest/snapshot-cmds.js';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import { NOTES, refused, snapshotHost, type SnapshotHost } from './snapshot-helpers.js';

let pve: FakePve | undefined;
const hosts: SnapshotHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) h.t.remove();
  await pve?.close();
  pve = undefined;
});

async function standIn(): Promise<{ h: SnapshotHost; api: FakePve; calls: string[]; started: number[] }> {
  const api = await startFakePve();
  pve = api;
  api.addVm({ vmid: 100, config: { name: 'unraid', memory: 2048, description: NOTES.trimEnd(), boot: 'order=usb0' }, pending: { memory: 4096 } });
  const h = snapshotHost();
  hosts.push(h);
  const calls: string[] = [];
  const started: number[] = [];
  const sync = () => h.t.put('/qemu-server/100.conf', api.vmConfigFile(100));
  const vm: SnapshotVmState = {
    vmid: 100,
    config: () => api.vmConfig(100),
    running: () => api.vm(100).status === 'running',
    snapshots: () => api.vmSnapshots(100),
    setSnapshot: (n, c) => api.setVmSnapshot(100, n, c),
    setConfig: (c) => api.replaceVmConfig(100, c),
    setParent: (n) => (n === undefined ? api.deleteVmOption(100, 'parent') : api.setVmOption(100, 'parent', n)),
    start: async (id) => void started.push(id),
  };
  const exec: Exec = async (_file, args) => {
    calls.push(args.join(' '));
    const [cmd, , ...rest] = args;
    if (cmd === 'status') return { exitCode: 0, stdout: `status: ${api.vm(100).status}\n`, stderr: '' };
    const r = await qmSnapshotCommand(vm, cmd as 'snapshot', rest);
    sync();
    return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
  };
  h.deps.qm = qmTool(exec);
  sync();
  return { h, api, calls, started };
}

describe('qm snapshot stand-in with the real commands', () => {
  it('snapshot writes a [name] section like qemu-server: options without the notes, the comment, parent links', async () => {
    const { h, api } = await standIn();
    await snapshotVm(h.deps, { vmid: 100, name: 'first', description: 'clean install' });
    await snapshotVm(h.deps, { vmid: 100, name: 'second' });
    const text = api.vmConfigFile(100);
    const sections = parseSnapshotSections(text);
    expect([...sections.keys()]).toEqual(['first', 'second']);
    expect(sections.get('first')).toEqual({ boot: 'order=usb0', memory: '2048', name: 'unraid', snaptime: expect.stringMatching(/^\d+$/) });
    expect(sections.get('second')).toMatchObject({ parent: 'first' });
    expect(text).toMatch(/\n\[first\]\n#clean install\n/);
    // the notes stay in the main section only, [PENDING] is untouched
    expect(parseLocalVmConfig(text).options.parent).toBe('second');
    expect(text).toMatch(/\[PENDING\]\nmemory: 4096/);
    expect(h.tree()).toEqual(expect.arrayContaining(['.pve-usb-gadget-snapshots/100/first/manifest.json', '.pve-usb-gadget-snapshots/100/second/manifest.json']));
  });

  it('rollback applies the section (notes kept, pending gone), delsnapshot relinks the parents', async () => {
    const { h, api, started } = await standIn();
    await snapshotVm(h.deps, { vmid: 100, name: 'first' });
    await snapshotVm(h.deps, { vmid: 100, name: 'second' });
    api.setVmOption(100, 'memory', 8192);
    h.t.put('/qemu-server/100.conf', api.vmConfigFile(100));
    await rollbackVm(h.deps, 100, 'first');
    expect(api.vmConfig(100)).toMatchObject({ memory: 2048, parent: 'first', description: NOTES.trimEnd() });
    expect(api.vm(100).pending).toEqual({});
    expect(started).toEqual([]);
    await deleteSnapshot(h.deps, 100, 'first');
    expect(api.vmSnapshots(100).second?.parent).toBeUndefined();
    expect(api.vmConfig(100).parent).toBeUndefined();
    expect(h.tree()).toEqual(expect.not.arrayContaining(['.pve-usb-gadget-snapshots/100/first']));
  });

  it("answers qemu-server's refusals", async () => {
    const { h, api, calls } = await standIn();
    expect((await qmSnapshotCommand(vmOf(api), 'snapshot', ['current'])).stderr).toBe("unable to use snapshot name 'current' (reserved name)\n");
    expect((await qmSnapshotCommand(vmOf(api), 'snapshot', ['Pending'])).stderr).toBe("unable to use snapshot name 'pending' (reserved name)\n");
    expect((await qmSnapshotCommand(vmOf(api), 'snapshot', ['a'])).stderr).toMatch(/snapname: invalid format - invalid configuration ID 'a'/);
    expect((await qmSnapshotCommand(vmOf(api), 'rollback', ['nope'])).stderr).toBe("snapshot 'nope' does not exist\n");
    api.setVmOption(100, 'lock', 'backup');
    expect((await qmSnapshotCommand(vmOf(api), 'snapshot', ['first'])).stderr).toBe('VM is locked (backup)\n');
    api.deleteVmOption(100, 'lock');
    await snapshotVm(h.deps, { vmid: 100, name: 'first' });
    expect((await qmSnapshotCommand(vmOf(api), 'snapshot', ['first'])).stderr).toBe("snapshot name 'first' already used\n");
    expect(calls).toContain('snapshot 100 first');
    expect(await refused(snapshotVm(h.deps, { vmid: 100, name: 'first' }))).toBeDefined();
  });
});

function vmOf(api: FakePve): SnapshotVmState {
  return {
    vmid: 100,
    config: () => api.vmConfig(100),
    running: () => false,
    snapshots: () => api.vmSnapshots(100),
    setSnapshot: (n, c) => api.setVmSnapshot(100, n, c),
    setConfig: (c) => api.replaceVmConfig(100, c),
    setParent: (n) => (n === undefined ? api.deleteVmOption(100, 'parent') : api.setVmOption(100, 'parent', n)),
  };
}
