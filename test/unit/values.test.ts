// One rule per value: the settings, the API client and the CLI ask the same functions, so a value one
// side accepts the other accepts too (the client once took /api2/json URLs and one-character token names
// differently from the settings).
import { describe, expect, it } from 'vitest';
import { ProxmoxClient } from '../../src/proxmox/client.js';
import { parseSettings } from '../../src/settings/parse.js';
import { isAtOrUnder, isUnder } from '../../src/values/paths.js';
import { isTokenSecret, parseApiUrl, parseTokenId, parseVmid } from '../../src/values/proxmox-ids.js';
import { formatUsbId, normalizeUsbId, parseUsbIdNumber } from '../../src/values/usb-id.js';

const SECRET = '3c9e7a1b-5d2f-4e8a-9b6c-1f0e2d3c4b5a';
const settingsAccept = (tokenId: string, url: string) => {
  try {
    parseSettings(`[api]\ntoken_id = ${tokenId}\nurl = ${url}\n`, 'test', 'pve');
    return true;
  } catch {
    return false;
  }
};
const clientAccepts = (tokenId: string, url: string) => {
  try {
    new ProxmoxClient({ url, tokenId, secret: SECRET, caPem: '', fetch: (async () => new Response('{}')) as never });
    return true;
  } catch {
    return false;
  }
};

describe('value rules', () => {
  it('vmid: 100..999999999 without leading zeros or signs', () => {
    expect(['100', '999999999', '4242'].map((v) => parseVmid(v).ok)).toEqual([true, true, true]);
    expect(['99', '1000000000', '0100', '+100', '100 ', '1e3', ''].map((v) => parseVmid(v).ok)).toEqual(Array(7).fill(false));
  });

  it('settings and client agree on token ids and API URLs', () => {
    const cases: [string, string][] = [
      ['pve-usb-gadget@pve!hook', 'https://127.0.0.1:8006'],
      ['pve-usb-gadget@pve!hook', 'https://127.0.0.1:8006/api2/json'],
      ['pve-usb-gadget@pve!hook', 'https://127.0.0.1:8006/other'],
      ['pve-usb-gadget@pve!hook', 'http://127.0.0.1:8006'],
      ['a@pam!b', 'https://h:8006'],
      ['a@p!hook', 'https://h:8006'],
      ['a:b@pam!hook', 'https://h:8006'],
      ['root@pam', 'https://h:8006'],
      ['a@pam!hook-', 'https://h:8006'],
    ];
    for (const [tokenId, url] of cases) expect([tokenId, url, clientAccepts(tokenId, url)]).toEqual([tokenId, url, settingsAccept(tokenId, url)]);
    expect(parseApiUrl('https://h:8006/api2/json/')).toEqual({ ok: true, value: 'https://h:8006' });
    expect(parseTokenId('pve-usb-gadget@pve!hook').ok).toBe(true);
  });

  it('the token secret is a lower-case UUID', () => {
    expect(isTokenSecret(SECRET)).toBe(true);
    expect([SECRET.toUpperCase(), `${SECRET} `, 'x'.repeat(36), ''].map(isTokenSecret)).toEqual([false, false, false, false]);
  });

  it('isUnder is strictly below; isAtOrUnder includes the folder itself; neither matches a sibling prefix', () => {
    expect([isUnder('/a/b', '/a'), isUnder('/a', '/a'), isUnder('/ab', '/a'), isUnder('/a/b', '/a/')]).toEqual([true, false, false, true]);
    expect([isAtOrUnder('/a', '/a'), isAtOrUnder('/a/b', '/a'), isAtOrUnder('/ab', '/a')]).toEqual([true, true, false]);
  });

  it('USB ids: 16-bit hex, not 0, one spelling of VID:PID', () => {
    expect(['0x0781', '781', 'FFFF', '0X1'].map((v) => parseUsbIdNumber(v))).toEqual([0x781, 0x781, 0xffff, 1].map((value) => ({ ok: true, value })));
    expect(['0x0000', '0', '0x10000', '12345', '', 'g'].map((v) => parseUsbIdNumber(v).ok)).toEqual(Array(6).fill(false));
    expect(formatUsbId(0x781, 0x5571)).toBe('0781:5571');
    expect([normalizeUsbId('0x1D6B:0x0104'), normalizeUsbId('1d6b:104'), normalizeUsbId('1d6b0104')]).toEqual(['1d6b:0104', undefined, undefined]);
  });
});
