/**
 * A fake Proxmox VE API over real HTTPS on 127.0.0.1, for tests. Only the endpoints pve-usb-gadget uses,
 * answering the way PVE does (see http.ts, routes-*.ts). Runs under vitest (Node 20) and bundled inside
 * the test VM (Node 18.20): node:https and node:crypto only, certificates built with node-forge.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createTestCa } from './ca.js';
import { FakeCluster, renderVmConfigFile, type ConfigValue, type MappingState } from './cluster.js';
import type { UsbPlugger } from './hotplug.js';
import { handleRequest, type DropRule, type HttpOptions, type HttpState, type RequestLogEntry } from './http.js';
import { clusterRoutes, type VersionInfo } from './routes-cluster.js';
import { effectiveConfig, qemuRoutes } from './routes-qemu.js';
import { FakeStorageState, storageRoutes, type FakeStorage, type FakeVolume } from './routes-storage.js';

export type { RequestLogEntry } from './http.js';
export type { FakeStorage, FakeVolume } from './routes-storage.js';
export { JSON_CONTENT_TYPE } from './http.js';
export { createTestCa } from './ca.js';

export interface FakePveOptions extends Partial<HttpOptions> {
  /** cluster node names, default ['pve'] */
  nodes?: string[];
  version?: VersionInfo;
  /** false: no /cluster/mapping/usb endpoints, like PVE 7 (they answer 501) */
  mappingApi?: boolean;
}

export interface AddVmOptions {
  vmid: number;
  node?: string;
  /** current config: description (plain text), smbios1, usbN, hookscript, ostype, machine, ... */
  config?: Record<string, ConfigValue>;
  pending?: Record<string, ConfigValue>;
  snapshots?: Record<string, Record<string, ConfigValue>>;
  status?: 'running' | 'stopped';
}

export interface FakeVmView {
  node: string;
  config: Record<string, ConfigValue>;
  pending: Record<string, ConfigValue>;
  pendingDelete: string[];
  status: 'running' | 'stopped';
  locked: boolean;
}

export interface FakePve {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** the CA that signed the server certificate (PEM) */
  readonly caPem: string;
  /** every request answered (or dropped), in order */
  readonly requests: readonly RequestLogEntry[];

  addNode(name: string): void;
  addVm(vm: AddVmOptions): void;
  /** set one option of the current config, as a root edit of the file would (no pending, no checks) */
  setVmOption(vmid: number, key: string, value: ConfigValue): void;
  /** remove one option of the current config (a root edit, e.g. vzdump's unlock of `lock: backup`) */
  deleteVmOption(vmid: number, key: string): void;
  /** current config (no pending values), a copy */
  vmConfig(vmid: number): Record<string, ConfigValue>;
  /** config as GET .../config shows it (pending applied) */
  vmEffectiveConfig(vmid: number): Record<string, ConfigValue>;
  /** what qemu-server's vm_start_nolock does before pre-start: pending values become the config */
  applyPending(vmid: number): void;
  /** the snapshot sections (`[name]` in <vmid>.conf), a copy */
  vmSnapshots(vmid: number): Record<string, Record<string, ConfigValue>>;
  /** write one snapshot section as qemu-server's snapshot code does (root, no checks); undefined removes it */
  setVmSnapshot(vmid: number, name: string, conf: Record<string, ConfigValue> | undefined): void;
  /** the current config replaced as snapshot_rollback writes it: the new options, [PENDING] gone */
  replaceVmConfig(vmid: number, conf: Record<string, ConfigValue>): void;
  vm(vmid: number): FakeVmView;
  /** /etc/pve/qemu-server/<vmid>.conf as qemu-server would write it */
  vmConfigFile(vmid: number): string;
  vmDigest(vmid: number): string;
  setVmStatus(vmid: number, status: 'running' | 'stopped'): void;
  /** hold the VM's config flock, as the start task does while the hook script runs */
  lockVm(vmid: number): void;
  unlockVm(vmid: number): void;

  /** `acl` maps ACL paths to privileges; privileges propagate to every path below */
  addToken(tokenId: string, secret: string, acl: Record<string, string[]>): void;
  setTokenAcl(tokenId: string, acl: Record<string, string[]>): void;
  removeToken(tokenId: string): void;

  /** a VM moved to another node (offline migration, HA recovery): its config file moves, nothing else */
  moveVm(vmid: number, node: string): void;
  /** qm destroy: the VM and its config go; a USB mapping it used stays (Proxmox does not know it is ours) */
  removeVm(vmid: number): void;
  /** a storage.cfg section; `addVolume` puts a volume on it (on `node` for a local storage) */
  addStorage(id: string, s: FakeStorage): void;
  addVolume(volid: string, vol: FakeVolume, node?: string): void;

  /** what hot-plugs a usbN line PUT on a running VM (see hotplug.ts); a throw is PVE's "hotplug problem" */
  setUsbPlugger(plug: UsbPlugger | undefined): void;
  addUsbMapping(id: string, m: MappingState): void;
  usbMapping(id: string): MappingState | undefined;
  usbMappingIds(): string[];
  removeUsbMapping(id: string): void;

  /** the next `count` requests matching are processed, then their connection is cut without an answer */
  dropResponses(match: { method?: string; path?: string | RegExp }, count?: number): void;
  clearRequests(): void;
  /** close the port (connection refused) / listen again on the same port */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_VERSION: VersionInfo = { version: '8.4.1', release: '8.4', repoid: '2a5fa54a8503f96d' };

function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export async function startFakePve(opts: FakePveOptions = {}): Promise<FakePve> {
  const ca = createTestCa();
  const leaf = ca.issueServerCert(['localhost', ...(opts.nodes ?? ['pve'])], ['127.0.0.1', '::1']);
  const cluster = new FakeCluster(opts.nodes ?? ['pve']);
  const storage = new FakeStorageState();
  const state: HttpState = {
    cluster,
    routes: [...clusterRoutes(opts.version ?? DEFAULT_VERSION), ...qemuRoutes, ...storageRoutes(storage)].filter(
      (r) => opts.mappingApi !== false || !r.path.startsWith('/cluster/mapping'),
    ),
    opts: {
      lockTimeoutMs: opts.lockTimeoutMs ?? 10_000,
      authFailureDelayMs: opts.authFailureDelayMs ?? 3_000,
      authErrors: opts.authErrors ?? 'pve9',
      legacyErrorBody: opts.legacyErrorBody ?? false,
    },
    log: [],
    drops: [] as DropRule[],
    timers: new Set(),
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    handleRequest(state, req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined); // wrong-CA clients hang up mid-handshake: expected in tests

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;

  const vmOf = (vmid: number) => {
    const vm = cluster.vms.get(vmid);
    if (!vm) throw new Error(`fake-pve: no VM ${vmid}`);
    return vm;
  };
  const aclMap = (acl: Record<string, string[]>) => new Map(Object.entries(acl).map(([p, privs]) => [p, new Set(privs)]));

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caPem: ca.certPem,
    get requests() {
      return state.log;
    },
    addNode(name) {
      if (!cluster.nodes.includes(name)) cluster.nodes.push(name);
    },
    addVm(vm) {
      const node = vm.node ?? cluster.nodes[0] ?? 'pve';
      if (!cluster.nodes.includes(node)) throw new Error(`fake-pve: unknown node ${node}`);
      if (cluster.vms.has(vm.vmid)) throw new Error(`fake-pve: VM ${vm.vmid} exists`);
      cluster.vms.set(vm.vmid, {
        vmid: vm.vmid,
        node,
        config: { ...(vm.config ?? {}) },
        pending: { ...(vm.pending ?? {}) },
        pendingDelete: [],
        snapshots: copy(vm.snapshots ?? {}),
        status: vm.status ?? 'stopped',
        flockHeld: false,
        flockWaiters: new Set(),
        startedAt: Date.now(),
      });
    },
    setVmOption: (vmid, key, value) => void (vmOf(vmid).config[key] = value),
    deleteVmOption: (vmid, key) => void delete vmOf(vmid).config[key],
    vmConfig: (vmid) => ({ ...vmOf(vmid).config }),
    vmEffectiveConfig: (vmid) => effectiveConfig(vmOf(vmid)),
    applyPending(vmid) {
      const vm = vmOf(vmid);
      vm.config = effectiveConfig(vm);
      vm.pending = {};
      vm.pendingDelete = [];
    },
    vmSnapshots: (vmid) => copy(vmOf(vmid).snapshots),
    setVmSnapshot(vmid, name, conf) {
      const vm = vmOf(vmid);
      if (conf === undefined) delete vm.snapshots[name];
      else vm.snapshots[name] = { ...conf };
    },
    replaceVmConfig(vmid, conf) {
      const vm = vmOf(vmid);
      vm.config = { ...conf };
      vm.pending = {};
      vm.pendingDelete = [];
    },
    vm(vmid) {
      const vm = vmOf(vmid);
      return {
        node: vm.node,
        config: { ...vm.config },
        pending: { ...vm.pending },
        pendingDelete: [...vm.pendingDelete],
        status: vm.status,
        locked: vm.flockHeld,
      };
    },
    vmConfigFile: (vmid) => renderVmConfigFile(vmOf(vmid)),
    vmDigest: (vmid) => cluster.vmDigest(vmOf(vmid)),
    setVmStatus(vmid, status) {
      const vm = vmOf(vmid);
      if (status === 'running' && vm.status !== 'running') vm.startedAt = Date.now();
      vm.status = status;
    },
    lockVm: (vmid) => void (vmOf(vmid).flockHeld = true),
    unlockVm: (vmid) => cluster.releaseFlock(vmOf(vmid)),
    addToken(tokenId, secret, acl) {
      cluster.tokens.set(tokenId, { secret, acl: aclMap(acl) });
    },
    setTokenAcl(tokenId, acl) {
      const t = cluster.tokens.get(tokenId);
      if (!t) throw new Error(`fake-pve: no token ${tokenId}`);
      t.acl = aclMap(acl);
    },
    removeToken: (tokenId) => void cluster.tokens.delete(tokenId),
    moveVm(vmid, node) {
      if (!cluster.nodes.includes(node)) throw new Error(`fake-pve: unknown node ${node}`);
      vmOf(vmid).node = node;
    },
    removeVm(vmid) {
      vmOf(vmid);
      cluster.vms.delete(vmid);
    },
    addStorage: (id, s) => void storage.storages.set(id, copy(s)),
    addVolume: (volid, vol, node) => storage.addVolume(volid, vol, node),
    setUsbPlugger: (plug) => void (cluster.usbPlugger = plug),
    addUsbMapping: (id, m) => void cluster.mappings.set(id, copy(m)),
    usbMapping: (id) => {
      const m = cluster.mappings.get(id);
      return m ? copy(m) : undefined;
    },
    usbMappingIds: () => [...cluster.mappings.keys()],
    removeUsbMapping: (id) => void cluster.mappings.delete(id),
    dropResponses(match, count = 1) {
      state.drops.push({ ...match, remaining: count });
    },
    clearRequests: () => void state.log.splice(0),
    down: stop,
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    async close() {
      for (const t of state.timers) clearTimeout(t);
      state.timers.clear();
      await stop();
    },
  };
}
