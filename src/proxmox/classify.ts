/**
 * Turns what proxmox-api and the pinned fetch (./tls.ts) throw into ProxmoxApiError. proxmox-api
 * reports HTTP errors as plain Errors whose text is
 * "<METHOD> <url> return Error <status> <statusText>: <json>" (400/401/500) or
 * "<METHOD> <url> connection failed with <status> <statusText> return: <json>" (others); network errors
 * as "FaILED to call <METHOD> <url> ..." with the fetch's error (node:https/OpenSSL code) as `cause`.
 */
import {
  ProxmoxApiError,
  fixFor,
  type MissingPermission,
  type NotFoundTarget,
  type ProxmoxErrorKind,
} from './errors.js';

export interface RequestContext {
  method: string;
  /** API path below /api2/json, e.g. /nodes/pve/qemu/100/config */
  path: string;
  tokenId?: string;
  /** scrubbed from every text that ends up in the error */
  secret?: string;
  timeoutMs?: number;
}

/** Error codes (node/OpenSSL) that mean "the certificate did not verify". */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

interface HttpFailure {
  status: number;
  statusText: string;
  body: { message?: unknown; errors?: unknown } | undefined;
}

export function redact(text: string, secret: string | undefined): string {
  let out = text.replace(/(PVEAPIToken=[^=\s]+=)[^\s"';,]+/gi, '$1***');
  if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

export function toProxmoxApiError(err: unknown, ctx: RequestContext): ProxmoxApiError {
  if (err instanceof ProxmoxApiError) return err;
  const request = `${ctx.method} ${ctx.path}`;
  const text = err instanceof Error ? err.message : String(err);

  const http = parseHttpFailure(text);
  if (http) return fromHttp(http, ctx, request);

  const contentType = /unexpected contentType "([^"]*)" status Line:(\d+)/.exec(text);
  if (contentType) {
    return make('server', ctx, request, {
      message: `Proxmox API ${request} answered HTTP ${contentType[2]} with content type '${contentType[1]}' instead of PVE's JSON`,
      status: Number(contentType[2]),
      fix: 'api.url must point at pveproxy itself (https://<host>:8006), not at a web page or another proxy',
    });
  }

  const network = networkCause(err);
  if (network.aborted) {
    const secs = ctx.timeoutMs ? ` within ${Math.round(ctx.timeoutMs / 1000)} s` : '';
    return make('unreachable', ctx, request, { message: `Proxmox API ${request}: no answer${secs}`, errno: 'ETIMEDOUT' });
  }
  if (network.code && TLS_CODES.has(network.code)) {
    return make('tls', ctx, request, {
      message: `Proxmox API ${request}: TLS certificate not trusted (${network.code}${network.detail ? `: ${network.detail}` : ''})`,
      errno: network.code,
    });
  }
  if (network.code || /FaILED to call|fetch failed/i.test(text)) {
    return make('unreachable', ctx, request, {
      message: `Proxmox API ${request}: cannot connect${network.detail ? ` (${network.detail})` : ''}`,
      errno: network.code,
    });
  }
  return make('server', ctx, request, { message: `Proxmox API ${request} failed: ${text}` });
}

/** Status, status text and JSON body out of a proxmox-api HTTP error message, if it is one. */
export function parseHttpFailure(text: string): HttpFailure | undefined {
  const head = /^\S+ \S+ (?:return Error|connection failed with) (\d{3}) /.exec(text);
  if (!head) return undefined;
  const rest = text.slice(head[0].length);
  // the JSON body is the suffix; the status text before it may itself contain ": {"
  for (let i = rest.indexOf('{'); i >= 0; i = rest.indexOf('{', i + 1)) {
    const before = rest.slice(0, i);
    if (!before.endsWith(': ')) continue;
    try {
      const body = JSON.parse(rest.slice(i)) as HttpFailure['body'];
      const statusText = before.slice(0, -2).replace(/ return$/, '');
      return { status: Number(head[1]), statusText, body: typeof body === 'object' && body ? body : undefined };
    } catch {
      // not the body yet: keep looking
    }
  }
  return { status: Number(head[1]), statusText: rest.trim(), body: undefined };
}

function fromHttp(h: HttpFailure, ctx: RequestContext, request: string): ProxmoxApiError {
  const bodyMessage = typeof h.body?.message === 'string' ? h.body.message.trim() : '';
  const pveMessage = bodyMessage || h.statusText.trim();
  const paramErrors = stringRecord(h.body?.errors);
  const base = `Proxmox API ${request} failed: ${h.status} ${pveMessage}`;
  const common = { status: h.status, pveMessage };

  if (h.status === 401) return make('auth', ctx, request, { ...common, message: base });
  if (h.status === 400) {
    const list = paramErrors ? Object.entries(paramErrors).map(([k, v]) => `${k}: ${v.trim()}`) : [];
    return make('bad-request', ctx, request, {
      ...common,
      paramErrors,
      message: list.length ? `${base}: ${list.join('; ')}` : base,
    });
  }
  if (h.status === 403) {
    return make('permission', ctx, request, { ...common, message: base, permission: parsePermission(pveMessage) });
  }
  const rootOnly = /^only root can (?:set|delete|modify) '([^']+)' config/.exec(pveMessage);
  if (rootOnly) {
    const permission: MissingPermission = { privileges: [], rootOnlyKey: rootOnly[1] };
    return make('permission', ctx, request, { ...common, message: base, permission, key: rootOnly[1] });
  }
  const lock = /can't lock file '([^']+)' - got timeout/.exec(pveMessage);
  if (lock) return make('lock-timeout', ctx, request, { ...common, message: base, path: lock[1] });
  if (/checksum mismatch|detected modified configuration|already defined|already exists|is locked \(/.test(pveMessage)) {
    return make('conflict', ctx, request, { ...common, message: base });
  }
  const notFound = parseNotFound(h.status, pveMessage);
  if (notFound) return make('not-found', ctx, request, { ...common, message: base, notFound });
  if (h.status === 595 || h.status === 596) return make('unreachable', ctx, request, { ...common, message: base });
  return make('server', ctx, request, { ...common, message: base });
}

export function parsePermission(message: string): MissingPermission {
  const m = /^Permission check failed \((\/[^,]*), (.+)\)/.exec(message);
  if (!m || m[1] === undefined || m[2] === undefined) return { privileges: [] };
  return { aclPath: m[1], privileges: m[2].split('|').map((p) => p.trim()).filter(Boolean) };
}

function parseNotFound(status: number, message: string): NotFoundTarget | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^Configuration file 'nodes\/[^/]+\/qemu-server\/(\d+)\.conf' does not exist/.exec(message))) {
    return { type: 'vm', id: m[1] };
  }
  if ((m = /^mapping '([^']+)' not found/.exec(message)) || (m = /usb ID '([^']+)' does not exist/.exec(message))) {
    return { type: 'mapping', id: m[1] };
  }
  if ((m = /^snapshot '([^']+)' does not exist/.exec(message))) return { type: 'snapshot', id: m[1] };
  if ((m = /^hostname lookup '([^']+)' failed/.exec(message)) || (m = /^no such cluster node '([^']+)'/.exec(message))) {
    return { type: 'node', id: m[1] };
  }
  if (status === 501 && (m = /^Method '([^']+)' not implemented/.exec(message))) return { type: 'endpoint', id: m[1] };
  if (status === 404 || status === 501) return { type: 'other' };
  return undefined;
}

function networkCause(err: unknown): { code?: string; detail?: string; aborted: boolean } {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  const found: { code: string; detail?: string }[] = [];
  let aborted = false;
  while (queue.length > 0) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null || seen.has(e)) continue;
    seen.add(e);
    const rec = e as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (rec.name === 'AbortError' || rec.name === 'TimeoutError') aborted = true;
    if (typeof rec.code === 'string') {
      found.push({ code: rec.code, detail: typeof rec.message === 'string' ? rec.message : undefined });
    }
    queue.push(rec.cause);
    if (Array.isArray(rec.errors)) queue.push(...rec.errors);
  }
  // the most telling code: a certificate problem, else the OS error, else a generic socket error
  // (UND_ERR_SOCKET, from Node's own fetch)
  const best =
    found.find((f) => TLS_CODES.has(f.code)) ?? found.find((f) => !f.code.startsWith('UND_ERR_SOCKET')) ?? found[0];
  return { code: best?.code, detail: best?.detail, aborted };
}

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = typeof val === 'string' ? val : JSON.stringify(val);
  return Object.keys(out).length ? out : undefined;
}

interface MakeOptions {
  message: string;
  status?: number;
  pveMessage?: string;
  paramErrors?: Record<string, string>;
  permission?: MissingPermission;
  notFound?: NotFoundTarget;
  key?: string;
  path?: string;
  errno?: string;
  fix?: string;
}

function make(kind: ProxmoxErrorKind, ctx: RequestContext, request: string, o: MakeOptions): ProxmoxApiError {
  const clean = (s: string | undefined) => (s === undefined ? undefined : redact(s, ctx.secret));
  const fix =
    o.fix ??
    fixFor(kind, { tokenId: ctx.tokenId, permission: o.permission, notFound: o.notFound });
  let paramErrors: Record<string, string> | undefined;
  if (o.paramErrors) {
    paramErrors = {};
    for (const [k, v] of Object.entries(o.paramErrors)) paramErrors[k] = redact(v, ctx.secret);
  }
  // the original error is not kept as `cause`: its text may echo request data, and nothing needs it
  return new ProxmoxApiError(redact(o.message, ctx.secret), {
    kind,
    status: o.status,
    request: clean(request),
    pveMessage: clean(o.pveMessage),
    paramErrors,
    permission: o.permission,
    notFound: o.notFound,
    key: o.key,
    path: o.path,
    errno: o.errno,
    fix: clean(fix),
  });
}
