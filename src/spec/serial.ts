/**
 * The USB serial when the notes set none.
 *
 * unRAID builds its licence GUID from VID, PID and the last 16 characters of the serial (spec/guid.ts;
 * bcdDevice is not part of it), so the serial must never change for a VM: not across restarts, host
 * reboots, migrations or package upgrades. `enable` writes it into the notes; only when the notes have
 * none (hand-written notes) is it derived here. We derive it
 * from the VM's smbios1 uuid, which Proxmox generates randomly once per VM and which travels with the
 * VM config to every node. Without a uuid we fall back to the vmid (stable too, but a restore or clone
 * under another id changes it) and warn.
 *
 * NEVER change the hash input format below: doing so would change every derived serial and break
 * every licence bound to one.
 */

import { createHash } from 'node:crypto';
import type { VmContext } from './types.js';

export const DERIVED_SERIAL_LENGTH = 20;

export interface DerivedSerial {
  /** 20 upper-case hex characters */
  serial: string;
  basis: 'smbios-uuid' | 'vmid';
  /** set when the fallback was used */
  warning?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The uuid in canonical lower case, or undefined when absent or not uuid-shaped. */
export function normalizeUuid(uuid: string | undefined): string | undefined {
  if (uuid === undefined) return undefined;
  const u = uuid.trim().toLowerCase();
  return UUID.test(u) ? u : undefined;
}

function hashToSerial(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('hex').slice(0, DERIVED_SERIAL_LENGTH).toUpperCase();
}

export function deriveSerial(ctx: Pick<VmContext, 'vmid' | 'smbiosUuid'>): DerivedSerial {
  const uuid = normalizeUuid(ctx.smbiosUuid);
  if (uuid !== undefined) {
    return { serial: hashToSerial(`pve-usb-gadget/serial/v1/smbios1-uuid/${uuid}`), basis: 'smbios-uuid' };
  }
  const serial = hashToSerial(`pve-usb-gadget/serial/v1/vmid/${ctx.vmid}`);
  const why = ctx.smbiosUuid === undefined ? 'has no smbios1 uuid' : 'has an smbios1 uuid that is not a uuid';
  return {
    serial,
    basis: 'vmid',
    warning:
      `serial ${serial} is derived from vmid ${ctx.vmid} because the VM ${why}: it changes if the VM ` +
      `is restored or cloned under another id; add "serial = ${serial}" to the notes to pin it`,
  };
}
