/**
 * unRAID's `config/network.cfg`: shell-style KEY="value" lines (USE_DHCP, IPADDR, NETMASK, GATEWAY,
 * DNS_SERVER1...), as unRAID's own USB creator writes them. Newer unRAID keeps the first interface's keys
 * as KEY[0]=; both forms are updated in place. Pure functions.
 */
import { ImageError } from './errors.js';

export interface StaticNetworkInput {
  /** "192.168.1.50/24" */
  staticIp: string;
  gateway: string;
  /** one or up to three DNS servers */
  dns?: string | readonly string[];
}

export interface StaticNetwork {
  address: string;
  prefix: number;
  netmask: string;
  gateway: string;
  dns: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

export function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

/** Validates the static network options; every value ends up inside a file unRAID's shell sources. */
export function parseStaticNetwork(input: StaticNetworkInput): StaticNetwork {
  const fail = (key: string, message: string, fix: string): never => {
    throw new ImageError(message, { key, fix });
  };
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(input.staticIp.trim());
  const address = m?.[1] ?? '';
  const prefix = Number(m?.[2]);
  if (!m || !IPV4.test(address) || prefix < 1 || prefix > 30) {
    fail('static-ip', `static IP "${input.staticIp}" is not ADDRESS/PREFIX`, 'write it like 192.168.1.50/24 (IPv4, prefix 1..30)');
  }
  const gateway = input.gateway.trim();
  if (!IPV4.test(gateway)) fail('gateway', `gateway "${input.gateway}" is not an IPv4 address`, 'write it like 192.168.1.1');
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if (((toInt(address) & mask) >>> 0) !== ((toInt(gateway) & mask) >>> 0)) {
    fail('gateway', `gateway ${gateway} is outside ${address}/${prefix}`, 'give a gateway in the same subnet');
  }
  const dnsList = input.dns === undefined ? [] : typeof input.dns === 'string' ? input.dns.split(',') : [...input.dns];
  const dns = dnsList.map((d) => d.trim()).filter(Boolean);
  if (dns.length > 3) fail('dns', 'at most three DNS servers can be set', 'give one to three addresses');
  for (const d of dns) if (!IPV4.test(d)) fail('dns', `DNS server "${d}" is not an IPv4 address`, 'write it like 192.168.1.1');
  return { address, prefix, netmask: prefixToNetmask(prefix), gateway, dns };
}

/** Returns network.cfg with static settings; keeps every other line and the file's line endings. */
export function applyStaticNetwork(existing: string | undefined, net: StaticNetwork): string {
  const text = existing ?? '';
  const eol = text.includes('\r\n') || text === '' ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const values: [string, string][] = [
    ['USE_DHCP', 'no'],
    ['IPADDR', net.address],
    ['NETMASK', net.netmask],
    ['GATEWAY', net.gateway],
    ...net.dns.map((d, i): [string, string] => [`DNS_SERVER${i + 1}`, d]),
  ];
  for (const [key, value] of values) {
    const re = new RegExp(`^(${key}(?:\\[0\\])?)=`);
    let found = false;
    for (const [i, line] of lines.entries()) {
      const m = re.exec(line);
      if (m) {
        lines[i] = `${m[1]}="${value}"`;
        found = true;
      }
    }
    if (!found) lines.push(`${key}="${value}"`);
  }
  return lines.join(eol) + eol;
}
