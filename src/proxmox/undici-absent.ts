/**
 * Stands in for the undici package in the bundles (scripts/build.mjs aliases `undici` here). proxmox-api
 * imports undici's fetch only as its default; ProxmoxClient always passes its own (./tls.ts), so this is
 * never called, and 0.8 MB of undici stay out of the hook that Proxmox starts on every VM start.
 */
export function fetch(): never {
  throw new Error('undici is not bundled: pass a fetch to proxmox-api (ProxmoxClient does)');
}
