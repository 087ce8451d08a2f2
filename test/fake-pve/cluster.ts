/**
 * The state behind the fake API: nodes, VMs (config, [PENDING], snapshots, run state, the config flock),
 * API tokens with ACLs, USB mappings (/etc/pve/mapping/usb.cfg) and tasks. Digests are SHA1 of the file
 * text rendered the way qemu-server / SectionConfig write it, so they change exactly when the file would.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { encodeText } from '../../src/proxmox/local-config.js';
import type { UsbPlugger } from './hotplug.js';
import { permissionDenied } from './pve-error.js';

export type ConfigValue = string | number;
export type VmConfigMap = Record<string, ConfigValue>;

export interface VmState {
  vmid: number;
  node: string;
  config: VmConfigMap;
  pending: VmConfigMap;
  pendingDelete: string[];
  snapshots: Record<string, VmConfigMap>;
  status: 'running' | 'stopped';
  /** the flock on /var/lock/qemu-server/lock-<vmid>.conf, held by another task */
  flockHeld: boolean;
  flockWaiters: Set<() => void>;
  startedAt: number;
}

export interface TokenState {
  secret: string;
  /** ACL path → privileges; a privilege on a path applies to every path below it */
  acl: Map<string, Set<string>>;
}

export interface MappingState {
  description?: string;
  map: string[];
}

export interface TaskState {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
}

export function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

export class FakeCluster {
  readonly nodes: string[];
  readonly vms = new Map<number, VmState>();
  readonly tokens = new Map<string, TokenState>();
  readonly mappings = new Map<string, MappingState>();
  readonly tasks = new Map<string, TaskState>();
  /** what hot-plugs a usbN line into a running VM (hotplug.ts); unset: hot-plugs succeed */
  usbPlugger: UsbPlugger | undefined;
  private nextPid = 0x1a2b0;

  constructor(nodes: string[]) {
    this.nodes = [...nodes];
  }

  /** Privileges of a token on a path: union of its ACL entries on the path and every parent. */
  privileges(tokenId: string, path: string): Set<string> {
    const out = new Set<string>();
    const acl = this.tokens.get(tokenId)?.acl;
    if (!acl) return out;
    for (const prefix of pathPrefixes(path)) for (const p of acl.get(prefix) ?? []) out.add(p);
    return out;
  }

  has(tokenId: string, path: string, priv: string): boolean {
    return this.privileges(tokenId, path).has(priv);
  }

  /** RPCEnvironment::check (all of privs) or check_any (any => 1): 403 naming path and privileges. */
  check(tokenId: string, path: string, privs: string[], any = false): void {
    const have = this.privileges(tokenId, normalizeAclPath(path));
    if (any) {
      if (!privs.some((p) => have.has(p))) throw permissionDenied(`${normalizeAclPath(path)}, ${privs.join('|')}`);
      return;
    }
    for (const p of privs) if (!have.has(p)) throw permissionDenied(`${normalizeAclPath(path)}, ${p}`);
  }

  /** Every ACL path the token has anything on, plus PVE's default top-level paths. */
  aclPaths(tokenId: string): string[] {
    const paths = new Set(['/', '/access', '/access/groups', '/nodes', '/pool', '/sdn', '/storage', '/vms']);
    for (const p of this.tokens.get(tokenId)?.acl.keys() ?? []) paths.add(p);
    return [...paths].sort();
  }

  verifySecret(tokenId: string, secret: string): boolean {
    const want = this.tokens.get(tokenId)?.secret;
    if (want === undefined) return false;
    const a = Buffer.from(want, 'utf8');
    const b = Buffer.from(secret, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  vmDigest(vm: VmState): string {
    return sha1(renderVmConfigFile(vm));
  }

  mappingsDigest(): string {
    return sha1(renderUsbMappingFile(this.mappings));
  }

  /** Waits for the flock; false after `timeoutMs`. */
  waitForFlock(vm: VmState, timeoutMs: number, timers: Set<NodeJS.Timeout>): Promise<boolean> {
    if (!vm.flockHeld) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        timers.delete(timer);
        vm.flockWaiters.delete(onRelease);
        resolve(ok);
      };
      const onRelease = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timers.add(timer);
      vm.flockWaiters.add(onRelease);
    });
  }

  releaseFlock(vm: VmState): void {
    vm.flockHeld = false;
    for (const w of [...vm.flockWaiters]) w();
  }

  newTask(node: string, type: string, id: string, user: string): TaskState {
    const pid = this.nextPid++;
    const starttime = Math.floor(Date.now() / 1000);
    const pstart = 1_000_000 + pid;
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const upid = `UPID:${node}:${hex(pid)}:${hex(pstart)}:${hex(starttime)}:${type}:${id}:${user}:`;
    const task: TaskState = { upid, node, pid, pstart, starttime, type, id, user, status: 'running' };
    this.tasks.set(upid, task);
    return task;
  }
}

export function normalizeAclPath(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return `/${parts.join('/')}`;
}

function pathPrefixes(path: string): string[] {
  const parts = normalizeAclPath(path).split('/').filter(Boolean);
  const out = ['/'];
  for (let i = 1; i <= parts.length; i++) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

function renderSection(conf: VmConfigMap, pending: boolean, pendingDelete: string[] = []): string {
  let raw = '';
  const descr = conf.description;
  if (descr !== undefined) {
    if (descr !== '') for (const line of String(descr).split('\n')) raw += `#${encodeText(line)}\n`;
    else if (pending) raw += '#\n';
  }
  const entries: [string, ConfigValue][] = Object.entries(conf).filter(([k]) => k !== 'description');
  if (pending && pendingDelete.length > 0) entries.push(['delete', pendingDelete.join(',')]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) raw += `${k}: ${v}\n`;
  return raw;
}

/** /etc/pve/qemu-server/<vmid>.conf as qemu-server's write_vm_config writes it. */
export function renderVmConfigFile(vm: VmState): string {
  let raw = renderSection(vm.config, false);
  if (Object.keys(vm.pending).length > 0 || vm.pendingDelete.length > 0) {
    raw += '\n[PENDING]\n' + renderSection(vm.pending, true, vm.pendingDelete);
  }
  for (const name of Object.keys(vm.snapshots).sort()) {
    raw += `\n[${name}]\n` + renderSection(vm.snapshots[name] ?? {}, false);
  }
  return raw;
}

/** /etc/pve/mapping/usb.cfg as SectionConfig writes it (section header is just the id). */
export function renderUsbMappingFile(mappings: Map<string, MappingState>): string {
  const sections: string[] = [];
  for (const [id, m] of mappings) {
    let s = `${id}\n`;
    if (m.description !== undefined) s += `\tdescription ${m.description}\n`;
    for (const e of m.map) s += `\tmap ${e}\n`;
    sections.push(s);
  }
  return sections.join('\n');
}
