// doctor: each check's verdict and fix, against a temporary host tree, stub commands and the fake API.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { HostFs } from '../../src/ports/host-fs.js';
import { checkEnabledVms, checkToken, usbIdCollisions, vmLine, type EnabledVm } from '../../src/cli/doctor-cluster.js';
import { checkHookFile, checkModules, checkNodeVersion, checkScheduler, schedulerOfModule } from '../../src/cli/doctor-host.js';
import { doctorExitCode, formatChecks, runDoctor } from '../../src/cli/doctor.js';
import { guidCollisions } from '../../src/cli/doctor-identity.js';
import { parseQmConfig, qmSetArgs } from '../../src/cli/qm.js';
import type { Exec } from '../../src/ports/exec.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { SettingsError } from '../../src/errors.js';
import { parseSettings } from '../../src/settings/parse.js';
import { startFakePve } from '../fake-pve/index.js';

let root: string;
let fs: HostFs;
const put = (p: string, content: string | Buffer, mode = 0o644) => {
  mkdirSync(dirname(join(root, p)), { recursive: true });
  writeFileSync(join(root, p), content);
  chmodSync(join(root, p), mode);
};
/** commands answered from a table: "modinfo -n dummy_hcd" → stdout, or undefined for exit 1 */
const execFrom = (table: Record<string, string | undefined>): Exec => async (file, args) => {
  const out = table[[file, ...args].join(' ')];
  return out === undefined ? { exitCode: 1, stdout: '', stderr: `${file}: not found` } : { exitCode: 0, stdout: `${out}\n`, stderr: '' };
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pvug-doctor-'));
  fs = nodeHostFs(root);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('host checks', () => {
  it('modules: loaded or available is fine; a missing dummy_hcd points at install.sh', async () => {
    mkdirSync(join(root, 'sys/module/libcomposite'), { recursive: true });
    const exec = execFrom({ 'modinfo -n usb_f_mass_storage': '/lib/modules/k/usb_f_mass_storage.ko', 'uname -r': '6.8.12-4-pve' });
    const r = await checkModules(fs, exec);
    expect(r).toMatchObject({ status: 'fail', detail: 'missing for kernel 6.8.12-4-pve: dummy_hcd' });
    expect(r.fix).toMatch(/install.sh/);
    const all = await checkModules(fs, execFrom({ 'modinfo -n dummy_hcd': '/x/dummy_hcd.ko', 'modinfo -n usb_f_mass_storage': '/x/u.ko' }));
    expect(all.status).toBe('ok');
  });

  it('scheduler: hrtimer is ok, jiffies a warning, from plain and gzip modules', async () => {
    expect(schedulerOfModule('\0hrtimer_start_range_ns\0')).toBe('hrtimer');
    expect(schedulerOfModule('\0mod_timer\0')).toBe('jiffies');
    expect(schedulerOfModule('nothing')).toBe('unknown');
    put('/lib/modules/k/updates/dkms/dummy_hcd.ko', Buffer.from('\x7fELF\0hrtimer_start_range_ns\0'));
    const ok = await checkScheduler(fs, execFrom({ 'modinfo -n dummy_hcd': '/lib/modules/k/updates/dkms/dummy_hcd.ko' }));
    expect(ok).toMatchObject({ status: 'ok' });
    expect(ok.detail).toMatch(/^hrtimer \(DKMS build/);
    put('/lib/modules/k/kernel/dummy_hcd.ko.gz', gzipSync(Buffer.from('\x7fELF\0mod_timer\0')));
    const slow = await checkScheduler(fs, execFrom({ 'modinfo -n dummy_hcd': '/lib/modules/k/kernel/dummy_hcd.ko.gz' }));
    expect(slow).toMatchObject({ status: 'warn' });
    expect(slow.detail).toMatch(/^jiffies \(kernel's own/);
  });

  it('node: 18.20 and newer', () => {
    expect(checkNodeVersion('18.20.4').status).toBe('ok');
    expect(checkNodeVersion('20.19.2').status).toBe('ok');
    expect(checkNodeVersion('18.19.1').status).toBe('fail');
  });

  it('hook: present, executable and with a #! line on this node', async () => {
    const exec = execFrom({ 'pvesm path local:snippets/h.cjs': '/var/lib/vz/snippets/h.cjs' });
    expect((await checkHookFile(fs, exec, 'local:snippets/h.cjs')).detail).toMatch(/missing on this node/);
    put('/var/lib/vz/snippets/h.cjs', '#!/usr/bin/env node\n', 0o644);
    expect((await checkHookFile(fs, exec, 'local:snippets/h.cjs')).detail).toMatch(/not an executable file/);
    chmodSync(join(root, 'var/lib/vz/snippets/h.cjs'), 0o755);
    expect((await checkHookFile(fs, exec, 'local:snippets/h.cjs')).status).toBe('ok');
  });

  it('stops after a settings failure, reports it, and exits 1', async () => {
    const results = await runDoctor({
      fs,
      exec: execFrom({}),
      nodeVersion: '18.20.4',
      loadSettings: () => {
        throw new SettingsError('settings file /etc/x is writable by group or others', { fix: 'chmod go-w /etc/x' });
      },
      api: () => undefined,
      hookscript: 'local:snippets/h.cjs',
    });
    expect(results.map((r) => r.check)).toEqual(['kernel modules', 'configfs', 'dummy_hcd scheduler', 'node', 'settings']);
    expect(formatChecks(results).at(-1)).toBe('FAIL  settings: settings file /etc/x is writable by group or others; fix: chmod go-w /etc/x');
    expect(doctorExitCode(results)).toBe(1);
  });
});

describe('cluster checks', () => {
  const vm = (o: Partial<EnabledVm> = {}): EnabledVm => ({ vmid: 100, node: 'pve', usbId: '0781:5571', usbLines: ['usb0'], ...o });
  const mapped = (...map: string[]) => [{ id: 'usb-gadget-100', map }];
  const HOOK = 'local:snippets/pve-usb-gadget-hook.cjs';

  it("judges each enabled VM's line, hookscript and this node's mapping entry", () => {
    expect(vmLine(vm(), 'pve', mapped('node=pve,id=0781:5571'), HOOK).status).toBe('ok');
    expect(vmLine(vm(), 'pve', mapped('node=pve2,id=0781:5571'), HOOK)).toMatchObject({ status: 'warn' });
    expect(vmLine(vm(), 'pve', mapped('node=pve,id=0781:9999'), HOOK).detail).toMatch(/pre-start updates it/);
    expect(vmLine(vm(), 'pve', mapped('node=pve,id=0781:5571', 'node=pve,id=1234:5678'), HOOK).status).toBe('fail');
    expect(vmLine(vm({ usbLines: [] }), 'pve', [], HOOK).detail).toMatch(/no usbN: mapping=usb-gadget-100 line/);
    expect(vmLine(vm(), 'pve', mapped('node=pve,id=0781:5571'), '').detail).toMatch(/no hookscript/);
    // a VM on another node: its hookscript is not checked from here
    expect(vmLine(vm({ node: 'pve2' }), 'pve', mapped('node=pve,id=0781:5571'), undefined).status).toBe('ok');
  });

  it('warns once per VID:PID shared by several VMs', () => {
    const r = usbIdCollisions([vm(), vm({ vmid: 101 }), vm({ vmid: 102, usbId: '1d6b:8066' })]);
    expect(r).toHaveLength(1);
    expect(r[0]?.detail).toBe('VMs 100, 101 all use 0781:5571: only one of them can run on a node at a time');
  });

  it('finds the privileges a token lacks through the API', async () => {
    const fake = await startFakePve({ authFailureDelayMs: 0 });
    const secret = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    fake.addToken('u@pve!tok', secret, { '/vms': ['VM.Audit', 'VM.Config.HWType'], '/mapping/usb': ['Mapping.Use', 'Mapping.Audit'] });
    const client = new ProxmoxClient({ url: fake.url, tokenId: 'u@pve!tok', secret, caPem: fake.caPem });
    try {
      const settings = parseSettings('[api]\ntoken_id = u@pve!tok\n', 'x', 'pve');
      const [token, privs] = await checkToken(client, settings);
      expect(token?.status).toBe('ok');
      expect(privs).toMatchObject({ status: 'fail', detail: 'lacks Mapping.Modify on /mapping/usb, VM.Config.Options on /vms' });
    } finally {
      await client.close();
      await fake.close();
    }
  });
});

describe('enabled VMs across a cluster', () => {
  it('adds a placement line per VM: local storage pins the stick to one node, with the fix', async () => {
    const fake = await startFakePve({ nodes: ['pve1', 'pve2'], authFailureDelayMs: 0 });
    const secret = '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
    fake.addToken('u@pve!tok', secret, {
      '/vms': ['VM.Audit', 'VM.Config.Disk'],
      '/storage': ['Datastore.Audit'],
      '/mapping/usb': ['Mapping.Audit'],
    });
    fake.addStorage('local-lvm', { type: 'lvmthin', vgname: 'pve', content: ['images'] });
    fake.addVolume('local-lvm:vm-100-usb', { size: 64 << 20 }, 'pve1');
    const notes = (image: string) => `[usb-gadget]\nimage = ${image}\nproduct_id = 0x5571\nvendor_id = 0x0781\n`;
    fake.addVm({ vmid: 100, node: 'pve1', config: { description: notes('local-lvm:vm-100-usb'), usb0: 'mapping=usb-gadget-100' } });
    fake.addVm({ vmid: 101, node: 'pve1', config: { description: notes('/var/lib/vz/images/101/usb.img').replace('5571', '5572'), usb0: 'mapping=usb-gadget-101' } });
    const client = new ProxmoxClient({ url: fake.url, tokenId: 'u@pve!tok', secret, caPem: fake.caPem });
    try {
      const settings = parseSettings('[api]\ntoken_id = u@pve!tok\n', 'x', 'pve1');
      const r = await checkEnabledVms(client, settings, undefined);
      const placement = r.filter((x) => x.check.endsWith('placement'));
      expect(placement.find((x) => x.check === 'VM 100 placement')).toMatchObject({ status: 'warn' });
      expect(placement.find((x) => x.check === 'VM 100 placement')?.detail).toMatch(/only be built on pve1/);
      expect(placement.find((x) => x.check === 'VM 100 placement')?.fix).toMatch(/shared storage/);
      // a plain path is a file of the node the VM is on
      const path = placement.filter((x) => x.check === 'VM 101 placement');
      expect(path.map((x) => x.status)).toEqual(['warn']);
      expect(path[0]?.detail).toMatch(/lun0 is a path on pve1/);
      expect(r.every((x) => x.status !== 'fail')).toBe(true);
    } finally {
      await client.close();
      await fake.close();
    }
  });
});

describe('the licence identity across the cluster', () => {
  it('reports a GUID two VMs have, a clone\'s copied usbN line, and shows each VM\'s GUID', async () => {
    const fake = await startFakePve({ nodes: ['pve1', 'pve2'], authFailureDelayMs: 0 });
    const secret = '2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f';
    fake.addToken('u@pve!tok', secret, { '/vms': ['VM.Audit'], '/mapping/usb': ['Mapping.Audit'] });
    const notes = (serial: string) => `[usb-gadget]\nimage = /var/lib/vz/usb-gadget/unraid.img\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = ${serial}\n`;
    fake.addVm({ vmid: 100, node: 'pve1', config: { description: notes('4C530001230101111111'), usb0: 'mapping=usb-gadget-100' } });
    // qm clone 100 200 onto pve2: the notes and the usb0 line came along; only the first 4 serial characters differ
    fake.addVm({ vmid: 200, node: 'pve2', config: { description: notes('99990001230101111111'), usb0: 'mapping=usb-gadget-100' } });
    // a restore of a VM that is gone, with its own GUID
    fake.addVm({ vmid: 300, node: 'pve1', config: { description: notes('A1B2C3D4E5F60718'), usb0: 'mapping=usb-gadget-150' } });
    fake.addUsbMapping('usb-gadget-100', { map: ['node=pve1,id=0781:5571'] });
    const client = new ProxmoxClient({ url: fake.url, tokenId: 'u@pve!tok', secret, caPem: fake.caPem });
    try {
      const settings = parseSettings('[api]\ntoken_id = u@pve!tok\n', 'x', 'pve1');
      const r = await checkEnabledVms(client, settings, undefined);
      const collision = r.filter((x) => x.check === 'unRAID GUID collision');
      expect(collision).toHaveLength(1);
      expect(collision[0]).toMatchObject({ status: 'fail', detail: expect.stringContaining('VMs 100, 200 all have unRAID GUID 0781-5571-0001-230101111111') });
      expect(collision[0]?.fix).toContain('pve-usb-gadget enable 200 --image /var/lib/vz/usb-gadget/unraid.img --new-identity');
      const clone = r.find((x) => x.check === 'VM 200' && x.detail.includes('passes through'));
      expect(clone).toMatchObject({ status: 'fail', detail: expect.stringContaining("usb0 passes through usb-gadget-100, VM 100's stick") });
      expect(clone?.fix).toMatch(/^pve-usb-gadget enable 200 --image \S+ --new-identity/);
      const restored = r.find((x) => x.check === 'VM 300' && x.detail.includes('no longer exists'));
      expect(restored).toMatchObject({ status: 'warn', fix: expect.stringContaining('pve-usb-gadget enable 300 --image /var/lib/vz/usb-gadget/unraid.img (points usb0 at usb-gadget-300; the GUID stays)') });
      expect(r.find((x) => x.check === 'VM 100')?.detail).toContain('0781:5571 (unRAID GUID 0781-5571-0001-230101111111), usb0 on pve1');
    } finally {
      await client.close();
      await fake.close();
    }
  });

  it('guidCollisions: nothing for distinct GUIDs', () => {
    expect(guidCollisions([{ vmid: 1, guid: 'A', image: 'i' }, { vmid: 2, guid: 'B', image: 'i' }])).toEqual([]);
  });
});

describe('qm', () => {
  it('reads qm config lines (the notes are one encoded line and cannot forge others)', () => {
    const c = parseQmConfig('boot: order=usb0;scsi0\ndescription: x%0Ahookscript%3A local%3Asnippets/evil\nhookscript: local:snippets/pve-usb-gadget-hook.cjs\n');
    expect(c.hookscript).toBe('local:snippets/pve-usb-gadget-hook.cjs');
    expect(c.boot).toBe('order=usb0;scsi0');
  });
  it('builds qm set arguments and refuses anything that could be read as an option', () => {
    expect(qmSetArgs(100, { hookscript: 'local:snippets/h.cjs' }, ['boot'])).toEqual(['set', '100', '--hookscript', 'local:snippets/h.cjs', '--delete', 'boot']);
    expect(() => qmSetArgs(100, { boot: '--delete' })).toThrow();
    expect(() => qmSetArgs(100, { 'x y': 'v' })).toThrow();
  });
});
