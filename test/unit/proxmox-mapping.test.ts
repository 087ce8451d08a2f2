// USB resource mapping upkeep: pure entry handling (one entry per node, others untouched) and
// ensureMapping against the fake PVE, including two nodes, lost races and proxmox-api's POST retry.
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { ProxmoxApiError } from '../../src/proxmox/errors.js';
import {
  ensureMapping,
  formatMapEntry,
  mappingName,
  normalizeUsbId,
  parseMapEntry,
  vmidOfMapping,
  withNodeEntry,
  withoutNodeEntry,
  type MappingClient,
} from '../../src/proxmox/mapping.js';

const SECRET = '4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const TOKEN = 'pve-usb-gadget@pve!hook';

describe('mapping helpers', () => {
  it('names mappings after the VM and recognises its own names only', () => {
    expect(mappingName(100)).toBe('usb-gadget-100');
    expect(vmidOfMapping('usb-gadget-100')).toBe(100);
    expect(vmidOfMapping('usb-gadget-0100')).toBeUndefined();
    expect(vmidOfMapping('printer')).toBeUndefined();
    expect(() => mappingName(1.5)).toThrow(RangeError);
  });

  it('parses map entries and normalises VID:PID', () => {
    expect(parseMapEntry('node=pve1,id=1D6B:0104,path=1-2.3')).toEqual({ node: 'pve1', id: '1D6B:0104', path: '1-2.3' });
    expect(parseMapEntry('garbage')).toBeUndefined();
    expect(normalizeUsbId('0x1D6B:0x0104')).toBe('1d6b:0104');
    expect(() => normalizeUsbId('1d6b')).toThrow(RangeError);
    expect(formatMapEntry('pve1', '1D6B:0104')).toBe('node=pve1,id=1d6b:0104');
  });

  it('adds, replaces and keeps entries per node', () => {
    const a = withNodeEntry([], 'pve1', '1d6b:0104');
    expect(a).toEqual({ map: ['node=pve1,id=1d6b:0104'], changed: true });
    const b = withNodeEntry(a.map, 'pve2', '1d6b:0104');
    expect(b.map).toEqual(['node=pve1,id=1d6b:0104', 'node=pve2,id=1d6b:0104']);
    expect(withNodeEntry(b.map, 'pve1', '1d6b:0104')).toEqual({ map: b.map, changed: false });
    const c = withNodeEntry(['node=pve1,id=aaaa:bbbb,path=1-1', 'node=pve2,id=cccc:dddd', 'node=pve1,id=eeee:ffff'], 'pve1', '1d6b:0104');
    expect(c.map).toEqual(['node=pve1,id=1d6b:0104', 'node=pve2,id=cccc:dddd']);
    expect(withoutNodeEntry(c.map, 'pve1')).toEqual({ map: ['node=pve2,id=cccc:dddd'], changed: true });
  });

  it('property: exactly one entry for the node, other nodes’ entries unchanged and in order', () => {
    const node = fc.constantFrom('pve1', 'pve2', 'pve3');
    const usb = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(
      ([v, p]) => `${v.toString(16).padStart(4, '0')}:${p.toString(16).padStart(4, '0')}`,
    );
    const entry = fc.tuple(node, usb).map(([n, u]) => `node=${n},id=${u}`);
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), node, usb, (map, n, u) => {
        const out = withNodeEntry(map, n, u);
        expect(out.map.filter((e) => parseMapEntry(e)?.node === n)).toEqual([`node=${n},id=${u}`]);
        expect(out.map.filter((e) => parseMapEntry(e)?.node !== n)).toEqual(map.filter((e) => parseMapEntry(e)?.node !== n));
        expect(withNodeEntry(out.map, n, u).changed).toBe(false);
      }),
    );
  });
});

describe('ensureMapping against the fake PVE', () => {
  let pve: FakePve;
  let c: ProxmoxClient;

  beforeAll(async () => {
    pve = await startFakePve({ nodes: ['pve1', 'pve2'], authFailureDelayMs: 0, lockTimeoutMs: 100 });
    pve.addToken(TOKEN, SECRET, { '/mapping/usb': ['Mapping.Modify', 'Mapping.Audit', 'Mapping.Use'] });
    c = new ProxmoxClient({ url: pve.url, tokenId: TOKEN, secret: SECRET, caPem: pve.caPem });
  });
  afterAll(async () => {
    await c.close();
    await pve.close();
  });
  beforeEach(async () => {
    for (const id of pve.usbMappingIds()) await c.deleteUsbMapping(id);
    pve.clearRequests();
  });

  it('creates on the first node, adds the second, then leaves it alone', async () => {
    expect(await ensureMapping(c, { vmid: 100, node: 'pve1', usbId: '1d6b:0104' })).toMatchObject({ action: 'created' });
    expect(await ensureMapping(c, { vmid: 100, node: 'pve2', usbId: '1d6b:0104' })).toMatchObject({ action: 'updated' });
    expect(await ensureMapping(c, { vmid: 100, node: 'pve1', usbId: '1D6B:0104' })).toMatchObject({ action: 'unchanged' });
    expect(await ensureMapping(c, { vmid: 100, node: 'pve1', usbId: '1d6b:0105' })).toMatchObject({ action: 'updated' });
    expect(pve.usbMapping('usb-gadget-100')).toEqual({
      description: 'pve-usb-gadget: emulated USB stick of VM 100',
      map: ['node=pve1,id=1d6b:0105', 'node=pve2,id=1d6b:0104'],
    });
    expect(pve.usbMappingIds()).toEqual(['usb-gadget-100']);
  });

  it('a POST whose answer is lost is retried by proxmox-api without a second mapping or an error', async () => {
    pve.dropResponses({ method: 'POST', path: '/cluster/mapping/usb' });
    const res = await ensureMapping(c, { vmid: 101, node: 'pve1', usbId: '1d6b:0104' });
    expect(res.action).toBe('created');
    const posts = pve.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.status)).toEqual([0, 500]); // cut connection, then "already defined"
    expect(pve.usbMappingIds()).toEqual(['usb-gadget-101']);
    expect(pve.usbMapping('usb-gadget-101')?.map).toEqual(['node=pve1,id=1d6b:0104']);
  });

  it('createUsbMapping still refuses a different mapping that already exists', async () => {
    pve.addUsbMapping('usb-gadget-102', { map: ['node=pve1,id=aaaa:bbbb'] });
    const err = await c.createUsbMapping({ id: 'usb-gadget-102', map: ['node=pve1,id=1d6b:0104'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect((err as ProxmoxApiError).kind).toBe('conflict');
  });

  it('a lost race (file changed between read and write) is retried from a fresh read', async () => {
    pve.addUsbMapping('usb-gadget-103', { map: ['node=pve2,id=1d6b:0104'] });
    let reads = 0;
    const racing: MappingClient = {
      getUsbMapping: async (id) => {
        const m = await c.getUsbMapping(id);
        // the other node writes right after our first read
        if (reads++ === 0) pve.addUsbMapping('usb-gadget-104', { map: ['node=pve2,id=1d6b:0001'] });
        return m;
      },
      createUsbMapping: (m) => c.createUsbMapping(m),
      updateUsbMapping: (id, change) => c.updateUsbMapping(id, change),
    };
    const res = await ensureMapping(racing, { vmid: 103, node: 'pve1', usbId: '1d6b:0104' });
    expect(res.action).toBe('updated');
    expect(reads).toBe(2);
    const puts = pve.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((r) => r.status)).toEqual([500, 200]); // digest mismatch, then success
    expect(pve.usbMapping('usb-gadget-103')?.map).toEqual(['node=pve2,id=1d6b:0104', 'node=pve1,id=1d6b:0104']);
  });

  it('getUsbMapping gives undefined for a missing mapping but throws any other error', async () => {
    expect(await c.getUsbMapping('usb-gadget-999')).toBeUndefined();
    pve.setTokenAcl(TOKEN, {});
    try {
      const err = await c.getUsbMapping('usb-gadget-999').catch((e: unknown) => e);
      expect((err as ProxmoxApiError).kind).toBe('permission');
    } finally {
      pve.setTokenAcl(TOKEN, { '/mapping/usb': ['Mapping.Modify', 'Mapping.Audit', 'Mapping.Use'] });
    }
  });
});

describe('a Proxmox VE without USB mappings (7.x)', () => {
  it('reports the missing endpoint as not-found/endpoint, not as a missing mapping', async () => {
    const pve7 = await startFakePve({ mappingApi: false, authFailureDelayMs: 0, version: { version: '7.4-17', release: '7.4', repoid: 'a2b2b6a5' } });
    pve7.addToken(TOKEN, SECRET, { '/mapping/usb': ['Mapping.Modify'] });
    const c7 = new ProxmoxClient({ url: pve7.url, tokenId: TOKEN, secret: SECRET, caPem: pve7.caPem });
    try {
      const err = await ensureMapping(c7, { vmid: 100, node: 'pve', usbId: '1d6b:0104' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProxmoxApiError);
      expect(err).toMatchObject({ kind: 'not-found', status: 501, notFound: { type: 'endpoint' } });
      expect((err as ProxmoxApiError).fix).toContain('8.0');
    } finally {
      await c7.close();
      await pve7.close();
    }
  });
});
