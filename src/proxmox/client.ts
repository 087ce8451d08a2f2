/**
 * The Proxmox API as the hook and CLI use it: token auth, TLS pinned to the cluster CA, typed errors.
 * Built on proxmox-api, which (1) retries a request once when fetch throws, POST included, and
 * (2) rejects any answer whose content type is not exactly application/json;charset=UTF-8.
 * Creating a mapping is therefore written to be safe when the POST reached PVE but its answer was lost.
 */
import { proxmoxApi, type Proxmox } from 'proxmox-api';
import { ProxmoxApiError } from './errors.js';
import { toProxmoxApiError } from './classify.js';
import { createPinnedFetch } from './tls.js';
import { isTokenSecret, parseApiUrl, parseNodeName, parseTokenId } from '../values/proxmox-ids.js';
import type {
  ClusterVm,
  ConfigValue,
  ProxmoxClientOptions,
  PveVersion,
  StorageEntry,
  StorageStatus,
  TaskStatus,
  UpdateOptions,
  UsbMapping,
  VmConfig,
  VmStatus,
  VolumeInfo,
} from './types.js';

export type * from './types.js';

const CONFIG_ID_RE = /^[a-z][a-z0-9_-]+$/i;
const OPTION_RE = /^[a-z][a-z0-9_-]*$/;
const STORAGE_ID_RE = /^[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]$/;

type Params = Record<string, unknown>;
type Call<T> = (params?: Params) => Promise<T>;

export class ProxmoxClient {
  readonly url: string;
  readonly tokenId: string;
  readonly timeoutMs: number;
  // private fields: kept out of util.inspect / JSON of the client (the engine holds the auth header)
  readonly #secret: string;
  readonly #api: Proxmox.Api;
  readonly #close?: () => Promise<void>;

  constructor(opts: ProxmoxClientOptions) {
    const secret = opts.secret.trim();
    this.tokenId = opts.tokenId.trim();
    this.#secret = secret;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (!parseTokenId(this.tokenId).ok) {
      throw this.#local('auth', `api.tokenId '${this.tokenId}' is not USER@REALM!TOKENID`, 'api.tokenId');
    }
    // proxmox-api insists on this shape (and would print to the console otherwise)
    if (!isTokenSecret(secret)) {
      throw this.#local('auth', 'the API token secret is not a lower-case UUID as pveum prints it', 'api.secretFile');
    }
    const parsedUrl = parseApiUrl(opts.url);
    if (!parsedUrl.ok) throw this.#local('bad-request', `api.url '${opts.url}' ${parsedUrl.message}`, 'api.url');
    const url = new URL(parsedUrl.value);
    this.url = url.origin;
    let fetch = opts.fetch;
    if (!fetch) {
      const pinned = createPinnedFetch(opts.caPem);
      fetch = pinned.fetch;
      this.#close = pinned.close;
    }
    this.#api = proxmoxApi({
      host: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      schema: 'https',
      tokenID: this.tokenId,
      tokenSecret: secret,
      queryTimeout: this.timeoutMs,
      fetch: fetch as never,
    });
  }

  /** Closes keep-alive connections of the pinned fetch (not of a fetch passed in). */
  async close(): Promise<void> {
    await this.#close?.();
  }

  version(): Promise<PveVersion> {
    return this.#call('GET', '/version', () => this.#api.version.$get() as Promise<PveVersion>);
  }

  async listNodes(): Promise<{ node: string; status: string }[]> {
    const rows = await this.#call('GET', '/nodes', () => this.#api.nodes.$get());
    return rows.map((r) => ({ node: String(r.node), status: String(r.status) }));
  }

  /** VMs the token may see (VM.Audit), from /cluster/resources. */
  async listVms(): Promise<ClusterVm[]> {
    const rows = (await this.#call('GET', '/cluster/resources', () =>
      this.#api.cluster.resources.$get({ type: 'vm' }),
    )) as unknown as Record<string, unknown>[];
    return rows
      .filter((r) => r.type === 'qemu')
      .map((r) => ({
        vmid: Number(r.vmid),
        node: String(r.node),
        name: typeof r.name === 'string' ? r.name : undefined,
        status: typeof r.status === 'string' ? r.status : undefined,
        template: r.template === 1 || r.template === true,
      }));
  }

  /** The config with pending changes applied (as the GUI shows it); `current` gives the running values. */
  async getVmConfig(node: string, vmid: number, opts: { current?: boolean } = {}): Promise<VmConfig> {
    const path = this.#vmPath(node, vmid, 'config');
    const get = this.#api.nodes.$(node).qemu.$(vmid).config.$get as unknown as Call<Record<string, ConfigValue>>;
    const raw = await this.#call('GET', path, () => get(opts.current ? { current: true } : undefined));
    const { digest, ...config } = raw;
    return { config, digest: String(digest ?? '') };
  }

  /** PUT: synchronous; resolves once PVE wrote the config (waits up to 10 s for the config lock). */
  async updateVmConfig(node: string, vmid: number, set: Record<string, string>, opts: UpdateOptions = {}): Promise<void> {
    const path = this.#vmPath(node, vmid, 'config');
    const put = this.#api.nodes.$(node).qemu.$(vmid).config.$put as unknown as Call<null>;
    await this.#call('PUT', path, () => put(this.#updateParams(set, opts)));
  }

  /** POST: asynchronous; returns the task's UPID (lock and apply errors end up in the task, see getTaskStatus). */
  async updateVmConfigAsync(
    node: string,
    vmid: number,
    set: Record<string, string>,
    opts: UpdateOptions = {},
  ): Promise<string | null> {
    const path = this.#vmPath(node, vmid, 'config');
    const post = this.#api.nodes.$(node).qemu.$(vmid).config.$post as unknown as Call<string | null>;
    const upid = await this.#call('POST', path, () => post(this.#updateParams(set, opts)));
    return typeof upid === 'string' ? upid : null;
  }

  async getTaskStatus(node: string, upid: string): Promise<TaskStatus> {
    checkNode(node, (m) => this.#local('bad-request', m));
    if (!/^UPID:[^\s/]+$/.test(upid)) throw this.#local('bad-request', `not a task id: '${upid}'`);
    const path = `/nodes/${node}/tasks/${upid}/status`;
    const raw = (await this.#call('GET', path, () =>
      this.#api.nodes.$(node).tasks.$(upid).status.$get(),
    )) as unknown as Record<string, unknown>;
    return {
      upid,
      status: String(raw.status),
      exitstatus: typeof raw.exitstatus === 'string' ? raw.exitstatus : undefined,
    };
  }

  async getVmStatus(node: string, vmid: number): Promise<VmStatus> {
    const path = this.#vmPath(node, vmid, 'status/current');
    const raw = (await this.#call('GET', path, () =>
      this.#api.nodes.$(node).qemu.$(vmid).status.current.$get(),
    )) as unknown as Record<string, unknown>;
    return {
      status: String(raw.status),
      qmpstatus: typeof raw.qmpstatus === 'string' ? raw.qmpstatus : undefined,
      name: typeof raw.name === 'string' ? raw.name : undefined,
      lock: typeof raw.lock === 'string' ? raw.lock : undefined,
      uptime: typeof raw.uptime === 'number' ? raw.uptime : undefined,
    };
  }

  async listUsbMappings(): Promise<UsbMapping[]> {
    const rows = (await this.#call('GET', '/cluster/mapping/usb', () =>
      this.#api.cluster.mapping.usb.$get(),
    )) as unknown as Record<string, unknown>[];
    return rows.map((r) => toMapping(String(r.id), r));
  }

  /** The mapping, or undefined when PVE says it does not exist. */
  async getUsbMapping(id: string): Promise<UsbMapping | undefined> {
    const path = this.#mappingPath(id);
    try {
      const raw = (await this.#call('GET', path, () =>
        this.#api.cluster.mapping.usb.$(id).$get(),
      )) as Record<string, unknown>;
      return toMapping(id, raw);
    } catch (err) {
      if (err instanceof ProxmoxApiError && err.notFound?.type === 'mapping') return undefined;
      throw err;
    }
  }

  /**
   * Creates the mapping. If PVE says it already exists with exactly this content, that was our own
   * request retried by proxmox-api after a lost answer: success. Any other existing mapping is a conflict.
   */
  async createUsbMapping(m: { id: string; map: string[]; description?: string }): Promise<void> {
    const path = '/cluster/mapping/usb';
    this.#mappingPath(m.id);
    const params: Params = { id: m.id, map: m.map, description: m.description };
    const post = this.#api.cluster.mapping.usb.$post as unknown as Call<null>;
    try {
      await this.#call('POST', path, () => post(params));
    } catch (err) {
      if (!(err instanceof ProxmoxApiError && err.kind === 'conflict')) throw err;
      const now = await this.getUsbMapping(m.id);
      const same =
        now !== undefined &&
        sameList(now.map, m.map) &&
        (now.description ?? '') === (m.description ?? '');
      if (!same) throw err;
    }
  }

  async updateUsbMapping(
    id: string,
    change: { map: string[]; description?: string; digest?: string; delete?: string[] },
  ): Promise<void> {
    const path = this.#mappingPath(id);
    const put = this.#api.cluster.mapping.usb.$(id).$put as unknown as Call<null>;
    const params: Params = {
      map: change.map,
      description: change.description,
      digest: change.digest,
      delete: change.delete?.length ? change.delete.join(',') : undefined,
    };
    await this.#call('PUT', path, () => put(params));
  }

  /** Deleting a mapping that does not exist succeeds (PVE's behaviour). */
  async deleteUsbMapping(id: string): Promise<void> {
    const path = this.#mappingPath(id);
    await this.#call('DELETE', path, () => this.#api.cluster.mapping.usb.$(id).$delete());
  }

  /** Effective privileges of this token: { path: { privilege: propagate(0|1) } }. */
  async getPermissions(aclPath?: string): Promise<Record<string, Record<string, number>>> {
    const get = this.#api.access.permissions.$get as unknown as Call<Record<string, Record<string, number>>>;
    return this.#call('GET', '/access/permissions', () => get(aclPath ? { path: aclPath } : undefined));
  }

  /** GET /storage: the storage definitions this token may see (Datastore.Audit or .AllocateSpace each). */
  async listStorages(): Promise<StorageEntry[]> {
    const rows = (await this.#call('GET', '/storage', () => this.#api.storage.$get())) as unknown as Record<string, unknown>[];
    return rows.map(toStorageEntry);
  }

  /** GET /nodes/{node}/storage/{storage}/status: is the storage enabled and active on that node. */
  async getStorageStatus(node: string, storage: string): Promise<StorageStatus> {
    checkNode(node, (m) => this.#local('bad-request', m));
    if (!STORAGE_ID_RE.test(storage)) throw this.#local('bad-request', `not a storage id: '${storage}'`);
    const raw = (await this.#call('GET', `/nodes/${node}/storage/${storage}/status`, () =>
      this.#api.nodes.$(node).storage.$(storage).status.$get(),
    )) as unknown as Record<string, unknown>;
    return {
      type: String(raw.type ?? ''),
      active: raw.active === 1 || raw.active === true,
      enabled: raw.enabled === undefined ? true : raw.enabled === 1 || raw.enabled === true,
      shared: raw.shared === 1 || raw.shared === true,
      content: String(raw.content ?? '').split(',').filter(Boolean),
    };
  }

  /**
   * GET /nodes/{node}/storage/{storage}/content/{volume}: path, format and size of a volume as that node
   * sees it. Needs read access to the volume (PVE::Storage::check_volume_access: Datastore.Audit on the
   * storage plus VM.Config.Disk on the owning VM, or Datastore.Allocate).
   */
  async getVolumeInfo(node: string, volid: string): Promise<VolumeInfo> {
    checkNode(node, (m) => this.#local('bad-request', m));
    const m = /^([A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]):([^\s]+)$/.exec(volid);
    if (!m?.[1]) throw this.#local('bad-request', `not a volume id: '${volid}'`);
    const storage = m[1];
    const get = this.#api.nodes.$(node).storage.$(storage).content.$(volid).$get as unknown as Call<Record<string, unknown>>;
    const raw = await this.#call('GET', `/nodes/${node}/storage/${storage}/content/${volid}`, () => get());
    return { path: String(raw.path ?? ''), format: String(raw.format ?? ''), size: Number(raw.size ?? 0) };
  }

  #updateParams(set: Record<string, string>, opts: UpdateOptions): Params {
    const params: Params = {};
    for (const [k, v] of Object.entries(set)) {
      if (!OPTION_RE.test(k)) throw this.#local('bad-request', `not a VM option name: '${k}'`, k);
      params[k] = v;
    }
    for (const k of opts.delete ?? []) {
      if (!OPTION_RE.test(k)) throw this.#local('bad-request', `not a VM option name: '${k}'`, k);
    }
    if (opts.delete?.length) params.delete = opts.delete.join(',');
    if (opts.digest) params.digest = opts.digest;
    if (Object.keys(params).length === 0) throw this.#local('bad-request', 'no VM options to change');
    return params;
  }

  #vmPath(node: string, vmid: number, tail: string): string {
    checkNode(node, (m) => this.#local('bad-request', m));
    if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) {
      throw this.#local('bad-request', `not a VM id: ${String(vmid)}`);
    }
    return `/nodes/${node}/qemu/${vmid}/${tail}`;
  }

  #mappingPath(id: string): string {
    if (!CONFIG_ID_RE.test(id)) throw this.#local('bad-request', `not a mapping id: '${id}'`);
    return `/cluster/mapping/usb/${id}`;
  }

  async #call<T>(method: string, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toProxmoxApiError(err, {
        method,
        path,
        tokenId: this.tokenId,
        secret: this.#secret,
        timeoutMs: this.timeoutMs,
      });
    }
  }

  #local(kind: 'auth' | 'bad-request', message: string, key?: string): ProxmoxApiError {
    const safe = this.#secret ? message.split(this.#secret).join('***') : message;
    return new ProxmoxApiError(safe, {
      kind,
      key,
      fix: kind === 'auth' ? 'check api.tokenId and the secret file in the settings' : 'fix the value named in the message',
    });
  }
}

function checkNode(node: string, fail: (m: string) => Error): void {
  if (!parseNodeName(node).ok) throw fail(`not a node name: '${node}'`);
}

function toMapping(id: string, raw: Record<string, unknown>): UsbMapping {
  const map = Array.isArray(raw.map) ? raw.map.map(String) : typeof raw.map === 'string' ? [raw.map] : [];
  return {
    id,
    map,
    description: typeof raw.description === 'string' ? raw.description : undefined,
    digest: typeof raw.digest === 'string' ? raw.digest : undefined,
  };
}

function toStorageEntry(r: Record<string, unknown>): StorageEntry {
  const list = (v: unknown) => (typeof v === 'string' ? v.split(/[,;\s]+/).filter(Boolean) : []);
  const nodes = list(r.nodes);
  return {
    storage: String(r.storage ?? ''),
    type: String(r.type ?? ''),
    shared: r.shared === 1 || r.shared === true || r.shared === '1',
    nodes: nodes.length > 0 ? nodes : undefined,
    disabled: r.disable === 1 || r.disable === true || r.disable === '1',
    content: list(r.content),
    path: typeof r.path === 'string' ? r.path : undefined,
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
