/**
 * Stands in for the undici package, in the bundles and for the type checker alike: scripts/build.mjs
 * aliases `undici` here, and tsconfig.json's `paths` does the same for types. proxmox-api imports
 * undici's fetch only as its default; ProxmoxClient always passes its own (./tls.ts), so this fetch is
 * never called, and 0.8 MB of undici stay out of the hook that Proxmox starts on every VM start.
 * proxmox-api types its `fetch` option with undici's RequestInit and Response; here they are the
 * fetch we pass (./tls.ts), which has exactly what ProxmoxEngine uses of them, so it type-checks as it
 * is: no cast at the one place proxmox-api and our fetch meet.
 */
import type { FetchInit, FetchResponse } from './tls.js';

export type RequestInit = FetchInit;
export type Response = FetchResponse;

export function fetch(): never {
  throw new Error('undici is not bundled: pass a fetch to proxmox-api (ProxmoxClient does)');
}
