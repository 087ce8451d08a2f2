/** The LUNs the VM's notes ask for, from this node's copy of its config (pmxcfs); undefined if unreadable or invalid. */
import type { HostFs } from '../ports/host-fs.js';
import { parseLocalVmConfig } from '../proxmox/local-config.js';
import type { Settings } from '../settings/types.js';
import type { LunSpec } from '../spec/types.js';
import { validateNotes } from '../spec/validate.js';
import { smbiosUuid } from '../hook/vm-source.js';

export function notesLuns(fs: HostFs, settings: Settings, vmid: number): LunSpec[] | undefined {
  const text = fs.readTextIfExists(`${settings.paths.pveConfigDir}/${vmid}.conf`);
  if (text === undefined) return undefined;
  const c = parseLocalVmConfig(text);
  const r = validateNotes(c.description ?? '', { vmid, smbiosUuid: smbiosUuid(c.options.smbios1), defaultSpeed: settings.defaultSpeed });
  return r.kind === 'ok' ? r.spec.luns : undefined;
}

/** realpath of a notes path, undefined for volume ids or paths that do not resolve. */
export const resolver = (fs: HostFs) => (image: string): string | undefined => {
  if (!image.startsWith('/')) return undefined;
  try {
    return fs.realpath(image);
  } catch {
    return undefined;
  }
};
