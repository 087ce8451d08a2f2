/** doctor: the checks that ask the Proxmox API (token, privileges, enabled VMs, their mappings). */
import { imageArg } from '../hook/identity-check.js';
import { smbiosUuid } from '../hook/vm-source.js';
import { unraidGuid } from '../spec/guid.js';
import { usbLinesForMapping } from '../proxmox/local-config.js';
import { mappingName, parseMapEntry } from '../proxmox/mapping.js';
import type { Settings } from '../settings/types.js';
import { usbId } from '../spec/types.js';
import { checkVmStorage, type ClusterKnown, type StorageCheckApi } from '../storage/cluster-checks.js';
import { validateNotes } from '../spec/validate.js';
import type { AdminApi } from './admin-deps.js';
import type { CheckResult } from './doctor-result.js';
import { copiedLineChecks, guidCollisions, type VmIdentity } from './doctor-identity.js';
import { errorText } from './doctor-host.js';
import { isOurHookscript } from './hookscript.js';
import { aclPaths, hasMappingUse, mappingAclPath, missingPrivileges, ROLES } from './privileges.js';
import type { RootVmTool } from './qm.js';

type Api = Pick<AdminApi, 'version' | 'getPermissions' | 'listVms' | 'getVmConfig' | 'listUsbMappings'> & StorageCheckApi;

export async function checkToken(api: Api, settings: Settings): Promise<CheckResult[]> {
  try {
    const v = await api.version();
    const byPath: Record<string, Record<string, number> | undefined> = {};
    for (const p of aclPaths()) byPath[p] = (await api.getPermissions(p))[p];
    const missing = missingPrivileges(byPath);
    const token = settings.api?.tokenId ?? '?';
    const first: CheckResult = { check: 'API token', status: 'ok', detail: `${token} works (Proxmox VE ${v.version})` };
    // the role of releases before the per-mapping grants, or a grant by hand: any mapped real USB device
    const broad: CheckResult[] = hasMappingUse(byPath, '/mapping/usb')
      ? [{ check: 'token privileges', status: 'warn', detail: 'has Mapping.Use on all of /mapping/usb: it could pass any mapped USB device (real ones too) to a VM', fix: `run install.sh again (the role ${ROLES.main} loses Mapping.Use; each enabled VM's own mapping gets ${ROLES.use}), or remove the grant that gives it` }]
      : [];
    if (missing.length === 0) return [first, { check: 'token privileges', status: 'ok', detail: 'has every privilege it needs' }, ...broad];
    return [
      first,
      {
        check: 'token privileges',
        status: 'fail',
        detail: `lacks ${missing.map((m) => `${m.privilege} on ${m.aclPath}`).join(', ')}`,
        fix: 'run install.sh again (it sets the role and ACLs), or pveum acl modify <path> --tokens <token> --roles <role>',
      },
      ...broad,
    ];
  } catch (err) {
    return [{ check: 'API token', status: 'fail', ...errorText(err) }];
  }
}

export interface EnabledVm {
  vmid: number;
  node: string;
  usbId: string;
  usbLines: string[];
  /** the unRAID licence GUID of its stick */
  guid?: string;
}

/**
 * Every VM whose notes configure a stick, with one line each: its usbN line, this node's mapping entry,
 * and (for VMs on this node) the hookscript; then VID:PID shared by two VMs.
 */
export async function checkEnabledVms(api: Api, settings: Settings, qm: RootVmTool | undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const enabled: EnabledVm[] = [];
  const identities: VmIdentity[] = [];
  const copied: { vmid: number; config: Record<string, string | number | undefined>; image: string }[] = [];
  const vmids = new Set<number>();
  let mappings: { id: string; map: string[] }[];
  // read once for all VMs' placement lines
  const known: ClusterKnown = {};
  try {
    mappings = await api.listUsbMappings();
    known.mappings = mappings;
    const vms = await api.listVms();
    for (const vm of vms) vmids.add(vm.vmid);
    for (const vm of vms) {
      if (vm.template) continue;
      const { config } = await api.getVmConfig(vm.node, vm.vmid);
      const notes = config.description === undefined ? '' : String(config.description);
      const r = validateNotes(notes, { vmid: vm.vmid, smbiosUuid: smbiosUuid(config.smbios1 === undefined ? undefined : String(config.smbios1)), defaultSpeed: settings.defaultSpeed });
      // a clone's copied usbN line matters with or without a section (it passes another VM's stick through)
      copied.push({ vmid: vm.vmid, config, image: r.kind === 'ok' ? imageArg(r.spec) : '<image>' });
      if (r.kind === 'none') continue;
      const check = `VM ${vm.vmid}`;
      if (r.kind === 'invalid') {
        results.push({ check, status: 'fail', detail: `invalid [usb-gadget] notes (${r.problems.length} problem(s))`, fix: `pve-usb-gadget validate ${vm.vmid}` });
        continue;
      }
      const e: EnabledVm = { vmid: vm.vmid, node: vm.node, usbId: usbId(r.spec), usbLines: usbLinesForMapping(config, mappingName(vm.vmid)), guid: unraidGuid(r.spec) };
      enabled.push(e);
      identities.push({ vmid: vm.vmid, guid: unraidGuid(r.spec), image: imageArg(r.spec) });
      const hookscript = qm && vm.node === settings.node ? (await qm.config(vm.vmid)).hookscript : undefined;
      results.push(vmLine(e, settings.node, mappings, qm && vm.node === settings.node ? hookscript ?? '' : undefined));
      results.push(...(await mappingUseLine(api, vm.vmid)));
      results.push(...(await placementLines(api, e, r.spec.luns, known)));
    }
  } catch (err) {
    return [...results, { check: 'enabled VMs', status: 'fail', ...errorText(err) }];
  }
  if (enabled.length === 0) results.push({ check: 'enabled VMs', status: 'ok', detail: 'no VM has a [usb-gadget] section yet' });
  for (const c of copied) results.push(...copiedLineChecks(c.vmid, c.config, vmids, c.image));
  results.push(...usbIdCollisions(enabled));
  results.push(...guidCollisions(identities));
  return results;
}

/**
 * The token's Mapping.Use on the VM's own mapping (granted by enable): without it enable, disable and
 * the hook's helper cannot write the VM's usbN line through the API. A start with the line works anyway.
 */
async function mappingUseLine(api: Pick<Api, 'getPermissions'>, vmid: number): Promise<CheckResult[]> {
  const path = mappingAclPath(mappingName(vmid));
  if (hasMappingUse(await api.getPermissions(path), path)) return [];
  return [{ check: `VM ${vmid}`, status: 'warn', detail: `the API token lacks Mapping.Use on ${path}: its usbN line cannot be added or removed through the API`, fix: `pve-usb-gadget enable ${vmid} --image <image> (as root: it grants it)` }];
}

/**
 * Where the stick can be built in the cluster (storage visible and raw on which nodes, mapping entries
 * for an offline migration). A failure here is one warning for this VM, never the end of doctor.
 */
async function placementLines(api: StorageCheckApi, vm: EnabledVm, luns: readonly { index: number; image: string }[], known: ClusterKnown): Promise<CheckResult[]> {
  try {
    known.clusterNodes ??= (await api.listNodes()).map((n) => n.node);
    return await checkVmStorage(api, { vmid: vm.vmid, node: vm.node, usbId: vm.usbId, luns }, known);
  } catch (err) {
    return [{ check: `VM ${vm.vmid} placement`, status: 'warn', detail: `not checked: ${errorText(err).detail}` }];
  }
}

/** `hookscript`: the VM's value on this node ('' = none), undefined when not checked (VM elsewhere). */
export function vmLine(vm: EnabledVm, node: string, mappings: readonly { id: string; map: string[] }[], hookscript: string | undefined): CheckResult {
  const check = `VM ${vm.vmid}`;
  const name = mappingName(vm.vmid);
  const enable = `pve-usb-gadget enable ${vm.vmid} --image <image>`;
  if (vm.usbLines.length === 0) return { check, status: 'fail', detail: `no usbN: mapping=${name} line: the VM would not see its stick`, fix: enable };
  if (hookscript !== undefined && !isOurHookscript(hookscript)) {
    return { check, status: 'fail', detail: hookscript ? `hookscript is ${hookscript}, not the pve-usb-gadget hook` : 'no hookscript: no stick is built at start', fix: enable };
  }
  const entries = (mappings.find((m) => m.id === name)?.map ?? []).map(parseMapEntry).filter((e) => e?.node === node);
  if (entries.length > 1) return { check, status: 'fail', detail: `mapping ${name} has ${entries.length} entries for ${node}; Proxmox VE allows one`, fix: `delete all but one in Datacenter > Resource Mappings, or delete ${name} (pre-start recreates it)` };
  const entry = entries[0];
  const where = `${vm.usbLines.join(', ')} on ${vm.node}`;
  if (!entry) return { check, status: 'warn', detail: `${vm.usbId}${vm.guid ? ` (unRAID GUID ${vm.guid})` : ''}, ${where}; mapping ${name} has no entry for ${node} yet: pre-start adds it when the VM starts here` };
  if (entry.id?.toLowerCase() !== vm.usbId) return { check, status: 'warn', detail: `mapping ${name} points ${node} at ${entry.id}, the notes say ${vm.usbId}: pre-start updates it at the next start here` };
  const guid = vm.guid ? ` (unRAID GUID ${vm.guid})` : '';
  return { check, status: 'ok', detail: `${vm.usbId}${guid}, ${where}, mapping ${name} ready on ${node}` };
}

export function usbIdCollisions(vms: readonly EnabledVm[]): CheckResult[] {
  const byId = new Map<string, number[]>();
  for (const vm of vms) byId.set(vm.usbId, [...(byId.get(vm.usbId) ?? []), vm.vmid]);
  return [...byId]
    .filter(([, ids]) => ids.length > 1)
    .map(([id, ids]) => ({
      check: 'VID:PID collision',
      status: 'warn' as const,
      detail: `VMs ${ids.join(', ')} all use ${id}: only one of them can run on a node at a time`,
      fix: 'give each VM its own product_id (pve-usb-gadget enable <vmid> --image <image> --product-id 0x....)',
    }));
}
