/**
 * `pve-usb-gadget disable <vmid>`: undo what enable added, and only that: the [usb-gadget] part of the
 * notes (the rest of the notes stays), the usbN lines using usb-gadget-<vmid>, that device in the boot
 * order, the mapping, the token's Mapping.Use on it, and the hookscript when it is ours. The image file
 * stays. Idempotent.
 */
import { GadgetError } from '../errors.js';
import { mappingName } from '../proxmox/mapping.js';
import { usbLinesForMapping } from '../proxmox/local-config.js';
import type { AdminDeps } from './admin-deps.js';
import { isOurHookscript } from './hookscript.js';
import { removeGadgetSection } from './notes-edit.js';
import { mappingAclPath } from './privileges.js';
import { bootOrderWithout } from './usb-slot.js';

export interface DisableResult {
  changes: string[];
}

export async function disableVm(deps: AdminDeps, vmid: number, opts: { hookscript: string }): Promise<DisableResult> {
  const { api, qm, settings } = deps;
  const node = settings.node;
  const name = mappingName(vmid);
  const [{ config, digest }, status, root, mapping, granted] = await Promise.all([
    api.getVmConfig(node, vmid),
    api.getVmStatus(node, vmid),
    qm.config(vmid),
    api.getUsbMapping(name),
    deps.acl.granted(),
  ]);
  const hasGrant = granted.includes(vmid);
  const notes = config.description === undefined ? '' : String(config.description);
  const newNotes = removeGadgetSection(notes);
  const usbKeys = usbLinesForMapping(config, name);

  const set: Record<string, string> = {};
  // removing a usbN line needs Mapping.Use on its mapping (qemu-server check_usb_perm): without the
  // grant (never enabled, or granted by hand elsewhere) root removes it
  const del: string[] = hasGrant ? [...usbKeys] : [];
  const usbText = usbKeys.map((k) => `removed ${k}: ${String(config[k])}`);
  const apiText = hasGrant ? [...usbText] : [];
  if (newNotes !== notes) {
    if (newNotes.trim() === '') del.push('description');
    else set.description = newNotes;
    apiText.unshift('removed the [usb-gadget] section from the notes');
  }
  const rootSet: Record<string, string> = {};
  const rootDel: string[] = hasGrant ? [] : [...usbKeys];
  const rootText: string[] = hasGrant ? [] : [...usbText];
  const boot = bootOrderWithout(root, usbKeys);
  if (boot && 'set' in boot) rootSet.boot = boot.set;
  if (boot && 'delete' in boot) rootDel.push('boot');
  if (boot) rootText.push('set' in boot ? `boot ${boot.set}` : 'boot order back to the default');
  const hookscript = root.hookscript;
  if (hookscript !== undefined && (hookscript === opts.hookscript || isOurHookscript(hookscript))) {
    rootDel.push('hookscript');
    rootText.push(`removed hookscript ${hookscript}`);
  }
  const aclText = hasGrant ? [`removed Mapping.Use on ${mappingAclPath(name)} for ${deps.acl.tokenId}`] : [];
  const planned = [...apiText, ...rootText, ...(mapping ? [`removed USB mapping ${name}`] : []), ...aclText];

  if (status.status === 'running' && planned.length > 0) {
    throw new GadgetError(
      `VM ${vmid} is running: its stick stays until the VM stops, and only the hookscript's post-stop removes it`,
      { fix: 'shut the VM down first, then run disable again' },
    );
  }

  const changes: string[] = [];
  if (Object.keys(set).length > 0 || del.length > 0) {
    await api.updateVmConfig(node, vmid, set, { delete: del, digest });
    changes.push(...apiText);
  }
  if (Object.keys(rootSet).length > 0 || rootDel.length > 0) {
    await qm.set(vmid, rootSet, rootDel);
    changes.push(...rootText);
  }
  if (mapping) {
    await api.deleteUsbMapping(name);
    changes.push(`removed USB mapping ${name}`);
  }
  if (hasGrant) {
    // last: the usbN lines above needed it
    await deps.acl.revoke(vmid);
    changes.push(...aclText);
  }
  for (const c of changes) deps.print(`VM ${vmid}: ${c}`);
  deps.print(changes.length > 0 ? `VM ${vmid}: disabled; its image files are kept` : `VM ${vmid}: nothing to remove`);
  return { changes };
}
