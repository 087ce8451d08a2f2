/**
 * A fetch that trusts exactly one CA: the Proxmox cluster CA (/etc/pve/pve-root-ca.pem) that signs every
 * node's pveproxy certificate. Built on node:https, not on Node's global fetch (Debian's nodejs links its
 * own, separately packaged undici, whose dispatcher API we cannot rely on) nor on the undici package: that
 * was 60 % of the hook bundle and compiles its HTTP parser from WebAssembly at the first request, both on
 * the VM start path. It does what proxmox-api and our own calls need of fetch (method, headers, a string
 * body, an AbortSignal; status, headers.get, text, json), no more.
 * Verification is never switched off; host name/IP checking stays on too.
 */
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ProxmoxApiError } from './errors.js';

export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  /** always null: answers are read whole (proxmox-api reads a body stream only for octet-stream) */
  readonly body: null;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export type FetchLike = (input: string | URL, init?: FetchInit) => Promise<FetchResponse>;

export interface PinnedFetch {
  fetch: FetchLike;
  /** closes the keep-alive connections */
  close(): Promise<void>;
}

export interface PinnedFetchOptions {
  /** TCP + TLS handshake timeout, default 10 s */
  connectTimeoutMs?: number;
  /** the largest answer accepted, default 16 MiB (a cluster's /cluster/resources is far smaller) */
  maxBodyBytes?: number;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in `pem`; throws a 'tls' ProxmoxApiError when there are none. */
export function certificatesOf(pem: string, source = 'api.caFile'): string[] {
  const certs = pem.match(PEM_CERT) ?? [];
  if (certs.length === 0) {
    throw new ProxmoxApiError(`${source} holds no PEM certificate`, {
      kind: 'tls',
      key: source,
      fix: 'point api.caFile at the cluster CA, /etc/pve/pve-root-ca.pem',
    });
  }
  return certs;
}

const codedError = (message: string, code: string) => Object.assign(new Error(message), { code });

export function createPinnedFetch(caPem: string, opts: PinnedFetchOptions = {}): PinnedFetch {
  const agent = new Agent({ ca: certificatesOf(caPem), rejectUnauthorized: true, keepAlive: true, maxSockets: 4 });
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 2 ** 20;
  // sockets whose handshake is done: a request that reuses one is not under the connect timeout
  const established = new WeakSet<TLSSocket>();

  const fetch: FetchLike = (input, init = {}) =>
    new Promise((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') {
        reject(codedError(`only https:// is allowed, got ${url.protocol}//`, 'ERR_INVALID_PROTOCOL'));
        return;
      }
      const signal = init.signal;
      const aborted = () => new DOMException('This operation was aborted', 'AbortError');
      if (signal?.aborted) {
        reject(aborted());
        return;
      }
      const body = init.body === undefined ? undefined : Buffer.from(init.body);
      const headers: Record<string, string> = { ...init.headers };
      for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-length') delete headers[k];
      if (body) headers['Content-Length'] = String(body.length);

      let connectTimer: NodeJS.Timeout | undefined;
      const req = request(url, { method: init.method ?? 'GET', headers, agent });
      const onAbort = () => req.destroy(aborted());
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(connectTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      req.on('socket', (socket: TLSSocket) => {
        if (established.has(socket)) return;
        connectTimer = setTimeout(
          () => req.destroy(codedError(`no TLS connection within ${Math.round(connectTimeoutMs / 1000)} s`, 'ETIMEDOUT')),
          connectTimeoutMs,
        );
        socket.once('secureConnect', () => {
          established.add(socket);
          clearTimeout(connectTimer);
        });
      });
      req.on('error', (err) => {
        settle();
        reject(err);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        res.on('data', (chunk: Buffer) => {
          if (tooLarge) return;
          size += chunk.length;
          if (size <= maxBodyBytes) {
            chunks.push(chunk);
            return;
          }
          tooLarge = true;
          settle();
          reject(codedError(`answer larger than ${maxBodyBytes} bytes`, 'ERR_BODY_TOO_LARGE'));
          req.destroy();
        });
        res.on('error', (err) => {
          settle();
          reject(err);
        });
        res.on('end', () => {
          if (tooLarge) return;
          settle();
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          resolve({
            status,
            statusText: res.statusMessage ?? '',
            ok: status >= 200 && status < 300,
            headers: {
              get: (name) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
              },
            },
            body: null,
            text: async () => text,
            json: async (): Promise<unknown> => JSON.parse(text),
          });
        });
      });
      req.end(body);
    });

  return {
    fetch,
    close: async () => agent.destroy(),
  };
}
