// The pinned node:https fetch on its own, against real TLS servers on 127.0.0.1: what fetch must do for
// proxmox-api (status, headers, body, abort) and the limits it adds (connect timeout, answer size, https only).
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, type TestCa } from '../fake-pve/ca.js';
import { toProxmoxApiError } from '../../src/proxmox/classify.js';
import { createPinnedFetch } from '../../src/proxmox/tls.js';

let ca: TestCa;
let server: Server;
let url: string;
const seen: { method?: string; length?: string; body: string; auth?: string }[] = [];

beforeAll(async () => {
  ca = createTestCa();
  const leaf = ca.issueServerCert(['localhost'], ['127.0.0.1']);
  server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method, length: req.headers['content-length'], body, auth: req.headers.authorization });
      if (req.url === '/big') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(Buffer.alloc(4096));
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000);
      } else {
        res.writeHead(401, 'No ticket', { 'Set-Cookie': ['a=1', 'b=2'] });
        res.end(JSON.stringify({ data: { got: body } }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('createPinnedFetch (node:https)', () => {
  it('sends method, headers and a UTF-8 body with its byte length; gives status, statusText, headers, json', async () => {
    const f = createPinnedFetch(ca.certPem);
    try {
      // a wrong Content-Length from the caller (characters, not bytes) is replaced
      const res = await f.fetch(new URL(`${url}/x`), { method: 'PUT', headers: { Authorization: 'PVEAPIToken=a', 'Content-Length': '1' }, body: 'ä=ü' });
      expect(res.status).toBe(401);
      expect(res.statusText).toBe('No ticket');
      expect(res.ok).toBe(false);
      expect(res.headers.get('Set-Cookie')).toBe('a=1, b=2');
      expect(res.headers.get('content-type')).toBeNull();
      expect(await res.json()).toEqual({ data: { got: 'ä=ü' } });
      expect(seen.at(-1)).toEqual({ method: 'PUT', length: '5', body: 'ä=ü', auth: 'PVEAPIToken=a' });
    } finally {
      await f.close();
    }
  });

  it('refuses a server whose certificate another CA signed', async () => {
    const f = createPinnedFetch(createTestCa().certPem);
    try {
      const err = await f.fetch(url).then(() => undefined, (e: unknown) => e);
      expect(toProxmoxApiError(err, { method: 'GET', path: '/' }).kind).toBe('tls');
    } finally {
      await f.close();
    }
  });

  it('rejects with an AbortError when the signal fires (proxmox-api times requests out this way)', async () => {
    const f = createPinnedFetch(ca.certPem);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const err = await f.fetch(`${url}/slow`, { signal: controller.signal }).then(() => undefined, (e: unknown) => e);
      expect((err as Error).name).toBe('AbortError');
      expect(toProxmoxApiError(err, { method: 'GET', path: '/slow' }).kind).toBe('unreachable');
      const early = await f.fetch(url, { signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e);
      expect((early as Error).name).toBe('AbortError');
    } finally {
      await f.close();
    }
  });

  it('gives up a connection whose TLS handshake does not finish in time (ETIMEDOUT)', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const f = createPinnedFetch(ca.certPem, { connectTimeoutMs: 150 });
    try {
      const started = Date.now();
      const err = await f.fetch(`https://127.0.0.1:${(silent.address() as AddressInfo).port}/`).then(() => undefined, (e: unknown) => e);
      expect((err as { code?: string }).code).toBe('ETIMEDOUT');
      expect(Date.now() - started).toBeLessThan(5_000);
      const classified = toProxmoxApiError(err, { method: 'GET', path: '/' });
      expect([classified.kind, classified.errno]).toEqual(['unreachable', 'ETIMEDOUT']);
    } finally {
      await f.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('does not put a slow answer on a reused connection under the connect timeout', async () => {
    const f = createPinnedFetch(ca.certPem, { connectTimeoutMs: 500 });
    try {
      expect((await f.fetch(`${url}/x`)).status).toBe(401);
      expect(await (await f.fetch(`${url}/slow`)).text()).toBe('late');
    } finally {
      await f.close();
    }
  });

  it('refuses an answer above the size limit and anything but https', async () => {
    const f = createPinnedFetch(ca.certPem, { maxBodyBytes: 1024 });
    try {
      const big = await f.fetch(`${url}/big`).then(() => undefined, (e: unknown) => e);
      expect((big as { code?: string }).code).toBe('ERR_BODY_TOO_LARGE');
      const plain = await f.fetch(url.replace('https:', 'http:')).then(() => undefined, (e: unknown) => e);
      expect((plain as { code?: string }).code).toBe('ERR_INVALID_PROTOCOL');
    } finally {
      await f.close();
    }
  });
});
