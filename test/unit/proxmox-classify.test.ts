// Turning proxmox-api's plain Errors (status inside the text) and fetch errors (codes in the cause chain) into ProxmoxApiError.
import { describe, expect, it } from 'vitest';
import { parseHttpFailure, redact, toProxmoxApiError } from '../../src/proxmox/classify.js';

const SECRET = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
const ctx = { method: 'PUT', path: '/nodes/pve/qemu/100/config', tokenId: 'u@pve!t', secret: SECRET };
const URL_ = 'https://127.0.0.1:8006/api2/json/nodes/pve/qemu/100/config';

describe('parseHttpFailure', () => {
  it('reads status, status text and JSON body of both proxmox-api message shapes', () => {
    expect(parseHttpFailure(`PUT ${URL_} return Error 500 boom: {"data":null,"message":"boom\\n"}`)).toEqual({
      status: 500,
      statusText: 'boom',
      body: { data: null, message: 'boom\n' },
    });
    expect(parseHttpFailure(`GET ${URL_} connection failed with 403 Permission check failed (/vms/100, VM.Audit) return: {"data":null}`))
      .toEqual({ status: 403, statusText: 'Permission check failed (/vms/100, VM.Audit)', body: { data: null } });
  });

  it('does not mistake ": {" inside the status text for the body', () => {
    const text = `PUT ${URL_} return Error 500 bad value: {x} here: {"message":"bad value: {x} here\\n","data":null}`;
    expect(parseHttpFailure(text)?.statusText).toBe('bad value: {x} here');
  });

  it('is undefined for anything else', () => {
    expect(parseHttpFailure('FaILED to call GET https://x/api2/json/version cause by:connect ECONNREFUSED')).toBeUndefined();
  });
});

describe('toProxmoxApiError', () => {
  it('uses the status line when the body has no "message" (pve-http-server < 5.2.0)', () => {
    const e = toProxmoxApiError(new Error(`PUT ${URL_} return Error 500 checksum mismatch (file change by other user?): {"data":null}`), ctx);
    expect(e.kind).toBe('conflict');
    expect(e.pveMessage).toBe('checksum mismatch (file change by other user?)');
  });

  it('maps 595 (pveproxy could not reach the node) to unreachable', () => {
    const e = toProxmoxApiError(new Error(`GET ${URL_} connection failed with 595 No route to host return: {"data":null}`), ctx);
    expect(e.kind).toBe('unreachable');
    expect(e.status).toBe(595);
  });

  it('maps an HTML answer (wrong port, reverse proxy) to server with a pointed fix', () => {
    const e = toProxmoxApiError(new Error(`GET ${URL_} unexpected contentType "text/html" status Line:200 undefined`), ctx);
    expect(e.kind).toBe('server');
    expect(e.fix).toContain('pveproxy');
  });

  it('finds the OS or TLS code deep in the cause chain', () => {
    const inner = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const fetchErr = new TypeError('fetch failed', { cause: inner });
    const e = toProxmoxApiError(new Error('FaILED to call PUT x', { cause: fetchErr }), ctx);
    expect(e).toMatchObject({ kind: 'tls', errno: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const refused = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:8006'), { code: 'ECONNREFUSED' })], 'x');
    expect(toProxmoxApiError(new TypeError('fetch failed', { cause: refused }), ctx)).toMatchObject({
      kind: 'unreachable',
      errno: 'ECONNREFUSED',
    });
  });

  it('scrubs the secret and any PVEAPIToken header value from every field', () => {
    const leak = `PUT ${URL_} return Error 500 oops ${SECRET}: {"data":null,"message":"Authorization: PVEAPIToken=u@pve!t=${SECRET}\\n","errors":{"x":"${SECRET}"}}`;
    const e = toProxmoxApiError(new Error(leak), ctx);
    const all = JSON.stringify({ m: e.message, l: e.toLine(), p: e.pveMessage, e: e.paramErrors, f: e.fix });
    expect(all).not.toContain(SECRET);
    expect(redact(`PVEAPIToken=a@b!c=${'x'.repeat(10)}`, undefined)).toBe('PVEAPIToken=a@b!c=***');
  });
});
