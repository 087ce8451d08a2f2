// ProxmoxClient against the fake PVE over real HTTPS on 127.0.0.1: every failure must come out as a
// ProxmoxApiError of the right kind, with a fix, and without the token secret anywhere.
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, startFakePve, type FakePve } from '../fake-pve/index.js';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { ProxmoxApiError, type ProxmoxErrorKind } from '../../src/proxmox/errors.js';
import { GadgetError } from '../../src/errors.js';

const SECRET = '7d3f1c2a-9b8e-4f6d-a5c4-3e2b1a0f9e8d';
const TOKEN = 'pve-usb-gadget@pve!hook';
const ACL = {
  '/vms/100': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'],
  '/mapping/usb': ['Mapping.Audit', 'Mapping.Modify'],
  '/mapping/usb/usb-gadget-100': ['Mapping.Use'],
};

let pve: FakePve;
const clients: ProxmoxClient[] = [];
const seenErrors: unknown[] = [];

function client(over: Partial<ConstructorParameters<typeof ProxmoxClient>[0]> = {}): ProxmoxClient {
  const c = new ProxmoxClient({ url: pve.url, tokenId: TOKEN, secret: SECRET, caPem: pve.caPem, ...over });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>, kind: ProxmoxErrorKind): Promise<ProxmoxApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  seenErrors.push(err);
  expect(err).toBeInstanceOf(ProxmoxApiError);
  const e = err as ProxmoxApiError;
  expect(e).toBeInstanceOf(GadgetError);
  expect(e.kind).toBe(kind);
  expect(e.fix).toBeTruthy();
  return e;
}

beforeAll(async () => {
  pve = await startFakePve({ lockTimeoutMs: 150, authFailureDelayMs: 0, nodes: ['pve'] });
  pve.addToken(TOKEN, SECRET, ACL);
  pve.addVm({
    vmid: 100,
    config: { name: 'stick', ostype: 'l26', smbios1: 'uuid=5c1e0a5e-8d7b-4a43-9a3f-2f7c4e6b9d10', description: 'notes' },
  });
});

afterEach(() => {
  pve.unlockVm(100);
  pve.setTokenAcl(TOKEN, ACL);
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await pve.close();
});

describe('ProxmoxClient happy paths', () => {
  it('reads version, config (with digest) and status', async () => {
    const c = client();
    expect(await c.version()).toMatchObject({ release: '8.4' });
    const { config, digest } = await c.getVmConfig('pve', 100);
    expect(config).toMatchObject({ name: 'stick', description: 'notes' });
    expect(config).not.toHaveProperty('digest');
    expect(digest).toBe(pve.vmDigest(100));
    expect(await c.getVmStatus('pve', 100)).toMatchObject({ status: 'stopped', name: 'stick' });
    expect(await c.listVms()).toEqual([{ vmid: 100, node: 'pve', name: 'stick', status: 'stopped', template: false }]);
  });

  it('sets and deletes options with a matching digest', async () => {
    const c = client();
    const { digest } = await c.getVmConfig('pve', 100);
    await c.updateVmConfig('pve', 100, { usb3: 'mapping=usb-gadget-100' }, { digest });
    expect(pve.vmConfig(100).usb3).toBe('mapping=usb-gadget-100');
    await c.updateVmConfig('pve', 100, {}, { delete: ['usb3'] });
    expect(pve.vmConfig(100)).not.toHaveProperty('usb3');
  });

  it('POST returns a task id whose status tells the outcome', async () => {
    const c = client();
    const upid = await c.updateVmConfigAsync('pve', 100, { name: 'renamed' });
    expect(upid).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmconfig:100:pve-usb-gadget@pve!hook:$/);
    await expect.poll(async () => (await c.getTaskStatus('pve', upid as string)).exitstatus).toBe('OK');
    expect(pve.vmConfig(100).name).toBe('renamed');
  });
});

describe('ProxmoxClient errors', () => {
  it('wrong secret → auth (401)', async () => {
    const e = await failure(client({ secret: '00000000-0000-4000-8000-000000000000' }).version(), 'auth');
    expect(e.status).toBe(401);
    expect(e.fix).toContain('secret file');
  });

  it('unknown token → auth, whatever PVE version words it', async () => {
    const e = await failure(client({ tokenId: 'nobody@pve!gone' }).version(), 'auth');
    expect(e.pveMessage).toBe('Authentication failed!');
  });

  it('a secret that is not a UUID is refused before any request', () => {
    pve.clearRequests();
    let err: unknown;
    try {
      client({ secret: 'not-a-uuid-secret-value' });
    } catch (e) {
      err = e;
    }
    seenErrors.push(err);
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect((err as ProxmoxApiError).kind).toBe('auth');
    expect(pve.requests).toHaveLength(0);
  });

  it('missing privilege → permission naming the path and privilege PVE reported', async () => {
    pve.setTokenAcl(TOKEN, { '/vms/100': ['VM.Audit', 'VM.Config.Options'] });
    const e = await failure(client().updateVmConfig('pve', 100, { usb0: 'mapping=usb-gadget-100' }), 'permission');
    expect(e.status).toBe(403);
    expect(e.permission).toEqual({ aclPath: '/vms/100', privileges: ['VM.Config.HWType'] });
    expect(e.fix).toContain('VM.Config.HWType on /vms/100');
  });

  it('mapping= without Mapping.Use on the mapping → permission on /mapping/usb/<id>', async () => {
    const e = await failure(client().updateVmConfig('pve', 100, { usb0: 'mapping=usb-gadget-999' }), 'permission');
    expect(e.permission).toEqual({ aclPath: '/mapping/usb/usb-gadget-999', privileges: ['Mapping.Use'] });
  });

  it('usbN: host=... from a token → permission (root only), though PVE answers 500', async () => {
    const e = await failure(client().updateVmConfig('pve', 100, { usb0: 'host=1d6b:0104' }), 'permission');
    expect(e.status).toBe(500);
    expect(e.pveMessage).toBe("only root can set 'usb0' config for real devices");
    expect(e.permission?.rootOnlyKey).toBe('usb0');
    expect(e.fix).toContain('mapping=');
  });

  it('config flock held by the start task → lock-timeout after PVE waited (PUT)', async () => {
    pve.lockVm(100);
    const e = await failure(client().updateVmConfig('pve', 100, { name: 'x' }), 'lock-timeout');
    expect(e.pveMessage).toBe("can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout");
    expect(e.path).toBe('/var/lock/qemu-server/lock-100.conf');
    expect(e.fix).toContain('start task');
  });

  it('POST with the flock held returns a UPID; the task fails with the lock error', async () => {
    pve.lockVm(100);
    const c = client();
    const upid = (await c.updateVmConfigAsync('pve', 100, { name: 'y' })) as string;
    await expect
      .poll(async () => (await c.getTaskStatus('pve', upid)).exitstatus)
      .toBe("can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout");
    expect(pve.vmConfig(100).name).not.toBe('y');
  });

  it('a change that waits for the lock goes through once the lock is released in time', async () => {
    pve.lockVm(100);
    const c = client();
    const pending = c.updateVmConfig('pve', 100, { name: 'after-unlock' });
    setTimeout(() => pve.unlockVm(100), 20);
    await pending;
    expect(pve.vmConfig(100).name).toBe('after-unlock');
  });

  it('stale digest → conflict', async () => {
    const c = client();
    const { digest } = await c.getVmConfig('pve', 100);
    await c.updateVmConfig('pve', 100, { name: 'changed-elsewhere' });
    const e = await failure(c.updateVmConfig('pve', 100, { name: 'mine' }, { digest }), 'conflict');
    expect(e.pveMessage).toBe('checksum mismatch (file change by other user?)');
  });

  it('unknown VM → permission first (no VM.Audit), not-found when allowed to look', async () => {
    await failure(client().getVmConfig('pve', 555), 'permission');
    pve.setTokenAcl(TOKEN, { '/vms': ['VM.Audit'] });
    const e = await failure(client().getVmConfig('pve', 555), 'not-found');
    expect(e.notFound).toEqual({ type: 'vm', id: '555' });
  });

  it('unknown node → not-found (node)', async () => {
    const e = await failure(client().getVmConfig('nosuchnode', 100), 'not-found');
    expect(e.notFound?.type).toBe('node');
  });

  it('a bad parameter → bad-request listing PVE’s per-parameter errors', async () => {
    const e = await failure(client().updateVmConfig('pve', 100, { usb99: 'spice' }), 'bad-request');
    expect(e.status).toBe(400);
    expect(e.paramErrors).toHaveProperty('usb99');
    expect(e.message).toContain('usb99:');
  });

  it('port closed → unreachable (ECONNREFUSED); works again once it is back', async () => {
    const c = client();
    await pve.down();
    try {
      const e = await failure(c.version(), 'unreachable');
      expect(e.errno).toBe('ECONNREFUSED');
      expect(e.fix).toContain('pveproxy');
    } finally {
      await pve.up();
    }
    expect(await c.version()).toMatchObject({ release: '8.4' });
  });

  it('certificate from another CA → tls, verification stays on', async () => {
    const other = createTestCa();
    const e = await failure(client({ caPem: other.certPem }).version(), 'tls');
    expect(e.errno).toMatch(/CERT|SIGNATURE|ISSUER/);
    expect(e.fix).toContain('pve-root-ca.pem');
  });

  it('a CA file without a certificate → tls at construction', () => {
    let err: unknown;
    try {
      client({ caPem: 'garbage' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxmoxApiError);
    expect((err as ProxmoxApiError).kind).toBe('tls');
  });

  it('no answer within the timeout → unreachable (proxmox-api sends the request twice)', async () => {
    const slow = await startFakePve({ lockTimeoutMs: 5_000, authFailureDelayMs: 0 });
    try {
      slow.addToken(TOKEN, SECRET, ACL);
      slow.addVm({ vmid: 100 });
      slow.lockVm(100);
      const c = new ProxmoxClient({ url: slow.url, tokenId: TOKEN, secret: SECRET, caPem: slow.caPem, timeoutMs: 200 });
      clients.push(c);
      const e = await failure(c.updateVmConfig('pve', 100, { name: 'x' }), 'unreachable');
      expect(e.message).toContain('no answer');
      // the first attempt timed out client-side, proxmox-api sent the PUT again: both still wait for the lock
      expect(slow.requests.filter((r) => r.method === 'PUT').map((r) => r.status)).toEqual([undefined, undefined]);
    } finally {
      await slow.close();
    }
  });

  it('never puts the token secret into an error or the client object', async () => {
    expect(seenErrors.length).toBeGreaterThan(10);
    for (const err of seenErrors) {
      const e = err as ProxmoxApiError;
      for (const text of [e.message, e.toLine(), JSON.stringify(e), inspect(e, { depth: 10 }), String(e.stack)]) {
        expect(text).not.toContain(SECRET);
      }
    }
    expect(inspect(client(), { depth: 10, showHidden: true })).not.toContain(SECRET);
    expect(JSON.stringify(pve.requests)).not.toContain(SECRET);
  });
});
