/**
 * The HTTP side of pveproxy as a client sees it (pve-http-server src/PVE/APIServer/AnyEvent.pm and
 * Formatter/Standard.pm, pve-manager PVE/HTTPServer.pm): status line text = first line of the message,
 * JSON answers with content type exactly "application/json;charset=UTF-8" and {"data": ...}, errors with
 * "data": null plus "message" (and "errors" for parameter errors), auth failures as a bare 401 after 3 s.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeCluster } from './cluster.js';
import { PveError } from './pve-error.js';
import { extractParams, validate } from './params.js';
import { matchRoute, mergeUriParams, resolveNode, type FakeOptions, type Route } from './route.js';

export const JSON_CONTENT_TYPE = 'application/json;charset=UTF-8';

export interface RequestLogEntry {
  method: string;
  /** path below /api2/json, e.g. /nodes/pve/qemu/100/config */
  path: string;
  /** decoded request parameters (body + query); the token secret is only ever in a header */
  params: Record<string, string | string[]>;
  /** USER@REALM!TOKENID from the Authorization header, if it parsed */
  authId?: string;
  /** undefined while the request is still being handled; 0 when the fake cut the connection instead */
  status?: number;
}

export interface HttpOptions extends FakeOptions {
  /** pveproxy delays every 401 by 3 s */
  authFailureDelayMs: number;
  /** 'pve9': "Authentication failed!" (pve-manager >= 9.1); 'pve8': the reason ("invalid token value!", ...) */
  authErrors: 'pve9' | 'pve8';
  /** omit "message" from JSON error bodies, as pve-http-server < 5.2.0 (PVE 7, 8.0-8.3) did */
  legacyErrorBody: boolean;
}

export interface DropRule {
  method?: string;
  path?: string | RegExp;
  remaining: number;
}

export interface HttpState {
  cluster: FakeCluster;
  routes: Route[];
  opts: HttpOptions;
  log: RequestLogEntry[];
  drops: DropRule[];
  timers: Set<NodeJS.Timeout>;
}

function statusLine(message: string): string {
  const first = message.split(/\r?\n/)[0] ?? '';
  // Node refuses characters outside latin1 in the status line
  return first.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

function baseHeaders(res: ServerResponse, status: number): void {
  const now = new Date().toUTCString();
  res.setHeader('Date', now);
  res.setHeader('Expires', now);
  res.setHeader('Cache-Control', 'max-age=0');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Server', 'pve-api-daemon/3.0');
  if (status >= 400) res.setHeader('Connection', 'close');
}

function sendJson(res: ServerResponse, status: number, message: string, body: unknown): void {
  const raw = Buffer.from(JSON.stringify(body), 'utf8');
  res.statusCode = status;
  res.statusMessage = statusLine(message);
  baseHeaders(res, status);
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', String(raw.length));
  res.end(raw);
}

/** AnyEvent.pm `error`: no content type, the message as body (>= 5.2.0) */
function sendBare(res: ServerResponse, status: number, message: string, body = message): void {
  res.statusCode = status;
  res.statusMessage = statusLine(message);
  baseHeaders(res, status);
  if (body) res.setHeader('Content-Length', String(Buffer.byteLength(body)));
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** verify_token's view of the Authorization header: ok, or why not (pve8 wording). */
function authenticate(state: HttpState, header: string | undefined): { authId?: string; error?: string } {
  const m = header ? /(?:^|\s)PVEAPIToken(?:=| )([^;]*)/.exec(header) : null;
  if (!m) return { error: 'No ticket' };
  let value = m[1] ?? '';
  try {
    value = decodeURIComponent(value);
  } catch {
    // uri_unescape leaves invalid escapes alone
  }
  const eq = value.lastIndexOf('=');
  if (eq < 0) return { error: 'no tokenid specified' };
  const tokenId = value.slice(0, eq);
  const secret = value.slice(eq + 1);
  const parts = /^([^\s:/]+)@([A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/.exec(tokenId);
  if (!parts) return { error: `'${tokenId}' is not a valid token ID - not able to split into user and token parts` };
  if (!state.cluster.tokens.has(tokenId)) {
    return { authId: tokenId, error: `no such token '${parts[3]}' for user '${parts[1]}@${parts[2]}'` };
  }
  if (!state.cluster.verifySecret(tokenId, secret)) return { authId: tokenId, error: 'invalid token value!' };
  return { authId: tokenId };
}

function shouldDrop(state: HttpState, method: string, path: string): boolean {
  const rule = state.drops.find(
    (r) =>
      r.remaining > 0 &&
      (r.method === undefined || r.method === method) &&
      (r.path === undefined || (typeof r.path === 'string' ? r.path === path : r.path.test(path))),
  );
  if (!rule) return false;
  rule.remaining--;
  return true;
}

function delay(state: HttpState, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      state.timers.delete(t);
      resolve();
    }, ms);
    state.timers.add(t);
  });
}

export async function handleRequest(state: HttpState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const url = new URL(req.url ?? '/', 'https://fake.invalid');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    path = url.pathname;
  }
  const entry: RequestLogEntry = { method, path, params: {} };
  state.log.push(entry);
  const body = await readBody(req);
  const finish = (status: number) => {
    entry.status = status;
  };

  const api = /^\/api2\/+([a-z][a-z0-9]+)(\/.*)?$/.exec(path);
  if (!path.startsWith('/api2')) {
    finish(500);
    return sendBare(res, 500, `no such file '${path}'`);
  }
  if (!api) {
    finish(501);
    return sendBare(res, 501, 'no such uri');
  }
  const rel = (api[2] ?? '/').replace(/\/+$/, '') || '/';
  entry.path = rel;

  const auth = authenticate(state, req.headers.authorization);
  entry.authId = auth.authId;
  if (auth.error !== undefined || auth.authId === undefined) {
    await delay(state, state.opts.authFailureDelayMs);
    const msg = auth.error === 'No ticket' || state.opts.authErrors === 'pve8' ? auth.error ?? 'No ticket' : 'Authentication failed!';
    finish(401);
    return sendBare(res, 401, msg, '');
  }
  if (api[1] !== 'json') {
    finish(501);
    return sendBare(res, 501, `no formatter for uri ${rel}, ${api[1]}`);
  }

  let status = 200;
  let message = 'OK';
  let payload: Record<string, unknown>;
  try {
    const params = extractParams(method, req.headers['content-type'], body, url.search.slice(1));
    entry.params = params;
    const match = matchRoute(state.routes, method, rel);
    if (!match) throw new PveError(501, `Method '${method} ${rel}' not implemented`);
    const ctx = {
      cluster: state.cluster,
      authId: auth.authId,
      params: mergeUriParams(params, match.uriParams),
      opts: state.opts,
      timers: state.timers,
    };
    match.route.perm(ctx);
    if (match.route.proxyNode) resolveNode(state.cluster, match.uriParams.node ?? '');
    ctx.params = validate(ctx.params, match.route.schema, match.route.extraParam);
    const data = await match.route.handler(ctx);
    payload = { data: data ?? null };
  } catch (err) {
    const e = err instanceof PveError ? err : new PveError(500, err instanceof Error ? err.message : String(err));
    status = e.status;
    message = e.message;
    payload = { data: null };
    if (e.errors) payload.errors = e.errors;
    if (!state.opts.legacyErrorBody) payload.message = e.message;
  }
  if (shouldDrop(state, method, rel)) {
    finish(0);
    req.socket.destroy();
    return;
  }
  finish(status);
  sendJson(res, status, message, payload);
}
