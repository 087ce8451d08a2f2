/**
 * A VM snapshot name, by Proxmox's own rule, so `pve-usb-gadget snapshot` accepts exactly the names
 * `qm snapshot` accepts and refuses the rest before anything is copied:
 *  - pve-common src/PVE/JSONSchema.pm, register_standard_option('pve-snapshot-name'): format
 *    'pve-configid', maxLength 40; pve_verify_configid matches the whole name against
 *    $CONFIGID_RE = qr/[a-z][a-z0-9_-]+/i (so at least two characters, a letter first);
 *  - qemu-server src/PVE/API2/Qemu.pm, method 'snapshot': 'current' is reserved (`eq`, case matters)
 *    and so is 'pending' in any case (`lc($snapname) eq 'pending'`: the config's [PENDING] section).
 * The name also names a folder of ours (src/snapshot/names.ts): these characters are safe there.
 */
import { fail, ok, type Parsed } from './parsed.js';

export const SNAPSHOT_NAME = /^[a-z][a-z0-9_-]+$/i;
export const SNAPSHOT_NAME_MAX = 40;

export function parseSnapshotName(raw: string): Parsed<string> {
  if (raw.length > SNAPSHOT_NAME_MAX || !SNAPSHOT_NAME.test(raw)) {
    return fail(`must be 2 to ${SNAPSHOT_NAME_MAX} characters: a letter first, then letters, digits, "-" or "_" (Proxmox's pve-snapshot-name)`);
  }
  if (raw === 'current') return fail("'current' is reserved by Proxmox (it means the VM as it is now)");
  if (raw.toLowerCase() === 'pending') return fail("'pending' is reserved by Proxmox (the config's [PENDING] section)");
  return ok(raw);
}
