// The hook's Proxmox side against the fake PVE over real HTTPS: mapping upkeep, the detached helper
// decision, PVE 7 (no mapping API), transient errors as warnings, permission errors as failures.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { apiPassthrough } from '../../src/hook/passthrough.js';
import { createLogger } from '../../src/hook/log.js';
import { GadgetError } from '../../src/errors.js';
import type { Settings } from '../../src/settings/types.js';
import type { VmInfo } from '../../src/hook/vm-source.js';

const SECRET = '0b6a3b6e-9f43-4d5e-8a1b-2c3d4e5f6a7b';
const TOKEN = 'pve-usb-gadget@pve!hook';
const settings = { node: 'pve' } as Settings;
const vm = (config: Record<string, string>): VmInfo => ({ description: '', config, source: 'api' });

describe('apiPassthrough', () => {
  let fake: FakePve | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  const setup = async (opts: { mappingApi?: boolean; acl?: Record<string, string[]> } = {}) => {
    fake = await startFakePve({ mappingApi: opts.mappingApi, authFailureDelayMs: 0 });
    fake.addToken(TOKEN, SECRET, opts.acl ?? { '/mapping/usb': ['Mapping.Modify', 'Mapping.Use', 'Mapping.Audit'], '/vms': ['VM.Audit'] });
    const client = new ProxmoxClient({ url: fake.url, tokenId: TOKEN, secret: SECRET, caPem: fake.caPem });
    const out: string[] = [];
    const log = createLogger('t', { out: (l) => out.push(l), err: (l) => out.push(l) });
    const spawned: number[] = [];
    const p = apiPassthrough({ log, settings }, client, (vmid) => spawned.push(vmid));
    return { p, out, spawned, client };
  };

  it('creates the mapping for this node and leaves the VM config to its usbN line', async () => {
    const { p, out, spawned, client } = await setup();
    expect(await p.ensure(100, '0781:5571')).toEqual({ name: 'usb-gadget-100', checked: true });
    p.attachIfMissing(100, vm({ usb0: 'mapping=usb-gadget-100' }));
    expect(fake!.usbMapping('usb-gadget-100')?.map).toEqual(['node=pve,id=0781:5571']);
    expect(spawned).toEqual([]);
    expect(out.join('\n')).toContain('usb-gadget-100: created');
    // a GUI/API start may have read the mapping before the hook created it: the log says what to do
    expect(out.filter((l) => l.includes('start the VM again'))).toHaveLength(1);
    await p.ensure(100, '0781:5571');
    expect(out.join('\n')).toContain('usb-gadget-100: unchanged');
    expect(out.filter((l) => l.includes('start the VM again'))).toHaveLength(1);
    await client.close();
  });

  it('starts the detached helper when the VM has no usbN line for the mapping', async () => {
    const { p, out, spawned, client } = await setup();
    await p.ensure(101, '0781:5572');
    expect(spawned).toEqual([]);
    p.attachIfMissing(101, vm({ usb0: 'host=1234:5678' }));
    expect(spawned).toEqual([101]);
    expect(out.join('\n')).toContain('no usbN line for usb-gadget-101');
    await client.close();
  });

  it('starts no helper while the VM config is locked (vzdump starts a stopped VM paused with lock: backup)', async () => {
    const { p, out, spawned, client } = await setup();
    p.attachIfMissing(102, vm({ lock: 'backup' }));
    expect(spawned).toEqual([]);
    expect(out.join('\n')).toContain('no usbN line added for usb-gadget-102: the VM config is locked (backup)');
    await client.close();
  });

  it('adds no second line when the VM still has the line a restore copied (another VM\'s mapping)', async () => {
    const { p, out, spawned, client } = await setup();
    p.attachIfMissing(200, vm({ usb0: 'mapping=usb-gadget-100' }));
    expect(spawned).toEqual([]);
    expect(out.join('\n')).toContain('no usbN line added: usb0 (usb-gadget-100) is there until pve-usb-gadget enable 200 repoints it');
    await client.close();
  });

  it('refuses Proxmox VE 7 (no mapping API) with the reason', async () => {
    const { p, client } = await setup({ mappingApi: false });
    const err = await p.ensure(102, '0781:5573').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GadgetError);
    expect((err as GadgetError).toLine()).toMatch(/Proxmox VE 8 or newer/);
    await client.close();
  });

  it('fails on a missing privilege, naming it', async () => {
    const { p, client } = await setup({ acl: { '/mapping/usb': ['Mapping.Audit'] } });
    const err = await p.ensure(103, '0781:5574').catch((e: unknown) => e);
    expect((err as GadgetError).toLine()).toMatch(/Mapping\.Modify/);
    expect((err as GadgetError).toLine()).not.toContain(SECRET);
    await client.close();
  });

  it('only warns when the API is down: the gadget stays usable with the existing mapping', async () => {
    const { p, out, client } = await setup();
    await fake!.down();
    expect(await p.ensure(104, '0781:5575')).toEqual({ name: 'usb-gadget-104', checked: false });
    expect(out.join('\n')).toMatch(/WARN: could not check the USB mapping usb-gadget-104/);
    await client.close();
  });
});
