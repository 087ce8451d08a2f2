import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/errors.js';
import { applyStaticNetwork, parseStaticNetwork, prefixToNetmask } from '../../src/image/network-cfg.js';

const STOCK = '# Generated network settings\r\nUSE_DHCP="yes"\r\nIPADDR=\r\nNETMASK=\r\nGATEWAY=\r\nBONDING="yes"\r\nBRIDGING="yes"\r\n';

describe('unRAID network.cfg', () => {
  const net = parseStaticNetwork({ staticIp: '10.1.2.3/16', gateway: '10.1.0.1', dns: ['10.1.0.53'] });

  it('derives the netmask from the prefix', () => {
    expect(net).toEqual({ address: '10.1.2.3', prefix: 16, netmask: '255.255.0.0', gateway: '10.1.0.1', dns: ['10.1.0.53'] });
    expect(prefixToNetmask(24)).toBe('255.255.255.0');
    expect(prefixToNetmask(25)).toBe('255.255.255.128');
    expect(prefixToNetmask(30)).toBe('255.255.255.252');
  });

  it('replaces the stock keys in place, keeps other lines and CRLF, appends DNS', () => {
    expect(applyStaticNetwork(STOCK, net)).toBe(
      '# Generated network settings\r\nUSE_DHCP="no"\r\nIPADDR="10.1.2.3"\r\nNETMASK="255.255.0.0"\r\nGATEWAY="10.1.0.1"\r\nBONDING="yes"\r\nBRIDGING="yes"\r\nDNS_SERVER1="10.1.0.53"\r\n',
    );
  });

  it('updates the indexed keys newer unRAID writes, and LF files stay LF', () => {
    const out = applyStaticNetwork('USE_DHCP[0]="yes"\nIPADDR[0]="1.1.1.1"\nDNS_SERVER1="8.8.8.8"\n', { ...net, dns: [] });
    expect(out).toBe('USE_DHCP[0]="no"\nIPADDR[0]="10.1.2.3"\nDNS_SERVER1="8.8.8.8"\nNETMASK="255.255.0.0"\nGATEWAY="10.1.0.1"\n');
  });

  it('writes a complete file when the release has none', () => {
    expect(applyStaticNetwork(undefined, net)).toBe('USE_DHCP="no"\r\nIPADDR="10.1.2.3"\r\nNETMASK="255.255.0.0"\r\nGATEWAY="10.1.0.1"\r\nDNS_SERVER1="10.1.0.53"\r\n');
  });

  it('does not touch keys that merely start the same way', () => {
    expect(applyStaticNetwork('IPADDR6="fe80::1"\r\n', net)).toContain('IPADDR6="fe80::1"\r\n');
  });

  it('refuses anything that is not plain IPv4 (the file is sourced by a shell)', () => {
    const bad: Parameters<typeof parseStaticNetwork>[0][] = [
      { staticIp: '10.1.2.3', gateway: '10.1.0.1' },
      { staticIp: '10.1.2.3/33', gateway: '10.1.0.1' },
      { staticIp: '10.1.2.300/24', gateway: '10.1.2.1' },
      { staticIp: '10.1.2.3/24', gateway: '10.1.2.1"; reboot; "' },
      { staticIp: '10.1.2.3/24', gateway: '10.9.9.1' },
      { staticIp: '10.1.2.3/24', gateway: '10.1.2.1', dns: '1.1.1.1,$(id)' },
      { staticIp: '10.1.2.3/24', gateway: '10.1.2.1', dns: '1.1.1.1,1.0.0.1,8.8.8.8,8.8.4.4' },
    ];
    for (const b of bad) expect(() => parseStaticNetwork(b), JSON.stringify(b)).toThrow(ImageError);
  });
});
