import { CommanderError } from 'commander';
import { parseVmid } from '../values/proxmox-ids.js';

/** A <vmid> argument, by the one vmid rule (values/proxmox-ids.ts); a usage error (exit 2) otherwise. */
export function vmidArg(s: string): number {
  const parsed = parseVmid(s);
  if (!parsed.ok) throw new CommanderError(2, 'usage', `not a VM id: '${s}' (100..999999999)`);
  return parsed.value;
}
