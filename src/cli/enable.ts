/**
 * `pve-usb-gadget enable <vmid> --image PATH ...`: everything a VM needs to get its stick at the next
 * start. Reads first, decides every change, refuses before changing anything, then applies:
 *   1. Mapping.Use for the API token on its mapping only (pveum as root: mapping-acl.ts), before the
 *      usbN line that needs it (qemu-server check_usb_perm)
 *   2. the USB mapping usb-gadget-<vmid> with this node's entry, and one for each other node that can
 *      build the stick (its images on shared storage), so Proxmox allows offline migrations there
 *   3. the [usb-gadget] section in the notes and a usbN: mapping=... line (API, one PUT with the digest
 *      read in step 0, so a concurrent edit of the notes makes it fail instead of being overwritten)
 *   4. hookscript, with --boot the boot order, and a usbN line that replaces another VM's (qm set as
 *      root: see privileges.ts; qemu-server checks Mapping.Use on the old line's mapping too)
 * Running it again with the same options changes nothing.
 */
import { GadgetError, NotesError } from '../errors.js';
import { imageContext } from '../host/image-facts.js';
import { checkImage } from '../host/image-policy.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import { guidOfVm } from '../hook/identity-check.js';
import { smbiosUuid } from '../hook/vm-source.js';
import { ensureMapping, mappingName, parseMapEntry, vmidOfMapping, withNodeEntry } from '../proxmox/mapping.js';
import { lunLocations, placement } from '../storage/placement.js';
import { lunImageKey } from '../storage/resolve.js';
import { readStorageConfig } from '../storage/storage-config.js';
import { NEW_GUID_COST, unraidGuid } from '../spec/guid.js';
import { guidWarnings } from '../spec/guid-advice.js';
import { usbId, type GadgetSpec } from '../spec/types.js';
import { validateNotes } from '../spec/validate.js';
import type { AdminDeps } from './admin-deps.js';
import { isOurHookscript } from './hookscript.js';
import { mappingAclPath } from './privileges.js';
import { identityKeys, randomSerial } from './enable-identity.js';
import { setGadgetKeys } from './notes-edit.js';
import { bootOrderWithFirst, chooseUsbSlot } from './usb-slot.js';

export interface EnableOptions {
  image: string;
  vendorId?: string;
  productId?: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  inquiry?: string;
  speed?: string;
  /** fresh vendor_id/product_id/serial even when the notes have them (a clone): a new unRAID GUID */
  newIdentity?: boolean;
  /** put the stick first in the boot order */
  boot?: boolean;
  /** hookscript volume id to set, e.g. local:snippets/pve-usb-gadget-hook.cjs */
  hookscript: string;
}

export interface EnableResult {
  /** one line per change made; empty when everything was in place already */
  changes: string[];
  serial: string;
  /** the unRAID licence GUID of the stick (spec/guid.ts) */
  guid: string;
  usbKey: string;
  mapping: string;
  usbId: string;
}

export { randomSerial };

/** The option → notes key pairs enable writes (only the options given; the GUID keys: enable-identity.ts). */
function keysFromOptions(o: EnableOptions): Map<string, string> {
  const pairs: [string, string | undefined][] = [
    ['image', o.image],
    ['manufacturer', o.manufacturer],
    ['product', o.product],
    ['inquiry', o.inquiry],
    ['speed', o.speed],
  ];
  return new Map(pairs.filter((p): p is [string, string] => p[1] !== undefined));
}

export async function enableVm(deps: AdminDeps, vmid: number, opts: EnableOptions): Promise<EnableResult> {
  const { api, qm, settings } = deps;
  const node = settings.node;
  const name = mappingName(vmid);
  const [{ config, digest }, status, root, version, granted] = await Promise.all([
    api.getVmConfig(node, vmid),
    api.getVmStatus(node, vmid),
    qm.config(vmid),
    api.version(),
    deps.acl.granted(),
  ]);
  const notes = config.description === undefined ? '' : String(config.description);
  const uuid = smbiosUuid(config.smbios1 === undefined ? undefined : String(config.smbios1));

  const keys = keysFromOptions(opts);
  for (const [k, v] of identityKeys(notes, vmid, uuid, opts, deps.randomSerial ?? randomSerial)) keys.set(k, v);
  const before = validateNotes(notes, { vmid, smbiosUuid: uuid, defaultSpeed: settings.defaultSpeed });
  let newNotes: string;
  try {
    newNotes = setGadgetKeys(notes, keys);
  } catch (err) {
    throw new GadgetError(`cannot write that value into the notes: ${(err as Error).message}`, { fix: 'leave out double quotes and line breaks' });
  }
  const result = validateNotes(newNotes, { vmid, smbiosUuid: uuid, defaultSpeed: settings.defaultSpeed });
  if (result.kind === 'invalid') throw new NotesError(result.problems);
  if (result.kind !== 'ok') throw new GadgetError('the edited notes have no [usb-gadget] section', { fix: 'report this as a bug' });
  const spec = result.spec;
  checkImages(deps, vmid, spec);
  const id = usbId(spec);
  const guid = unraidGuid(spec);
  const oldGuid = before.kind === 'ok' ? unraidGuid(before.spec) : undefined;

  const pveMajor = Number.parseInt(version.version, 10) || 8;
  const slot = chooseUsbSlot(config, name, pveMajor, vmid);
  if (slot.kind === 'full') {
    throw new GadgetError(`VM ${vmid} has no free usbN slot (usb0..usb${slot.max - 1} are taken)`, {
      fix: slot.modern ? 'remove a USB device from the VM' : 'remove a USB device, or use machine >= 7.1 with ostype l26 or Windows > 7 (14 slots)',
    });
  }
  const hookscript = root.hookscript;
  if (hookscript !== undefined && hookscript !== opts.hookscript && !isOurHookscript(hookscript)) {
    throw new GadgetError(`VM ${vmid} already has hookscript ${hookscript}; a VM can have only one`, {
      fix: `remove it (qm set ${vmid} --delete hookscript) or call it from your own script, then run enable again`,
    });
  }

  const mapping = await api.getUsbMapping(name);
  const mappingChange = !mapping || withNodeEntry(mapping.map, node, id).changed;
  const set: Record<string, string> = {};
  const setText: string[] = [];
  if (newNotes !== notes) {
    set.description = newNotes;
    setText.push(`[usb-gadget] section in the notes (image ${spec.luns[0]?.image}, ${id}, serial ${spec.serial})`);
  }
  const rootSet: Record<string, string> = {};
  const usbText: string[] = [];
  if (slot.kind === 'free') {
    set[slot.key] = `mapping=${name}`;
    setText.push(`${slot.key}: mapping=${name}`);
  } else if (slot.kind === 'foreign') {
    // the token has Mapping.Use on no other VM's mapping, and replacing a line needs it on the old one
    rootSet[slot.key] = `mapping=${name}`;
    usbText.push(`${slot.key}: mapping=${name} (was ${slot.was}: another VM's stick, copied by a clone or restore)`);
  }
  if (hookscript !== opts.hookscript) rootSet.hookscript = opts.hookscript;
  if (opts.boot) {
    const boot = bootOrderWithFirst({ ...config, [slot.key]: `mapping=${name}` }, slot.key);
    if (boot !== undefined) rootSet.boot = boot;
  }
  const rootText = [...usbText, ...Object.entries(rootSet).filter(([k]) => k !== slot.key).map(([k, v]) => `${k} ${v}`)];
  const aclText = granted.includes(vmid) ? [] : [`Mapping.Use on ${mappingAclPath(name)} for ${deps.acl.tokenId}`];
  const planned = [...(mappingChange ? [`USB mapping ${name}: ${node} -> ${id}`] : []), ...setText, ...rootText];

  if (status.status === 'running' && planned.length > 0) {
    throw new GadgetError(
      `VM ${vmid} is running: its stick is built by the hook when the VM starts, so these changes would not apply now (${planned.join('; ')})`,
      { fix: `shut the VM down, run enable again, then start it` },
    );
  }
  warnSameUsbId(deps, vmid, id, await api.listUsbMappings());
  await warnSameGuid(deps, vmid, guid);

  const changes: string[] = [];
  // first: a pveum that fails (the role missing on a cluster whose install.sh is older) changes nothing
  // else; a grant on a path whose mapping does not exist yet is valid (pve-access-control check_path)
  if (aclText.length > 0) {
    await deps.acl.grant(vmid);
    changes.push(...aclText);
  }
  if (mappingChange) {
    const r = await ensureMapping(api, { vmid, node, usbId: id });
    changes.push(`USB mapping ${name}: ${r.action} (${node} -> ${id})`);
  }
  // Proxmox refuses an offline migration to a node the mapping has no entry for: give one to every other
  // node that can build this stick (shared storage), none to a node where the image is not.
  for (const other of await otherNodesForStick(deps, spec.luns)) {
    const r = await ensureMapping(api, { vmid, node: other, usbId: id });
    if (r.action !== 'unchanged') changes.push(`USB mapping ${name}: ${r.action} (${other} -> ${id}, for migrations)`);
  }
  if (Object.keys(set).length > 0) {
    await api.updateVmConfig(node, vmid, set, { digest });
    changes.push(...setText);
  }
  if (Object.keys(rootSet).length > 0) {
    await qm.set(vmid, rootSet);
    changes.push(...rootText);
  }
  for (const c of changes) deps.print(`VM ${vmid}: ${c}`);
  deps.print(`VM ${vmid}: unRAID GUID ${guid} (vendor_id, product_id and serial pinned in the notes)`);
  if (oldGuid !== undefined && oldGuid !== guid) deps.print(`VM ${vmid}: this is a new GUID (it was ${oldGuid}): ${NEW_GUID_COST}`);
  else if (oldGuid === undefined && opts.newIdentity) deps.print(`VM ${vmid}: this is a new GUID for unRAID: ${NEW_GUID_COST}`);
  for (const w of guidWarnings(spec, vmid)) deps.print(`warning: ${w}`);
  deps.print(changes.length > 0 ? `VM ${vmid}: enabled; the stick appears when the VM starts (qm start ${vmid})` : `VM ${vmid}: already enabled, nothing changed`);
  return { changes, serial: spec.serial, guid, usbKey: slot.key, mapping: name, usbId: id };
}

/** The image policy of this node, checked now rather than at the first start. */
function checkImages(deps: AdminDeps, vmid: number, spec: GadgetSpec): void {
  // what other sticks export now says nothing about the next start: that is pre-start's check
  const ctx = { ...imageContext(deps.fs, deps.settings, vmid), inUse: [] };
  for (const lun of spec.luns) {
    // volume ids (storage:volume) are checked by the hook's volume rules when it activates them
    if (looksLikeVolumeId(lun.image)) continue;
    checkImage(deps.fs, deps.settings, lunImageKey(lun.index), lun.image, lun.readonly, ctx);
  }
}

/** Cluster nodes other than this one where every LUN's image is reachable (placement.ts). */
async function otherNodesForStick(deps: AdminDeps, luns: readonly { index: number; image: string }[]): Promise<string[]> {
  const node = deps.settings.node;
  const clusterNodes = (await deps.api.listNodes()).map((n) => n.node);
  if (clusterNodes.length <= 1) return [];
  const where = placement(lunLocations(luns, readStorageConfig(deps.fs)), clusterNodes, node);
  return where.nodes.filter((n) => n !== node);
}

/** Two sticks with one VID:PID cannot be live on one node at once (pre-start refuses the second). */
function warnSameUsbId(deps: AdminDeps, vmid: number, id: string, mappings: readonly { id: string; map: string[] }[]): void {
  for (const m of mappings) {
    const other = vmidOfMapping(m.id);
    if (other === undefined || other === vmid) continue;
    if (m.map.some((e) => parseMapEntry(e)?.id?.toLowerCase() === id)) {
      deps.print(`warning: VM ${other} uses ${id} too: the two cannot run on the same node at once; give one another --product-id`);
    }
  }
}

/** pre-start refuses a GUID another VM has (hook/identity-check.ts): say so now, with the way out. */
async function warnSameGuid(deps: AdminDeps, vmid: number, guid: string): Promise<void> {
  for (const vm of await deps.api.listVms()) {
    if (vm.vmid === vmid || vm.template) continue;
    const { config } = await deps.api.getVmConfig(vm.node, vm.vmid);
    const description = config.description === undefined ? undefined : String(config.description);
    const options: Record<string, string> = config.smbios1 === undefined ? {} : { smbios1: String(config.smbios1) };
    if (guidOfVm({ vmid: vm.vmid, description, options }, deps.settings.defaultSpeed) === guid) {
      deps.print(`warning: VM ${vm.vmid} has unRAID GUID ${guid} too: neither starts while both have it; run enable again with --new-identity on the copy`);
    }
  }
}
