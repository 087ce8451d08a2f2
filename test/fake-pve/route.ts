/** Route table plumbing shared by the endpoint modules. */
import type { FakeCluster, VmState } from './cluster.js';
import { die, paramError } from './pve-error.js';
import type { ParamSpec, Params, Schema } from './params.js';

export interface FakeOptions {
  /** how long a config update waits for a held VM config lock (PVE: 10 s) */
  lockTimeoutMs: number;
}

export interface Ctx {
  cluster: FakeCluster;
  /** USER@REALM!TOKENID of the caller */
  authId: string;
  params: Params;
  opts: FakeOptions;
  /** timers to clear on close() */
  timers: Set<NodeJS.Timeout>;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** e.g. /nodes/{node}/qemu/{vmid}/config */
  path: string;
  /** proxyto => 'node': the {node} must resolve */
  proxyNode?: boolean;
  /** permission check, before parameter validation (as rest_handler does) */
  perm: (ctx: Ctx) => void;
  schema: Schema;
  /** schema of parameters not listed in `schema` (VM options on config updates) */
  extraParam?: (key: string) => ParamSpec | undefined;
  handler: (ctx: Ctx) => unknown;
}

export interface RouteMatch {
  route: Route;
  uriParams: Record<string, string>;
}

export function matchRoute(routes: Route[], method: string, relPath: string): RouteMatch | undefined {
  const segs = relPath.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const tpl = route.path.split('/').filter(Boolean);
    // "{name+}" as the last segment takes the rest of the path (PVE's fragmentDelimiter '', used for
    // volume ids, which contain "/")
    const rest = tpl[tpl.length - 1]?.endsWith('+}') ?? false;
    if (rest ? segs.length < tpl.length : tpl.length !== segs.length) continue;
    const uriParams: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < tpl.length && ok; i++) {
      const t = tpl[i] as string;
      const s = segs[i] as string;
      if (rest && i === tpl.length - 1) uriParams[t.slice(1, -2)] = segs.slice(i).join('/');
      else if (t.startsWith('{')) uriParams[t.slice(1, -1)] = s;
      else ok = t === s;
    }
    if (ok) return { route, uriParams };
  }
  return undefined;
}

/** rest_handler: URI parameters win, but a conflicting body/query value is a 400. */
export function mergeUriParams(params: Params, uriParams: Record<string, string>): Params {
  const out: Params = { ...params };
  for (const [k, v] of Object.entries(uriParams)) {
    const given = out[k];
    if (given !== undefined && given !== v) {
      throw paramError({ [k]: 'duplicate parameter (already defined in URI) with conflicting values!' });
    }
    out[k] = v;
  }
  return out;
}

export const anyUser = (): void => undefined;

export function resolveNode(cluster: FakeCluster, node: string): void {
  if (!cluster.nodes.includes(node)) {
    throw die(`hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`);
  }
}

/** PVE::AbstractConfig::load_config on `node`: the VM must live there. */
export function loadVm(cluster: FakeCluster, node: string, vmid: string | number): VmState {
  const vm = cluster.vms.get(Number(vmid));
  if (!vm || vm.node !== node) throw die(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
  return vm;
}
