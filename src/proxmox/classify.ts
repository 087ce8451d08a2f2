/**
 * Turns a failed request into ProxmoxApiError from what the request came to, as our fetch saw it
 * (./transport.ts records each attempt): PVE's answer (status, status line, content type, and the JSON
 * body's `message` and per-parameter `errors`), or the error the fetch threw (an abort, or a
 * node:https/OpenSSL `code` somewhere in its cause chain). proxmox-api's own error texts are never read:
 * they are prose built from these same facts, and matching them tied us to its wording (and its typo).
 */
import {
  ProxmoxApiError,
  fixFor,
  type MissingPermission,
  type NotFoundTarget,
  type ProxmoxErrorKind,
} from './errors.js';
import { isRecord } from './answer.js';

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
  body: Record<string, unknown> | undefined;
}

export function redact(text: string, secret: string | undefined): string {
  let out = text.replace(/(PVEAPIToken=[^=\s]+=)[^\s"';,]+/gi, '$1***');
  if (secret && secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** The content type PVE answers with; proxmox-api refuses any other but none and octet-stream. */
export const PVE_JSON = 'application/json;charset=UTF-8';

/** An HTTP answer as the fetch received it, body read whole. */
export interface Answer {
  status: number;
  statusText: string;
  /** the Content-Type header; null when there is none (pveproxy's bare 401 and 501 answers) */
  contentType: string | null;
  body: string;
}

/** PVE's (or something else's) answer to a request that proxmox-api then failed. */
export function fromAnswer(answer: Answer, ctx: RequestContext): ProxmoxApiError {
  const request = `${ctx.method} ${ctx.path}`;
  const type = answer.contentType;
  // proxmox-api rejects these whatever the status: something other than pveproxy answered
  if (type && type !== PVE_JSON && type !== 'application/octet-stream') {
    return make('server', ctx, request, {
      message: `Proxmox API ${request} answered HTTP ${answer.status} with content type '${type}' instead of PVE's JSON`,
      status: answer.status,
      fix: 'api.url must point at pveproxy itself (https://<host>:8006), not at a web page or another proxy',
    });
  }
  const body = type === PVE_JSON ? jsonObject(answer.body) : undefined;
  return fromHttp({ status: answer.status, statusText: answer.statusText, body }, ctx, request);
}

/**
 * What a request that got no HTTP answer threw (the fetch's error): an abort is proxmox-api's timeout,
 * a certificate code is tls, anything else is unreachable (with the OS code when there is one).
 */
export function toProxmoxApiError(err: unknown, ctx: RequestContext): ProxmoxApiError {
  if (err instanceof ProxmoxApiError) return err;
  const request = `${ctx.method} ${ctx.path}`;
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
  return make('unreachable', ctx, request, {
    message: `Proxmox API ${request}: cannot connect${network.detail ? ` (${network.detail})` : ''}`,
    errno: network.code,
  });
}

/** A failure before anything was sent (no fetch was called): not PVE's doing, reported as it is. */
export function notSent(err: unknown, ctx: RequestContext): ProxmoxApiError {
  if (err instanceof ProxmoxApiError) return err;
  const request = `${ctx.method} ${ctx.path}`;
  const text = err instanceof Error ? err.message : String(err);
  return make('server', ctx, request, { message: `Proxmox API ${request} failed: ${text}` });
}

/** PVE's error body, {"data": null, "message": ..., "errors": {...}}; undefined when it is not JSON. */
function jsonObject(text: string): HttpFailure['body'] {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
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
    if (!isRecord(e)) continue;
    const rec = e;
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
  if (!isRecord(v)) return undefined;
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
