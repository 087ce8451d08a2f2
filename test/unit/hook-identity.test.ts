// pre-start and the licence identity (unRAID GUID): a GUID another VM of the cluster has, or a usbN line
// copied from another VM, is refused before any effect; a restore under a new vmid with the original
// gone keeps VID, PID and serial and builds the stick.
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import type { HookDeps } from '../../src/hook/deps.js';
import { createLogger } from '../../src/hook/log.js';
import { apiPassthrough, type Passthrough } from '../../src/hook/passthrough.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { startFakePve } from '../fake-pve/index.js';
import { preStart } from '../../src/hook/pre-start.js';
import { createVmSource } from '../../src/hook/vm-source-impl.js';
import { encodeText } from '../../src/proxmox/local-config.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore } from '../../src/state/record.js';
import { fakeKernelFs } from './fake-kernel.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const PINNED = '[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111\n';
const SECRET = '0b6a3b6e-9f43-4d5e-8a1b-2c3d4e5f6a7b';
const roots: TmpRoot[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const r of roots.splice(0)) r.remove();
});

/** A VM config file as pmxcfs holds it: notes as '#' lines (percent-encoded), then the options. */
const conf = (notes: string, options: Record<string, string> = {}) =>
  [...notes.split('\n').map((l) => `#${encodeText(l)}`), ...Object.entries(options).map(([k, v]) => `${k}: ${v}`), ''].join('\n');

function host() {
  const t = tmpRoot('pvug-identity-');
  roots.push(t);
  t.put('/images/stick.img', '\0'.repeat(1 << 16));
  t.fs.mkdir('/run', { recursive: true });
  // this node's folder is /qemu-server (the link /etc/pve/qemu-server on Proxmox); other nodes' under /nodes
  t.fs.mkdir('/qemu-server', { recursive: true });
  const settings = parseSettings(`[images]\nallowed_dirs = /images\n[paths]\nroot = ${t.root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`, 'test', 'pve');
  const events: string[] = [];
  const lines: string[] = [];
  const fs = fakeKernelFs(t);
  const log = createLogger('t', { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  const passthrough: Passthrough = {
    ensure: async (vmid, usbId) => {
      events.push(`mapping ${vmid} ${usbId}`);
      return { name: `usb-gadget-${vmid}`, checked: true };
    },
    attachIfMissing: (vmid) => void events.push(`attach ${vmid}`),
  };
  const deps: HookDeps = {
    fs,
    exec: async (file, args) => {
      events.push(`${file} ${args.join(' ')}`);
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    log,
    settings,
    lock: { acquire: async () => (events.push('lock'), async () => void events.push('unlock')) },
    state: new StateStore(fs, settings.paths.stateDir),
    vms: createVmSource({ fs, settings, log }, undefined),
    passthrough,
    checkpoint: (step) => void events.push(step),
  };
  return { t, deps, events, lines };
}

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const nothingMade = (h: ReturnType<typeof host>) => {
  expect(h.events).toEqual([]);
  expect(h.t.fs.list('/sys/kernel/config/usb_gadget')).toEqual([]);
  expect(h.t.fs.list('/run')).toEqual([]);
};

describe('pre-start: one licence identity per VM', () => {
  it('refuses a clone whose GUID another VM in the cluster has, naming it and the fix, before any effect', async () => {
    const h = host();
    h.t.put('/nodes/pve2/qemu-server/100.conf', conf(PINNED, { smbios1: 'uuid=3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a', usb0: 'mapping=usb-gadget-100' }));
    h.t.put('/qemu-server/200.conf', conf(PINNED, { smbios1: 'uuid=11111111-2222-4333-8444-555555555555', usb0: 'mapping=usb-gadget-100' }));
    const err = await failure(preStart(h.deps, 200));
    expect(err).toBeInstanceOf(ConflictError);
    const line = (err as ConflictError).toLine();
    expect(line).toContain('unRAID GUID 0781-5571-0001-230101111111 of VM 200 is also the GUID of VM 100 (node pve2)');
    expect(line).toContain('pve-usb-gadget enable 200 --image /images/stick.img --new-identity if VM 200 is the copy, pve-usb-gadget enable 100 --image <image> --new-identity if VM 100 is');
    nothingMade(h);
  });

  it('the same GUID reached another way (only the last 16 serial characters count) is a duplicate too', async () => {
    const h = host();
    h.t.put('/qemu-server/100.conf', conf(PINNED.replace('4C530001230101111111', 'FFFF0001230101111111')));
    h.t.put('/qemu-server/200.conf', conf(PINNED));
    expect(await failure(preStart(h.deps, 200))).toBeInstanceOf(ConflictError);
    // the original is refused too while the copy has its GUID: which one is the copy is not known
    expect(await failure(preStart(h.deps, 100))).toBeInstanceOf(ConflictError);
    nothingMade(h);
  });

  it('refuses a usbN line that passes through another existing VM\'s stick, even with a GUID of its own', async () => {
    const h = host();
    h.t.put('/qemu-server/100.conf', conf(PINNED));
    h.t.put('/qemu-server/200.conf', conf(PINNED.replace('4C53', '9999').replace('5571', '5572'), { usb0: 'mapping=usb-gadget-100' }));
    const err = await failure(preStart(h.deps, 200));
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).toLine()).toMatch(/usb0 passes through usb-gadget-100, the stick of VM 100.*fix: pve-usb-gadget enable 200 --image \/images\/stick.img --new-identity/);
    nothingMade(h);
  });

  it('a template with the same identity is a pattern, not a use: not a duplicate', async () => {
    const h = host();
    h.t.put('/qemu-server/9000.conf', conf(PINNED, { template: '1' }));
    h.t.put('/qemu-server/200.conf', conf(PINNED, { usb0: 'mapping=usb-gadget-200' }));
    await preStart(h.deps, 200);
    expect(h.events).toContain('bound');
  });

  it('a restore as VM 200 with VM 100 gone keeps VID, PID and serial, warns about the copied line, and builds the stick', async () => {
    const h = host();
    const fake = await startFakePve({ authFailureDelayMs: 0 });
    fake.addToken('pve-usb-gadget@pve!hook', SECRET, { '/mapping/usb': ['Mapping.Modify', 'Mapping.Use', 'Mapping.Audit'], '/vms': ['VM.Audit'] });
    // VM 100 was destroyed without `disable`: its mapping lingers in the cluster
    fake.addUsbMapping('usb-gadget-100', { map: ['node=pve,id=0781:5571'] });
    const client = new ProxmoxClient({ url: fake.url, tokenId: 'pve-usb-gadget@pve!hook', secret: SECRET, caPem: fake.caPem });
    const spawned: number[] = [];
    h.deps.passthrough = apiPassthrough(h.deps, client, (vmid) => spawned.push(vmid));
    cleanups.push(async () => {
      await client.close();
      await fake.close();
    });
    // vzdump of VM 100 restored as 200 (new smbios1 uuid), VM 100 destroyed: its mapping may linger
    h.t.put('/qemu-server/200.conf', conf(PINNED, { smbios1: 'uuid=11111111-2222-4333-8444-555555555555', usb0: 'mapping=usb-gadget-100' }));
    await preStart(h.deps, 200);
    const g = '/sys/kernel/config/usb_gadget/pvug-200';
    expect([h.t.fs.readText(`${g}/idVendor`), h.t.fs.readText(`${g}/idProduct`), h.t.fs.readText(`${g}/strings/0x409/serialnumber`)]).toEqual(['0x0781', '0x5571', '4C530001230101111111']);
    expect(fake.usbMapping('usb-gadget-200')?.map).toEqual(['node=pve,id=0781:5571']);
    expect(h.lines.join('\n')).toContain('serial 4C530001230101111111 (unRAID GUID 0781-5571-0001-230101111111)');
    expect(h.lines.join('\n')).toMatch(/WARN: usb0 points at usb-gadget-100, the mapping of VM 100, which no longer exists.*pve-usb-gadget enable 200 --image \/images\/stick.img.*the GUID stays 0781-5571-0001-230101111111/);
    // nothing mints an identity at start: no GUID warning (all three pinned), and the attach helper is not
    // started (a second usbN line would be a second device for one VID:PID)
    expect(h.lines.join('\n')).not.toMatch(/not pinned/);
    expect(spawned).toEqual([]);
    expect(h.t.fs.list('/run')).toEqual(['200.json']);
  });

  it('warns with the lines to add when the GUID is not pinned, and still starts', async () => {
    const h = host();
    h.t.put('/qemu-server/200.conf', conf('[usb-gadget]\nimage = /images/stick.img\nserial = 4C530001230101111111', { usb0: 'mapping=usb-gadget-200' }));
    await preStart(h.deps, 200);
    expect(h.lines.join('\n')).toMatch(/WARN: unRAID GUID 1D6B-80C8-0001-230101111111 is not pinned.*\n    vendor_id = 0x1d6b\n    product_id = 0x80c8/);
    expect(h.events).toContain('bound');
  });
});
