// The detached attach-mapping helper against the fake PVE over real HTTPS, with qemu-server's USB hot-plug
// rules (test/fake-pve/hotplug.ts): plugged at once, kept pending when the VM cannot hot-plug USB, and a
// failed hot-plug (HTTP 400 "hotplug problem") said in the log instead of crashing the helper.
import { afterEach, describe, expect, it } from 'vitest';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { attachMapping } from '../../src/hook/passthrough.js';
import { createLogger } from '../../src/hook/log.js';
import { GadgetError } from '../../src/errors.js';
import type { Settings } from '../../src/settings/types.js';

const SECRET = '0b6a3b6e-9f43-4d5e-8a1b-2c3d4e5f6a7b';
const TOKEN = 'pve-usb-gadget@pve!hook';
const settings = { node: 'pve' } as Settings;
const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 20))) };

describe('attachMapping (the detached helper)', () => {
  let fake: FakePve | undefined;
  let client: ProxmoxClient | undefined;
  afterEach(async () => {
    await client?.close();
    await fake?.close();
    fake = undefined;
    client = undefined;
  });

  const setup = async (config: Record<string, string>, acl: Record<string, string[]> = { '/mapping/usb': ['Mapping.Use', 'Mapping.Audit'] }) => {
    fake = await startFakePve({ authFailureDelayMs: 0 });
    fake.addToken(TOKEN, SECRET, { ...acl, '/vms': ['VM.Audit', 'VM.Config.HWType'] });
    fake.addUsbMapping('usb-gadget-100', { map: ['node=pve,id=0781:5571'] });
    fake.addVm({ vmid: 100, config: { name: 'vm100', ...config }, status: 'running' });
    client = new ProxmoxClient({ url: fake.url, tokenId: TOKEN, secret: SECRET, caPem: fake.caPem });
    const out: string[] = [];
    const log = createLogger('t', { out: (l) => out.push(l), err: (l) => out.push(l) });
    const plugged: string[] = [];
    return { out, plugged, run: () => attachMapping({ log, settings, clock }, 100, client!, 5_000) };
  };

  it('without the per-mapping grant (a VM never enabled) it fails naming the command that grants it', async () => {
    // the role install.sh creates: Mapping.Modify on /mapping/usb, Mapping.Use only where enable granted it
    const { run } = await setup({ ostype: 'l26', machine: 'q35' }, { '/mapping/usb': ['Mapping.Modify'], '/mapping/usb/usb-gadget-200': ['Mapping.Use'] });
    const err: unknown = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GadgetError);
    expect((err as GadgetError).toLine()).toMatch(/Permission check failed \(\/mapping\/usb\/usb-gadget-100, Mapping\.Use\).*fix: run 'pve-usb-gadget enable 100 --image <image>' as root/);
    expect(fake!.vm(100).config.usb0).toBeUndefined();
  });

  it('adds usb0 and Proxmox hot-plugs it into the running VM', async () => {
    const { out, plugged, run } = await setup({ ostype: 'l26', machine: 'q35' });
    fake!.setUsbPlugger(async (vmid, key, value) => void plugged.push(`${vmid} ${key} ${value}`));
    await run();
    expect(plugged).toEqual(['100 usb0 mapping=usb-gadget-100']);
    expect(fake!.vm(100).config.usb0).toBe('mapping=usb-gadget-100');
    expect(fake!.vm(100).pending).toEqual({});
    expect(out.join('\n')).toContain('added usb0: mapping=usb-gadget-100 to VM 100 (hot-plugged)');
  });

  it('says the line is pending when the VM cannot hot-plug USB (no ostype, or hotplug without usb)', async () => {
    const configs: Record<string, string>[] = [{ machine: 'q35' }, { ostype: 'l26', hotplug: 'network,disk' }, { ostype: 'win7' }];
    for (const config of configs) {
      const { out, plugged, run } = await setup(config);
      fake!.setUsbPlugger(async (vmid, key) => void plugged.push(`${vmid} ${key}`));
      await run();
      expect(plugged).toEqual([]);
      expect(fake!.vm(100).config.usb0).toBeUndefined();
      expect(fake!.vm(100).pending.usb0).toBe('mapping=usb-gadget-100');
      expect(out.join('\n')).toMatch(/as a pending change: its config does not allow USB hot-plug .* at its next start/);
      await client!.close();
      await fake!.close();
    }
    fake = undefined;
    client = undefined;
  });

  it('a failed hot-plug (HTTP 400) is an error line naming the problem; the line stays pending', async () => {
    const { out, run } = await setup({ ostype: 'l26' });
    fake!.setUsbPlugger(async () => {
      throw new Error("Duplicate ID 'usb0' for device");
    });
    await expect(run()).resolves.toBeUndefined();
    expect(fake!.vm(100).config.usb0).toBeUndefined();
    expect(fake!.vm(100).pending.usb0).toBe('mapping=usb-gadget-100');
    const text = out.join('\n');
    expect(text).toContain("could not hot-plug usb0: mapping=usb-gadget-100 (hotplug problem - Duplicate ID 'usb0' for device)");
    expect(text).toContain('next start');
    const put = fake!.requests.find((r) => r.method === 'PUT');
    expect(put?.status).toBe(400);
  });
});
