// The proxmox-api wrapper: what goes on the wire stays proxmox-api's, and a failure is classified from
// what its request's own attempts came to (the fetch's record), never from proxmox-api's error text.
import { describe, expect, it } from 'vitest';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { PVE_JSON } from '../../src/proxmox/classify.js';
import { ApiTransport, recording, type Attempt } from '../../src/proxmox/transport.js';
import type { FetchInit, FetchLike, FetchResponse } from '../../src/proxmox/tls.js';

const SECRET = '5e1d2c3b-4a59-4687-9a6b-7c8d9e0f1a2b';
const TOKEN = 'pve-usb-gadget@pve!hook';

interface Canned {
  status?: number;
  statusText?: string;
  type?: string | null;
  body?: string;
  throws?: Error;
  delayMs?: number;
}

function response(c: Canned): FetchResponse {
  const status = c.status ?? 200;
  const type = c.type === undefined ? PVE_JSON : c.type;
  return {
    status,
    statusText: c.statusText ?? 'OK',
    ok: status >= 200 && status < 300,
    headers: { get: (n) => (n.toLowerCase() === 'content-type' ? type : null) },
    body: null,
    text: async () => c.body ?? '',
    json: async (): Promise<unknown> => JSON.parse(c.body ?? ''),
  };
}

/** A fetch answering from `answer(url, method)`, logging every call. */
function fakeFetch(answer: (url: string, init: FetchInit) => Canned) {
  const calls: { url: string; init: FetchInit }[] = [];
  const fetch: FetchLike = async (input, init = {}) => {
    calls.push({ url: String(input), init });
    const c = answer(String(input), init);
    if (c.delayMs) await new Promise((r) => setTimeout(r, c.delayMs));
    if (c.throws) throw c.throws;
    return response(c);
  };
  return { fetch, calls };
}

const client = (fetch: FetchLike) =>
  new ProxmoxClient({ url: 'https://127.0.0.1:8006', tokenId: TOKEN, secret: SECRET, caPem: '', fetch });
const data = (d: unknown): Canned => ({ body: JSON.stringify({ data: d }) });
const pveError = (status: number, message: string): Canned => ({
  status,
  statusText: message,
  body: JSON.stringify({ data: null, message: `${message}\n` }),
});
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8006'), { code: 'ECONNREFUSED' });

describe('ApiTransport', () => {
  it('sends what proxmox-api sends: form body, token header, one signal per attempt', async () => {
    const f = fakeFetch(() => data(null));
    await client(f.fetch).updateVmConfig('pve', 100, { usb0: 'mapping=a b&c', name: 'ä' }, { delete: ['usb1', 'usb2'], digest: 'd' });
    await client(f.fetch).createUsbMapping({ id: 'usb-gadget-100', map: ['node=pve,id=1d6b:0104', 'node=b,id=1:2'] });
    const [put, post] = f.calls;
    expect(put?.url).toBe('https://127.0.0.1:8006/api2/json/nodes/pve/qemu/100/config');
    expect(put?.init).toMatchObject({
      method: 'PUT',
      body: 'usb0=mapping%3Da+b%26c&name=%C3%A4&delete=usb1%2Cusb2&digest=d',
      headers: {
        Accept: '*/*',
        'User-Agent': 'proxmox-api (https://github.com/UrielCh/proxmox-api)',
        Authorization: `PVEAPIToken=${TOKEN}=${SECRET}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': '62',
      },
    });
    expect(put?.init.signal).toBeInstanceOf(AbortSignal);
    // arrays repeat the key; an undefined description is left out
    expect(post?.init.body).toBe('id=usb-gadget-100&map=node%3Dpve%2Cid%3D1d6b%3A0104&map=node%3Db%2Cid%3D1%3A2');
  });

  it('requests running at the same time keep their own records', async () => {
    const f = fakeFetch((url) =>
      url.endsWith('/version')
        ? { ...pveError(403, 'Permission check failed (/, Sys.Audit)'), delayMs: 30 }
        : url.includes('/status/current')
          ? { throws: refused() }
          : data({ name: 'stick', digest: 'abc' }),
    );
    const c = client(f.fetch);
    const [version, status, config] = await Promise.allSettled([c.version(), c.getVmStatus('pve', 100), c.getVmConfig('pve', 100)]);
    expect(version).toMatchObject({ status: 'rejected', reason: { kind: 'permission', status: 403 } });
    expect(status).toMatchObject({ status: 'rejected', reason: { kind: 'unreachable', errno: 'ECONNREFUSED' } });
    expect(config).toMatchObject({ status: 'fulfilled', value: { config: { name: 'stick' }, digest: 'abc' } });
  });

  it('a retried request fails with what its second attempt came to', async () => {
    let n = 0;
    const f = fakeFetch(() => (n++ === 0 ? { throws: refused() } : pveError(500, "mapping 'usb-gadget-100' already defined")));
    const e = await client(f.fetch).updateUsbMapping('usb-gadget-100', { map: ['x'] }).catch((err: unknown) => err);
    expect(f.calls).toHaveLength(2);
    expect(e).toMatchObject({ kind: 'conflict', status: 500, request: 'PUT /cluster/mapping/usb/usb-gadget-100' });
  });

  it('a failure before any fetch is reported as it is (server), not as a network problem', async () => {
    const t = new ApiTransport({ url: new URL('https://127.0.0.1:8006'), tokenId: TOKEN, secret: SECRET, timeoutMs: 1000, fetch: fakeFetch(() => data(1)).fetch });
    const e = await t.request('GET', '/x', async () => {
      throw new Error('fetch failed');
    }).catch((err: unknown) => err);
    expect(e).toMatchObject({ kind: 'server', request: 'GET /x' });
  });

  it('an answer that is not the object an endpoint returns is a server error naming the request', async () => {
    const f = fakeFetch(() => ({ status: 200, type: null, body: '' }));
    await expect(client(f.fetch).getVmStatus('pve', 100)).rejects.toMatchObject({
      kind: 'server',
      request: 'GET /nodes/pve/qemu/100/status/current',
    });
  });

  it('records each attempt and serves the body it read to proxmox-api', async () => {
    const attempts: Attempt[] = [];
    const f = fakeFetch(() => ({ status: 500, statusText: 'x', body: '{"data":null}' }));
    const res = await recording(f.fetch, attempts)('https://h/api2/json/x');
    expect(await res.text()).toBe('{"data":null}');
    expect(await res.json()).toEqual({ data: null });
    const err = refused();
    await expect(recording(fakeFetch(() => ({ throws: err })).fetch, attempts)('https://h/')).rejects.toBe(err);
    expect(attempts).toEqual([
      { answer: { status: 500, statusText: 'x', contentType: PVE_JSON, body: '{"data":null}' } },
      { thrown: err },
    ]);
  });
});
