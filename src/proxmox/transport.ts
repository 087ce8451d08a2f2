/**
 * proxmox-api behind one edge. Its typed paths build each request and its engine sends it, unchanged:
 * form encoding, headers, the timeout (an AbortSignal), one retry when fetch throws (POST included),
 * and its content-type rule. But proxmox-api reports failures only as prose, so what each attempt came
 * to is recorded where it happens, in the fetch we hand it: the HTTP answer (status, status line,
 * content type, body) or what the fetch threw. A failed request is classified from its last attempt
 * (./classify.ts); proxmox-api's error text is never read.
 *
 * Every request gets its own proxmox-api instance over its own record, so requests that run at the same
 * time (Promise.all in `enable`) cannot swap records. An instance is a Proxy over a ProxmoxEngine that
 * holds only options and the token header: no sockets (those are the fetch's), nothing to reuse.
 */
import { proxmoxApi, type Proxmox } from 'proxmox-api';
import { fromAnswer, notSent, toProxmoxApiError, type Answer, type RequestContext } from './classify.js';
import { ProxmoxApiError } from './errors.js';
import type { FetchLike, FetchResponse } from './tls.js';

/** Builds one request on proxmox-api's typed paths and resolves to its answer's `data`. */
export type Send = (api: Proxmox.Api) => Promise<unknown>;

/** What one fetch call came to. */
export type Attempt = { answer: Answer } | { thrown: unknown };

export interface TransportOptions {
  /** the API origin, https://host[:port] */
  url: URL;
  tokenId: string;
  secret: string;
  timeoutMs: number;
  fetch: FetchLike;
}

export class ApiTransport {
  // private: the options hold the secret, and # fields stay out of util.inspect / JSON
  readonly #opts: TransportOptions;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
  }

  /**
   * Runs `send` against a fresh proxmox-api and returns its answer's `data`, as PVE sent it (unknown:
   * ./answer.ts reads it). `method` and `path` name the request in errors; `send` builds it.
   */
  async request(method: string, path: string, send: Send): Promise<unknown> {
    const o = this.#opts;
    const attempts: Attempt[] = [];
    const api = proxmoxApi({
      host: o.url.hostname,
      port: o.url.port ? Number(o.url.port) : undefined,
      schema: 'https',
      tokenID: o.tokenId,
      tokenSecret: o.secret,
      queryTimeout: o.timeoutMs,
      fetch: recording(o.fetch, attempts),
    });
    try {
      return await send(api);
    } catch (err) {
      const ctx: RequestContext = { method, path, tokenId: o.tokenId, secret: o.secret, timeoutMs: o.timeoutMs };
      throw classify(err, attempts.at(-1), ctx);
    }
  }
}

/** From the last attempt: a retried request fails with what its second attempt came to. */
export function classify(err: unknown, last: Attempt | undefined, ctx: RequestContext): ProxmoxApiError {
  if (err instanceof ProxmoxApiError) return err;
  if (last === undefined) return notSent(err, ctx);
  return 'answer' in last ? fromAnswer(last.answer, ctx) : toProxmoxApiError(last.thrown, ctx);
}

/**
 * `fetch`, with each call's outcome pushed to `attempts`. The body is read here, once, and served to
 * proxmox-api from memory (the pinned fetch reads answers whole anyway).
 */
export function recording(fetch: FetchLike, attempts: Attempt[]): FetchLike {
  return async (input, init) => {
    let res: FetchResponse;
    let body: string;
    try {
      res = await fetch(input, init);
      body = await res.text();
    } catch (err) {
      attempts.push({ thrown: err });
      throw err;
    }
    const contentType = res.headers.get('content-type');
    attempts.push({ answer: { status: res.status, statusText: res.statusText, contentType, body } });
    return {
      status: res.status,
      statusText: res.statusText,
      ok: res.ok,
      headers: res.headers,
      body: null,
      text: async () => body,
      json: async (): Promise<unknown> => JSON.parse(body),
    };
  };
}
