// Turning what a request came to (PVE's answer, or what the fetch threw) into ProxmoxApiError.
import { describe, expect, it } from 'vitest';
import { PVE_JSON, fromAnswer, redact, toProxmoxApiError, type Answer } from '../../src/proxmox/classify.js';
import { classify } from '../../src/proxmox/transport.js';

const SECRET = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
const ctx = { method: 'PUT', path: '/nodes/pve/qemu/100/config', tokenId: 'u@pve!t', secret: SECRET };
const URL_ = 'https://127.0.0.1:8006/api2/json/nodes/pve/qemu/100/config';
const answer = (status: number, statusText: string, body: string, contentType: string | null = PVE_JSON): Answer => ({
  status,
  statusText,
  contentType,
  body,
});

describe('fromAnswer', () => {
  it('reads status, status line and the JSON body of PVE answers', () => {
    expect(fromAnswer(answer(500, 'boom', '{"data":null,"message":"boom\\n"}'), ctx)).toMatchObject({
      status: 500,
      pveMessage: 'boom',
    });
    expect(fromAnswer(answer(403, 'Permission check failed (/vms/100, VM.Audit)', '{"data":null}'), ctx)).toMatchObject({
      kind: 'permission',
      status: 403,
      pveMessage: 'Permission check failed (/vms/100, VM.Audit)',
    });
  });

  it('takes a status line with ": {" in it as it is', () => {
    const e = fromAnswer(answer(500, 'bad value: {x} here', '{"message":"bad value: {x} here\\n","data":null}'), ctx);
    expect(e.pveMessage).toBe('bad value: {x} here');
  });

  it('never reads proxmox-api\'s error text: after a fetch that threw, an HTTP-looking text is still unreachable', () => {
    const looksHttp = new Error(`PUT ${URL_} return Error 500 checksum mismatch: {"data":null}`);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8006'), { code: 'ECONNREFUSED' });
    expect(classify(looksHttp, { thrown: refused }, ctx)).toMatchObject({ kind: 'unreachable', errno: 'ECONNREFUSED' });
    expect(classify(new Error('FaILED to call PUT x'), { answer: answer(401, 'No ticket', '', null) }, ctx).kind).toBe('auth');
  });
});

describe('classification', () => {
  it('uses the status line when the body has no "message" (pve-http-server < 5.2.0)', () => {
    const e = fromAnswer(answer(500, 'checksum mismatch (file change by other user?)', '{"data":null}'), ctx);
    expect(e.kind).toBe('conflict');
    expect(e.pveMessage).toBe('checksum mismatch (file change by other user?)');
  });

  it('maps 595 (pveproxy could not reach the node) to unreachable', () => {
    const e = fromAnswer(answer(595, 'No route to host', '{"data":null}'), ctx);
    expect(e.kind).toBe('unreachable');
    expect(e.status).toBe(595);
  });

  it('maps an HTML answer (wrong port, reverse proxy) to server with a pointed fix', () => {
    const e = fromAnswer(answer(200, 'OK', '<html></html>', 'text/html'), ctx);
    expect(e.kind).toBe('server');
    expect(e.fix).toContain('pveproxy');
  });

  it('finds the OS or TLS code deep in the cause chain', () => {
    const inner = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const fetchErr = new TypeError('fetch failed', { cause: inner });
    const e = toProxmoxApiError(fetchErr, ctx);
    expect(e).toMatchObject({ kind: 'tls', errno: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const refused = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:8006'), { code: 'ECONNREFUSED' })], 'x');
    expect(toProxmoxApiError(new TypeError('fetch failed', { cause: refused }), ctx)).toMatchObject({
      kind: 'unreachable',
      errno: 'ECONNREFUSED',
    });
  });

  it('scrubs the secret and any PVEAPIToken header value from every field', () => {
    const leak = `{"data":null,"message":"Authorization: PVEAPIToken=u@pve!t=${SECRET}\\n","errors":{"x":"${SECRET}"}}`;
    const e = fromAnswer(answer(500, `oops ${SECRET}`, leak), ctx);
    const all = JSON.stringify({ m: e.message, l: e.toLine(), p: e.pveMessage, e: e.paramErrors, f: e.fix });
    expect(all).not.toContain(SECRET);
    expect(redact(`PVEAPIToken=a@b!c=${'x'.repeat(10)}`, undefined)).toBe('PVEAPIToken=a@b!c=***');
  });
});
