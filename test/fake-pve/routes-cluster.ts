/**
 * /version, /nodes, /cluster/resources, /cluster/mapping/usb[/{id}] (pve-manager
 * PVE/API2/Cluster/Mapping/USB.pm, pve-guest-common PVE/Mapping/USB.pm) and /access/permissions.
 */
import { normalizeAclPath } from './cluster.js';
import { effectiveConfig } from './routes-qemu.js';
import { die, permissionDenied } from './pve-error.js';
import { CONFIG_ID_SPEC, NODE_SPEC, str, type ParamSpec, type Params } from './params.js';
import { anyUser, type Ctx, type Route } from './route.js';

export interface VersionInfo {
  version: string;
  release: string;
  repoid: string;
}

const MAP_PRIVS = ['Mapping.Modify', 'Mapping.Use', 'Mapping.Audit'];

/** One map entry against $map_fmt: node (pve-node), id (VID:PID), optional path and description. */
export function mapEntryError(entry: string): string | undefined {
  const seen = new Set<string>();
  const errs: string[] = [];
  for (const part of entry.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return 'invalid format - value without key, but schema does not define a default key\n';
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    seen.add(k);
    if (k === 'node' && !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v)) errs.push(`${k}: invalid format - value does not look like a valid node name`);
    else if (k === 'id' && !/^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$/.test(v)) errs.push(`${k}: value does not match the regex pattern`);
    else if (k === 'path' && !/^\d+-\d+(\.\d+)*$/.test(v)) errs.push(`${k}: value does not match the regex pattern`);
    else if (k === 'description' && v.length > 4096) errs.push(`${k}: value may only be 4096 characters long`);
    else if (!['node', 'id', 'path', 'description'].includes(k)) errs.push(`${k}: property is not defined in schema and the schema does not allow additional properties`);
  }
  for (const k of ['node', 'id']) if (!seen.has(k)) errs.push(`${k}: property is missing and it is not optional`);
  return errs.length ? `invalid format - format error\n${errs.join('\n')}\n` : undefined;
}

const MAP_SPEC: ParamSpec = { type: 'array', items: mapEntryError };
const DESCRIPTION_SPEC: ParamSpec = { optional: true, maxLength: 4096 };

function listMappings(c: Ctx): unknown {
  const digest = c.cluster.mappingsDigest();
  const out: unknown[] = [];
  for (const [id, m] of c.cluster.mappings) {
    if (!MAP_PRIVS.some((p) => c.cluster.has(c.authId, `/mapping/usb/${id}`, p))) continue;
    out.push({ id, type: 'usb', map: [...m.map], digest, ...(m.description !== undefined ? { description: m.description } : {}) });
  }
  return out;
}

function getMapping(c: Ctx): unknown {
  const id = str(c.params, 'id') ?? '';
  const m = c.cluster.mappings.get(id);
  if (!m) throw die(`mapping '${id}' not found`);
  return { type: 'usb', map: [...m.map], digest: c.cluster.mappingsDigest(), ...(m.description !== undefined ? { description: m.description } : {}) };
}

function list(p: Params, key: string): string[] {
  const v = p[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function createMapping(c: Ctx): null {
  const id = str(c.params, 'id') ?? '';
  if (c.cluster.mappings.has(id)) throw die(`create hardware mapping failed: usb ID '${id}' already defined`);
  const description = str(c.params, 'description');
  c.cluster.mappings.set(id, { map: list(c.params, 'map'), ...(description !== undefined ? { description } : {}) });
  return null;
}

function updateMapping(c: Ctx): null {
  const id = str(c.params, 'id') ?? '';
  const fail = (msg: string) => die(`update hardware mapping failed: ${msg}`);
  const digest = str(c.params, 'digest');
  if (digest !== undefined && digest !== '' && digest !== c.cluster.mappingsDigest()) {
    throw fail('detected modified configuration - file changed by other user? Try again.');
  }
  const m = c.cluster.mappings.get(id);
  if (!m) throw fail(`usb ID '${id}' does not exist`);
  const description = str(c.params, 'description');
  for (const k of (str(c.params, 'delete') ?? '').split(/[,;\s]+/).filter(Boolean)) {
    if (k === 'map') throw fail("unable to delete required option 'map'");
    if (k !== 'description') throw fail(`no such option '${k}'`);
    if (description !== undefined) throw fail(`cannot set and delete property '${k}' at the same time!`);
    delete m.description;
  }
  if (c.params.map !== undefined) m.map = list(c.params, 'map');
  if (description !== undefined) m.description = description;
  return null;
}

function resources(c: Ctx): unknown {
  const type = str(c.params, 'type');
  const out: unknown[] = [];
  if (!type || type === 'vm') {
    for (const vm of [...c.cluster.vms.values()].sort((a, b) => a.vmid - b.vmid)) {
      if (!c.cluster.has(c.authId, `/vms/${vm.vmid}`, 'VM.Audit')) continue;
      const conf = effectiveConfig(vm);
      out.push({
        id: `qemu/${vm.vmid}`,
        type: 'qemu',
        vmid: vm.vmid,
        node: vm.node,
        status: vm.status,
        name: conf.name ?? `VM ${vm.vmid}`,
        template: conf.template === 1 ? 1 : 0,
        ...(conf.lock !== undefined ? { lock: conf.lock } : {}),
        ...(conf.tags !== undefined ? { tags: conf.tags } : {}),
      });
    }
  }
  if (!type || type === 'node') {
    for (const node of c.cluster.nodes) out.push({ id: `node/${node}`, type: 'node', node, status: 'online' });
  }
  return out;
}

function permissions(c: Ctx): unknown {
  const userid = str(c.params, 'userid') ?? c.authId;
  if (userid !== c.authId) c.cluster.check(c.authId, '/access', ['Sys.Audit']);
  const render = (path: string) => {
    const privs: Record<string, number> = {};
    for (const p of [...c.cluster.privileges(userid, path)].sort()) privs[p] = 1;
    return privs;
  };
  const path = str(c.params, 'path');
  if (path) {
    const privs = render(normalizeAclPath(path));
    return Object.keys(privs).length ? { [path]: privs } : {};
  }
  const out: Record<string, Record<string, number>> = {};
  for (const p of c.cluster.aclPaths(userid)) {
    const privs = render(p);
    if (Object.keys(privs).length) out[p] = privs;
  }
  return out;
}

export function clusterRoutes(version: VersionInfo): Route[] {
  const mappingRead = (c: Ctx) => {
    const id = str(c.params, 'id') ?? '';
    if (!MAP_PRIVS.some((p) => c.cluster.has(c.authId, `/mapping/usb/${id}`, p))) throw permissionDenied();
  };
  return [
    { method: 'GET', path: '/version', perm: anyUser, schema: {}, handler: () => ({ ...version }) },
    {
      method: 'GET',
      path: '/nodes',
      perm: anyUser,
      schema: {},
      handler: (c) =>
        c.cluster.nodes.map((node) => ({
          id: `node/${node}`,
          node,
          type: 'node',
          status: 'online',
          ...(c.cluster.has(c.authId, `/nodes/${node}`, 'Sys.Audit') ? { maxcpu: 2, maxmem: 8 * 2 ** 30, uptime: 3600 } : {}),
        })),
    },
    {
      method: 'GET',
      path: '/cluster/resources',
      perm: anyUser,
      schema: { type: { optional: true, enum: ['vm', 'storage', 'node', 'sdn'] } },
      handler: resources,
    },
    {
      method: 'GET',
      path: '/cluster/mapping/usb',
      perm: anyUser,
      schema: { 'check-node': { ...NODE_SPEC, optional: true } },
      handler: listMappings,
    },
    {
      method: 'POST',
      path: '/cluster/mapping/usb',
      perm: (c) => c.cluster.check(c.authId, '/mapping/usb', ['Mapping.Modify']),
      schema: { id: CONFIG_ID_SPEC, map: MAP_SPEC, description: DESCRIPTION_SPEC },
      handler: createMapping,
    },
    { method: 'GET', path: '/cluster/mapping/usb/{id}', perm: mappingRead, schema: { id: CONFIG_ID_SPEC }, handler: getMapping },
    {
      method: 'PUT',
      path: '/cluster/mapping/usb/{id}',
      perm: (c) => c.cluster.check(c.authId, `/mapping/usb/${str(c.params, 'id')}`, ['Mapping.Modify']),
      schema: {
        id: CONFIG_ID_SPEC,
        map: MAP_SPEC,
        description: DESCRIPTION_SPEC,
        digest: { optional: true, maxLength: 64 },
        delete: { optional: true },
      },
      handler: updateMapping,
    },
    {
      method: 'DELETE',
      path: '/cluster/mapping/usb/{id}',
      perm: (c) => c.cluster.check(c.authId, '/mapping/usb', ['Mapping.Modify']),
      schema: { id: CONFIG_ID_SPEC },
      handler: (c) => {
        c.cluster.mappings.delete(str(c.params, 'id') ?? '');
        return null;
      },
    },
    {
      method: 'GET',
      path: '/access/permissions',
      perm: anyUser,
      schema: { userid: { optional: true }, path: { optional: true } },
      handler: permissions,
    },
  ];
}
