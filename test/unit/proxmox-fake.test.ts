// The fake PVE API itself, spoken to over real HTTPS with a fetch pinned to its CA: it must answer the
// way pveproxy does, or the client tests prove nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakePve, JSON_CONTENT_TYPE, type FakePve } from '../fake-pve/index.js';
import { createPinnedFetch, type PinnedFetch } from '../../src/proxmox/tls.js';
import { parseLocalVmConfig } from '../../src/proxmox/local-config.js';

const SECRET = '0b5c8f6e-3f4a-4d59-9c39-6b1f8a2e7d10';
const TOKEN = 'pve-usb-gadget@pve!hook';

let pve: FakePve;
let pinned: PinnedFetch;

beforeAll(async () => {
  pve = await startFakePve({ lockTimeoutMs: 100, authFailureDelayMs: 0, nodes: ['pve1', 'pve2'] });
  pinned = createPinnedFetch(pve.caPem);
  pve.addToken(TOKEN, SECRET, {
    '/vms/100': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'],
    '/mapping/usb': ['Mapping.Use', 'Mapping.Modify'],
  });
  pve.addVm({ vmid: 100, node: 'pve1', config: { name: 'stick', ostype: 'l26', cores: 2, description: 'a: 100%\nb' } });
  pve.addVm({ vmid: 101, node: 'pve2', config: { name: 'other' } });
});

afterAll(async () => {
  await pinned.close();
  await pve.close();
});

function call(method: string, path: string, init: { body?: string; type?: string; auth?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (init.auth !== null) headers.Authorization = init.auth ?? `PVEAPIToken=${TOKEN}=${SECRET}`;
  if (init.type) headers['Content-Type'] = init.type;
  return pinned.fetch(`${pve.url}/api2/json${path}`, { method, headers, body: init.body });
}

describe('fake PVE API', () => {
  it('wraps answers in {"data": ...} with exactly application/json;charset=UTF-8', async () => {
    const res = await call('GET', '/version');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(JSON_CONTENT_TYPE);
    expect(await res.json()).toEqual({ data: { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' } });
  });

  it('returns config with digest, numbers as JSON numbers and the decoded description', async () => {
    const body = (await (await call('GET', '/nodes/pve1/qemu/100/config')).json()) as { data: Record<string, unknown> };
    expect(body.data).toMatchObject({ name: 'stick', cores: 2, description: 'a: 100%\nb' });
    expect(body.data.digest).toMatch(/^[0-9a-f]{40}$/);
  });

  it('answers a missing or wrong token with a bare 401 (no JSON content type)', async () => {
    const none = await call('GET', '/version', { auth: null });
    expect(none.status).toBe(401);
    expect(none.statusText).toBe('No ticket');
    const wrong = await call('GET', '/version', { auth: `PVEAPIToken=${TOKEN}=00000000-0000-0000-0000-000000000000` });
    expect(wrong.status).toBe(401);
    expect(wrong.statusText).toBe('Authentication failed!');
    expect(wrong.headers.get('content-type')).toBeNull();
  });

  it('puts the first line of the error in the status line and {"data":null,"message"} in the body', async () => {
    const res = await call('GET', '/nodes/pve1/qemu/101/config');
    expect(res.status).toBe(403);
    expect(res.statusText).toBe('Permission check failed (/vms/101, VM.Audit)');
    expect(await res.json()).toEqual({ data: null, message: 'Permission check failed (/vms/101, VM.Audit)\n' });
  });

  it('rejects unknown parameters with 400 and a per-parameter errors object', async () => {
    const res = await call('PUT', '/nodes/pve1/qemu/100/config', {
      body: 'name=x&bogus=1',
      type: 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: Record<string, string> };
    expect(body.errors).toEqual({
      bogus: 'property is not defined in schema and the schema does not allow additional properties',
    });
  });

  it('accepts JSON bodies like pveproxy and applies them to a stopped VM at once', async () => {
    const res = await call('PUT', '/nodes/pve1/qemu/100/config', {
      body: JSON.stringify({ usb0: 'mapping=usb-gadget-100', onboot: true }),
      type: 'application/json',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: null });
    expect(pve.vmConfig(100)).toMatchObject({ usb0: 'mapping=usb-gadget-100', onboot: 1 });
  });

  it('says 501 "Method ... not implemented" for unknown API paths', async () => {
    const res = await call('GET', '/nodes/pve1/hardware/nope');
    expect(res.status).toBe(501);
    expect(res.statusText).toBe("Method 'GET /nodes/pve1/hardware/nope' not implemented");
  });

  it('reports a VM that lives on another node the way load_config does', async () => {
    const res = await call('GET', '/nodes/pve1/qemu/100/status/current');
    expect(res.status).toBe(200);
    pve.setTokenAcl(TOKEN, { '/vms': ['VM.Audit'], '/mapping/usb': ['Mapping.Use', 'Mapping.Modify'] });
    try {
      const wrongNode = await call('GET', '/nodes/pve1/qemu/101/config');
      expect(wrongNode.status).toBe(500);
      expect(wrongNode.statusText).toBe("Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist");
    } finally {
      pve.setTokenAcl(TOKEN, {
        '/vms/100': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'],
        '/mapping/usb': ['Mapping.Use', 'Mapping.Modify'],
      });
    }
  });

  it('keeps non-hotpluggable changes of a running VM in [PENDING], fast-plug ones applied', async () => {
    pve.setVmStatus(100, 'running');
    try {
      const res = await call('PUT', '/nodes/pve1/qemu/100/config', {
        body: 'vga=std&description=new%20notes',
        type: 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(200);
      const vm = pve.vm(100);
      expect(vm.config.description).toBe('new notes');
      expect(vm.pending).toEqual({ vga: 'std' });
      expect(pve.vmEffectiveConfig(100).vga).toBe('std');
      expect(pve.vmConfigFile(100)).toContain('\n[PENDING]\nvga: std\n');
      // the next start applies them before its pre-start hook (qemu-server's vm_start_nolock)
      pve.setVmStatus(100, 'stopped');
      pve.applyPending(100);
      expect(pve.vm(100).pending).toEqual({});
      expect(parseLocalVmConfig(pve.vmConfigFile(100)).options.vga).toBe('std');
      expect(pve.vmConfigFile(100)).not.toContain('[PENDING]');
    } finally {
      pve.setVmStatus(100, 'stopped');
    }
  });

  it('writes the config file like qemu-server: percent-encoded # lines, sorted keys', () => {
    pve.addVm({ vmid: 102, node: 'pve2', config: { description: 'Grüße: 50%\n[usb-gadget]', name: 'x', cores: 1 } });
    const text = pve.vmConfigFile(102);
    expect(text).toBe('#Gr%C3%BC%C3%9Fe%3A 50%25\n#[usb-gadget]\ncores: 1\nname: x\n');
    expect(parseLocalVmConfig(text).description).toBe('Grüße: 50%\n[usb-gadget]');
  });

  it('can answer like PVE 8.0-8.3: detailed 401 reasons, error bodies without "message"', async () => {
    const old = await startFakePve({ authErrors: 'pve8', legacyErrorBody: true, authFailureDelayMs: 0 });
    const f = createPinnedFetch(old.caPem);
    try {
      old.addToken(TOKEN, SECRET, {});
      const get = (auth: string) => f.fetch(`${old.url}/api2/json/nodes/pve/qemu/100/config`, { headers: { Authorization: auth } });
      expect((await get(`PVEAPIToken=${TOKEN}=${SECRET.replace(/^./, 'f')}`)).statusText).toBe('invalid token value!');
      expect((await get(`PVEAPIToken=x@pve!other=${SECRET}`)).statusText).toBe("no such token 'other' for user 'x@pve'");
      const denied = await get(`PVEAPIToken=${TOKEN}=${SECRET}`);
      expect(denied.status).toBe(403);
      expect(await denied.json()).toEqual({ data: null });
    } finally {
      await f.close();
      await old.close();
    }
  });

  it('logs method, path, token id and status, never the secret', async () => {
    pve.clearRequests();
    await call('GET', '/version');
    expect(pve.requests).toEqual([{ method: 'GET', path: '/version', params: {}, authId: TOKEN, status: 200 }]);
    expect(JSON.stringify(pve.requests)).not.toContain(SECRET);
  });
});
