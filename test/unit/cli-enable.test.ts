// enable / disable against the fake Proxmox API over real HTTPS, with a token that has exactly the
// privileges privileges.ts lists, and an in-memory `qm` (root) for hookscript and boot order.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import type { AdminDeps } from '../../src/cli/admin-deps.js';
import { disableVm } from '../../src/cli/disable.js';
import { enableVm, type EnableOptions } from '../../src/cli/enable.js';
import type { MappingAclTool } from '../../src/cli/mapping-acl.js';
import { MAIN_NEEDS, mappingAclPath } from '../../src/cli/privileges.js';
import { mappingName } from '../../src/proxmox/mapping.js';
import type { RootVmTool } from '../../src/cli/qm.js';
import { GadgetError, ImagePolicyError, NotesError } from '../../src/errors.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { parseSettings } from '../../src/settings/parse.js';
import { deriveSerial } from '../../src/spec/serial.js';
import { startFakePve, type FakePve } from '../fake-pve/index.js';

const TOKEN = 'pve-usb-gadget@pve!hook';
const SECRET = '2f1d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b';
const ROOT = 'root@pam!qm';
const ROOT_SECRET = '7e6d5c4b-3a29-4187-8f0e-9d8c7b6a5f4e';
const HOOK = 'local:snippets/pve-usb-gadget-hook.cjs';
const UUID = '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c';

/** `qm` as root: the hookscript kept aside (the fake refuses it to every token), the rest through the API. */
function fakeQm(fake: FakePve, root: ProxmoxClient): RootVmTool & { hookscripts: Map<number, string> } {
  const hookscripts = new Map<number, string>();
  return {
    hookscripts,
    async config(vmid) {
      const c = Object.fromEntries(Object.entries(fake.vmEffectiveConfig(vmid)).map(([k, v]) => [k, String(v)]));
      const h = hookscripts.get(vmid);
      return h === undefined ? c : { ...c, hookscript: h };
    },
    async set(vmid, set, del = []) {
      const { hookscript, ...rest } = set;
      if (hookscript !== undefined) hookscripts.set(vmid, hookscript);
      if (del.includes('hookscript')) hookscripts.delete(vmid);
      const restDel = del.filter((k) => k !== 'hookscript');
      if (Object.keys(rest).length > 0 || restDel.length > 0) await root.updateVmConfig('pve', vmid, rest, { delete: restDel });
    },
  };
}

/** pveum as root: the token's Mapping.Use on single mappings, handed to the fake API as PVE would see it. */
function fakeAcl(fake: FakePve, base: Record<string, string[]>): MappingAclTool & { vmids: Set<number> } {
  const vmids = new Set<number>();
  const sync = () => fake.setTokenAcl(TOKEN, { ...base, ...Object.fromEntries([...vmids].map((v) => [mappingAclPath(mappingName(v)), ['Mapping.Use']])) });
  return {
    tokenId: TOKEN,
    vmids,
    granted: async () => [...vmids].sort((a, b) => a - b),
    grant: async (v) => void (vmids.add(v), sync()),
    revoke: async (v) => void (vmids.delete(v), sync()),
  };
}

describe('enable and disable', () => {
  let fake: FakePve;
  let client: ProxmoxClient;
  let root: ProxmoxClient;
  let dir: string;
  let image: string;
  let printed: string[];
  let deps: AdminDeps & { qm: ReturnType<typeof fakeQm>; acl: ReturnType<typeof fakeAcl> };

  beforeEach(async () => {
    fake = await startFakePve({ nodes: ['pve'], authFailureDelayMs: 0, lockTimeoutMs: 200 });
    const acl: Record<string, string[]> = {};
    for (const n of MAIN_NEEDS) acl[n.aclPath] = [...(acl[n.aclPath] ?? []), n.privilege];
    fake.addToken(TOKEN, SECRET, acl);
    fake.addToken(ROOT, ROOT_SECRET, { '/': ['VM.Audit', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Options', 'Mapping.Use'] });
    client = new ProxmoxClient({ url: fake.url, tokenId: TOKEN, secret: SECRET, caPem: fake.caPem });
    root = new ProxmoxClient({ url: fake.url, tokenId: ROOT, secret: ROOT_SECRET, caPem: fake.caPem });
    dir = mkdtempSync(join(tmpdir(), 'pvug-enable-'));
    image = join(dir, 'stick.img');
    writeFileSync(image, Buffer.alloc(4096));
    const settings = { ...parseSettings('', 'test', 'pve'), images: { allowedDirs: [dir], allowBlockDevices: false } };
    printed = [];
    deps = { api: client, qm: fakeQm(fake, root), acl: fakeAcl(fake, acl), settings, fs: nodeHostFs('/'), print: (l) => printed.push(l), randomSerial: () => 'A1B2C3D4E5F60718' };
    fake.addVm({
      vmid: 100,
      config: { name: 'unraid', ostype: 'l26', machine: 'q35', smbios1: `uuid=${UUID}`, description: 'My NAS.\n\nDo not reboot on Fridays.', scsi0: 'local-lvm:vm-100-disk-0,size=8G', net0: 'virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0', boot: 'order=scsi0;net0' },
    });
  });

  afterEach(async () => {
    await client.close();
    await root.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const opts = (o: Partial<EnableOptions> = {}): EnableOptions => ({ image, hookscript: HOOK, ...o });

  it('sets up a stopped VM with the least-privilege token: notes, usb0, mapping, hookscript, boot order', async () => {
    const r = await enableVm(deps, 100, opts({ boot: true, vendorId: '0x0781', productId: '0x5571' }));
    const conf = fake.vmConfig(100);
    expect(conf.description).toBe(`My NAS.\n\nDo not reboot on Fridays.\n\n\`\`\`\n[usb-gadget]\nimage = ${image}\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = A1B2C3D4E5F60718\n\`\`\``);
    expect(conf.usb0).toBe('mapping=usb-gadget-100');
    expect(conf.boot).toBe('order=usb0;scsi0;net0');
    expect(fake.usbMapping('usb-gadget-100')?.map).toEqual(['node=pve,id=0781:5571']);
    expect(deps.qm.hookscripts.get(100)).toBe(HOOK);
    expect(r).toMatchObject({ serial: 'A1B2C3D4E5F60718', usbKey: 'usb0', usbId: '0781:5571' });
    expect(printed.at(-1)).toMatch(/enabled/);
  });

  it('gives the mapping an entry for every node that can build the stick, and only those', async () => {
    fake.addNode('pve2');
    // a path is a file of this node: no entry for pve2 (Proxmox then refuses a migration there)
    await enableVm(deps, 100, opts({ vendorId: '0x0781', productId: '0x5571' }));
    expect(fake.usbMapping('usb-gadget-100')?.map).toEqual(['node=pve,id=0781:5571']);
    // a volume on a shared storage is on both nodes
    const host = mkdtempSync(join(tmpdir(), 'pvug-enable-host-'));
    try {
      mkdirSync(join(host, 'etc/pve'), { recursive: true });
      writeFileSync(join(host, 'etc/pve/storage.cfg'), 'nfs: nas\n\tpath /mnt/pve/nas\n\tserver 192.0.2.9\n\texport /nas\n\tcontent images\n');
      fake.addVm({ vmid: 102, config: { ostype: 'l26', smbios1: `uuid=${UUID}` } });
      const r = await enableVm({ ...deps, fs: nodeHostFs(host) }, 102, opts({ image: 'nas:102/vm-102-usb.raw', vendorId: '0x0781', productId: '0x5572' }));
      expect(fake.usbMapping('usb-gadget-102')?.map).toEqual(['node=pve,id=0781:5572', 'node=pve2,id=0781:5572']);
      expect(r.changes).toContain('USB mapping usb-gadget-102: updated (pve2 -> 0781:5572, for migrations)');
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  it('changes nothing the second time', async () => {
    await enableVm(deps, 100, opts({ boot: true }));
    const digest = fake.vmDigest(100);
    const r = await enableVm(deps, 100, opts({ boot: true }));
    expect(r.changes).toEqual([]);
    expect(fake.vmDigest(100)).toBe(digest);
    expect(printed.at(-1)).toBe('VM 100: already enabled, nothing changed');
  });

  it('pins the serial the VM already shows when its notes configure a stick without one', async () => {
    fake.addVm({ vmid: 101, config: { ostype: 'l26', smbios1: `uuid=${UUID}`, description: `[usb-gadget]\nimage = ${image}` } });
    const r = await enableVm(deps, 101, opts());
    expect(r.serial).toBe(deriveSerial({ vmid: 101, smbiosUuid: UUID }).serial);
    expect(String(fake.vmConfig(101).description)).toContain(`serial = ${r.serial}`);
  });

  it('refuses a running VM with the reason and changes nothing', async () => {
    fake.setVmStatus(100, 'running');
    const digest = fake.vmDigest(100);
    const err = await enableVm(deps, 100, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GadgetError);
    expect((err as GadgetError).toLine()).toMatch(/VM 100 is running: its stick is built by the hook when the VM starts.*fix: shut the VM down/);
    expect(fake.vmDigest(100)).toBe(digest);
    expect(fake.usbMappingIds()).toEqual([]);
  });

  it('refuses a VM with someone else\'s hookscript, a bad value or an image outside the allowed folders', async () => {
    deps.qm.hookscripts.set(100, 'local:snippets/backup-hook.pl');
    await expect(enableVm(deps, 100, opts())).rejects.toThrow(/already has hookscript local:snippets\/backup-hook.pl/);
    deps.qm.hookscripts.delete(100);
    await expect(enableVm(deps, 100, opts({ vendorId: '0x0000' }))).rejects.toBeInstanceOf(NotesError);
    await expect(enableVm(deps, 100, opts({ image: '/etc/passwd' }))).rejects.toBeInstanceOf(ImagePolicyError);
    await expect(enableVm(deps, 100, opts({ product: 'a"b' }))).resolves.toBeDefined();
    expect(fake.usbMappingIds()).toEqual(['usb-gadget-100']);
  });

  it('refuses when every usbN slot is taken', async () => {
    const usb = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`usb${i}`, 'spice']));
    fake.addVm({ vmid: 102, config: { ostype: 'l26', ...usb } });
    await expect(enableVm(deps, 102, opts())).rejects.toThrow(/no free usbN slot \(usb0..usb13/);
  });

  it('disable removes exactly what enable added and gives the notes back', async () => {
    const before = fake.vmConfig(100);
    await enableVm(deps, 100, opts({ boot: true }));
    const r = await disableVm(deps, 100, { hookscript: HOOK });
    expect(r.changes.length).toBeGreaterThan(0);
    expect(fake.vmConfig(100)).toEqual(before);
    expect(fake.usbMappingIds()).toEqual([]);
    expect(deps.qm.hookscripts.has(100)).toBe(false);
    expect(deps.acl.vmids.size).toBe(0);
    expect(r.changes.at(-1)).toBe(`removed Mapping.Use on /mapping/usb/usb-gadget-100 for ${TOKEN}`);
    expect((await disableVm(deps, 100, { hookscript: HOOK })).changes).toEqual([]);
  });

  it('grants the token Mapping.Use on this VM\'s mapping only, before the usbN line that needs it', async () => {
    // without the grant the token may not write a line naming the mapping (qemu-server check_usb_perm)
    const refused = await client.updateVmConfig('pve', 100, { usb0: 'mapping=usb-gadget-100' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GadgetError);
    expect((refused as GadgetError).fix).toMatch(/pve-usb-gadget enable 100 --image <image>' as root/);
    const r = await enableVm(deps, 100, opts());
    expect(r.changes).toContain(`Mapping.Use on /mapping/usb/usb-gadget-100 for ${TOKEN}`);
    expect([...deps.acl.vmids]).toEqual([100]);
    expect(fake.vmConfig(100).usb0).toBe('mapping=usb-gadget-100');
    // another VM's mapping (or an admin's real device) stays out of reach
    fake.addVm({ vmid: 101, config: { ostype: 'l26' } });
    await expect(client.updateVmConfig('pve', 101, { usb0: 'mapping=usb-gadget-100' })).resolves.toBeUndefined();
    await expect(client.updateVmConfig('pve', 101, { usb1: 'mapping=real-disk' })).rejects.toThrow(/Permission check failed \(\/mapping\/usb\/real-disk, Mapping.Use\)/);
  });

  it('a grant pveum refuses (the role missing: install.sh not run again) leaves the VM and the mappings as they were', async () => {
    const before = fake.vmConfig(100);
    deps.acl.grant = async () => {
      throw new GadgetError("pveum acl modify failed (exit 255): role 'UsbGadgetUse' does not exist", { fix: 'run install.sh again' });
    };
    await expect(enableVm(deps, 100, opts())).rejects.toThrow(/role 'UsbGadgetUse' does not exist/);
    expect(fake.vmConfig(100)).toEqual(before);
    expect(fake.usbMappingIds()).toEqual([]);
    expect(deps.qm.hookscripts.has(100)).toBe(false);
  });

  it('disable of a VM the token has no grant for removes its usbN line as root', async () => {
    await enableVm(deps, 100, opts());
    await deps.acl.revoke(100);
    const r = await disableVm(deps, 100, { hookscript: HOOK });
    expect(r.changes).toContain('removed usb0: mapping=usb-gadget-100');
    expect(fake.vmConfig(100).usb0).toBeUndefined();
    expect(r.changes.some((c) => c.includes('Mapping.Use'))).toBe(false);
  });

  it('disable leaves a foreign hookscript alone and refuses a running VM', async () => {
    await enableVm(deps, 100, opts());
    fake.setVmStatus(100, 'running');
    await expect(disableVm(deps, 100, { hookscript: HOOK })).rejects.toThrow(/is running: its stick stays until the VM stops/);
    fake.setVmStatus(100, 'stopped');
    deps.qm.hookscripts.set(100, 'local:snippets/other.sh');
    await disableVm(deps, 100, { hookscript: HOOK });
    expect(deps.qm.hookscripts.get(100)).toBe('local:snippets/other.sh');
    expect(fake.vmConfig(100).usb0).toBeUndefined();
  });

  it('warns when another VM uses the same VID:PID', async () => {
    fake.addUsbMapping('usb-gadget-200', { map: ['node=pve2,id=0781:5571'] });
    await enableVm(deps, 100, opts({ vendorId: '0x0781', productId: '0x5571' }));
    expect(printed.join('\n')).toMatch(/warning: VM 200 uses 0781:5571 too/);
  });

  describe('the licence identity', () => {
    it('pins vendor_id, product_id and serial for a new stick and prints the GUID', async () => {
      const r = await enableVm(deps, 100, opts());
      const notes = String(fake.vmConfig(100).description);
      expect(notes).toContain('vendor_id = 0x1d6b\nproduct_id = 0x8064\nserial = A1B2C3D4E5F60718\n');
      expect(r.guid).toBe('1D6B-8064-A1B2-C3D4E5F60718');
      expect(printed).toContain('VM 100: unRAID GUID 1D6B-8064-A1B2-C3D4E5F60718 (vendor_id, product_id and serial pinned in the notes)');
      expect(printed.join('\n')).not.toMatch(/new GUID|warning/);
    });

    it('an existing section keeps the values it has and gets the ones the VM shows today', async () => {
      const notes = `[usb-gadget]\nimage = ${image}\nvendor_id = 0781 ; SanDisk\nserial = 4C530001230101111111`;
      fake.addVm({ vmid: 101, config: { ostype: 'l26', smbios1: `uuid=${UUID}`, description: notes } });
      const r = await enableVm(deps, 101, opts());
      const after = String(fake.vmConfig(101).description);
      // the vendor_id line stays as written (comment and spelling); product_id is the default this VM had
      expect(after).toBe(`[usb-gadget]\nimage = ${image}\nvendor_id = 0781 ; SanDisk\nserial = 4C530001230101111111\nproduct_id = 0x8065`);
      expect(r.guid).toBe('0781-8065-0001-230101111111');
      expect(printed.join('\n')).not.toMatch(/new GUID/);
    });

    it('refuses a weak new serial (--serial) and changes nothing; an existing weak serial only warns', async () => {
      const digest = fake.vmDigest(100);
      for (const bad of ['abc12', 'my-stick-0000000001', '0000000000000000']) {
        const err = await enableVm(deps, 100, opts({ serial: bad })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GadgetError);
        expect((err as GadgetError).key).toBe('usb-gadget.serial');
        expect((err as GadgetError).toLine()).toMatch(/refused for a new licence identity.*fix: give a serial of at least 16 characters/);
      }
      expect(fake.vmDigest(100)).toBe(digest);
      fake.addVm({ vmid: 101, config: { ostype: 'l26', description: `[usb-gadget]\nimage = ${image}\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = my-stick` } });
      const r = await enableVm(deps, 101, opts({ serial: 'my-stick' }));
      expect(r.serial).toBe('my-stick');
      expect(printed.join('\n')).toMatch(/warning: serial my-stick has characters other than 0-9 A-Z a-z.*keeps working.*licence must be transferred/);
    });

    it('draws again when the random source gives a degenerate serial', async () => {
      const draws = ['0000000000000000', 'F00DFACE12345678'];
      const r = await enableVm({ ...deps, randomSerial: () => draws.shift() ?? 'X' }, 100, opts());
      expect(r.serial).toBe('F00DFACE12345678');
    });

    it('--new-identity gives a clone fresh ids, its own mapping line in the same slot, and says the GUID is new', async () => {
      await enableVm(deps, 100, opts({ boot: true, vendorId: '0x0781', productId: '0x5571' }));
      // qm clone 100 200: notes and the usb0 line come along, a new smbios1 uuid
      const c = fake.vmConfig(100);
      fake.addVm({ vmid: 200, config: { ostype: 'l26', machine: 'q35', smbios1: 'uuid=11111111-2222-4333-8444-555555555555', description: String(c.description), usb0: String(c.usb0), boot: String(c.boot) } });
      printed = [];
      const r = await enableVm({ ...deps, randomSerial: () => '0F1E2D3C4B5A6978' }, 200, opts({ newIdentity: true }));
      const conf = fake.vmConfig(200);
      expect(conf.usb0).toBe('mapping=usb-gadget-200');
      expect(conf.usb1).toBeUndefined();
      expect(String(conf.description)).toContain('vendor_id = 0x1d6b\nproduct_id = 0x80c8\nserial = 0F1E2D3C4B5A6978');
      expect(r.guid).toBe('1D6B-80C8-0F1E-2D3C4B5A6978');
      expect(printed).toContain('VM 200: usb0: mapping=usb-gadget-200 (was usb-gadget-100: another VM\'s stick, copied by a clone or restore)');
      expect(printed.join('\n')).toContain('VM 200: this is a new GUID (it was 0781-5571-A1B2-C3D4E5F60718): a new GUID for unRAID');
      expect(fake.usbMapping('usb-gadget-100')?.map).toEqual(['node=pve,id=0781:5571']);
      expect(fake.usbMapping('usb-gadget-200')?.map).toEqual(['node=pve,id=1d6b:80c8']);
    });

    it('warns when another VM has the resulting GUID (pre-start would refuse both)', async () => {
      await enableVm(deps, 100, opts());
      const c = fake.vmConfig(100);
      fake.addVm({ vmid: 201, config: { ostype: 'l26', description: String(c.description), usb0: String(c.usb0) } });
      printed = [];
      await enableVm(deps, 201, opts());
      expect(printed.join('\n')).toContain('warning: VM 100 has unRAID GUID 1D6B-8064-A1B2-C3D4E5F60718 too: neither starts while both have it; run enable again with --new-identity on the copy');
    });

    it('without --new-identity a restored copy keeps its GUID and only its usbN line is repointed', async () => {
      await enableVm(deps, 100, opts({ vendorId: '0x0781', productId: '0x5571' }));
      const c = fake.vmConfig(100);
      fake.addVm({ vmid: 300, config: { ostype: 'l26', smbios1: String(c.smbios1), description: String(c.description), usb0: String(c.usb0) } });
      const r = await enableVm(deps, 300, opts());
      expect(fake.vmConfig(300).description).toBe(c.description);
      expect(fake.vmConfig(300).usb0).toBe('mapping=usb-gadget-300');
      expect(r.guid).toBe('0781-5571-A1B2-C3D4E5F60718');
    });
  });
});
