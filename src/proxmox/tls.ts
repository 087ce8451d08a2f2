/**
 * A fetch that trusts exactly one CA: the Proxmox cluster CA (/etc/pve/pve-root-ca.pem) that signs every
 * node's pveproxy certificate. Built on the undici npm package (bundled), not on Node's global fetch:
 * Debian's nodejs links its own, separately packaged undici, whose dispatcher API we cannot rely on.
 * Verification is never switched off; host name/IP checking stays on too.
 */
import { Agent, fetch as undiciFetch, type RequestInfo, type RequestInit, type Response } from 'undici';
import { ProxmoxApiError } from './errors.js';

export type FetchLike = (input: RequestInfo, init?: RequestInit) => Promise<Response>;

export interface PinnedFetch {
  fetch: FetchLike;
  /** closes the keep-alive connections */
  close(): Promise<void>;
}

export interface PinnedFetchOptions {
  /** TCP + TLS handshake timeout, default 10 s */
  connectTimeoutMs?: number;
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

export function createPinnedFetch(caPem: string, opts: PinnedFetchOptions = {}): PinnedFetch {
  const agent = new Agent({
    connect: {
      ca: certificatesOf(caPem),
      rejectUnauthorized: true,
      timeout: opts.connectTimeoutMs ?? 10_000,
    },
  });
  return {
    fetch: (input, init) => undiciFetch(input, { ...init, dispatcher: agent }),
    close: () => agent.close(),
  };
}
