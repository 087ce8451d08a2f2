/**
 * Mapping.Use for the API token on one VM's own mapping only (/mapping/usb/usb-gadget-<vmid>), granted
 * and removed as root with pveum: the token may not change ACLs itself (no Permissions.Modify, by
 * design). A privilege-separated token has the intersection of its own ACLs and its user's
 * (pve-access-control PVE::RPCEnvironment), so the user and the token are named together.
 * Deleting a role or removing a token leaves the ACL lines naming it in user.cfg (API2/Role.pm "fixme:
 * delete role from acl?", API2/User.pm remove_token); PVE only ignores them when it parses the file
 * (AccessControl.pm parse_user_config). Uninstall removes ours explicitly, listed by `pveum acl list`.
 */
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { mappingName, vmidOfMapping } from '../proxmox/mapping.js';
import { parseTokenId } from '../values/proxmox-ids.js';
import { mappingAclPath, ROLES } from './privileges.js';
import { pveumRows } from './pveum-json.js';

/** Only VMs' own mappings (usb-gadget-<vmid>) are ever named: the path is built here from the vmid. */
export interface MappingAclTool {
  /** the token the grants are for (USER@REALM!TOKENID) */
  readonly tokenId: string;
  grant(vmid: number): Promise<void>;
  revoke(vmid: number): Promise<void>;
  /** the VMs whose mapping the token has the use role on */
  granted(): Promise<number[]>;
}

/** The vmid of a per-mapping ACL path of ours, or undefined. */
function vmidOfAclPath(path: string): number | undefined {
  const prefix = mappingAclPath('');
  if (!path.startsWith(prefix)) return undefined;
  const vmid = vmidOfMapping(path.slice(prefix.length));
  return vmid !== undefined && mappingAclPath(mappingName(vmid)) === path ? vmid : undefined;
}

/** The VMs whose mapping the token has the use role on, from `pveum acl list` JSON (API2/ACL.pm read_acl rows). */
export function grantedVmids(json: string, tokenId: string): number[] {
  const out = new Set<number>();
  for (const r of pveumRows(json, 'acl list')) {
    if (r.type !== 'token' || r.ugid !== tokenId || r.roleid !== ROLES.use || typeof r.path !== 'string') continue;
    const vmid = vmidOfAclPath(r.path);
    if (vmid !== undefined) out.add(vmid);
  }
  return [...out].sort((a, b) => a - b);
}

export function pveumAclTool(exec: Exec, tokenId: string, pveum = 'pveum'): MappingAclTool {
  const parsed = parseTokenId(tokenId);
  if (!parsed.ok) throw new CommandError(`api.token_id '${tokenId}' is not USER@REALM!TOKENID`, { fix: 'run install.sh again' });
  const user = tokenId.slice(0, tokenId.indexOf('!'));
  const run = async (args: string[]) => {
    const r = await exec(pveum, args, { timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
      throw new CommandError(`pveum ${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`, {
        fix: `run pve-usb-gadget as root on a Proxmox VE node; if the role ${ROLES.use} does not exist yet, run install.sh again (it creates it)`,
      });
    }
    return r.stdout;
  };
  const change = async (cmd: 'modify' | 'delete', vmid: number) => {
    await run(['acl', cmd, mappingAclPath(mappingName(vmid)), '--users', user, '--tokens', tokenId, '--roles', ROLES.use]);
  };
  return {
    tokenId,
    grant: (vmid) => change('modify', vmid),
    revoke: (vmid) => change('delete', vmid),
    granted: async () => grantedVmids(await run(['acl', 'list', '--output-format', 'json']), tokenId),
  };
}

/**
 * install.sh (`setup mapping-acls`): every VM mapping of ours gets the grant, and grants whose mapping
 * is gone are removed. This is how a node installed before the per-mapping grants keeps its enabled VMs
 * working once the main role loses Mapping.Use. `remove` (uninstall): every grant goes.
 */
export async function syncMappingAcls(
  deps: { api: { listUsbMappings(): Promise<{ id: string }[]> }; acl: MappingAclTool },
  opts: { remove?: boolean } = {},
): Promise<string[]> {
  const granted = await deps.acl.granted();
  const wanted = new Set<number>();
  if (!opts.remove) {
    for (const m of await deps.api.listUsbMappings()) {
      const vmid = vmidOfMapping(m.id);
      if (vmid !== undefined && mappingName(vmid) === m.id) wanted.add(vmid);
    }
  }
  const changes: string[] = [];
  for (const vmid of [...wanted].filter((v) => !granted.includes(v)).sort((a, b) => a - b)) {
    await deps.acl.grant(vmid);
    changes.push(`granted ${deps.acl.tokenId} Mapping.Use on ${mappingAclPath(mappingName(vmid))}`);
  }
  for (const vmid of granted.filter((v) => !wanted.has(v))) {
    await deps.acl.revoke(vmid);
    changes.push(`removed Mapping.Use on ${mappingAclPath(mappingName(vmid))}${opts.remove ? '' : ' (its mapping is gone)'}`);
  }
  return changes;
}
