/**
 * The Proxmox API as the hook and CLI use it: token auth, TLS pinned to the cluster CA, typed errors.
 * Built on proxmox-api (through ./transport.ts), which (1) retries a request once when fetch throws,
 * POST included, and (2) rejects any answer whose content type is not exactly
 * application/json;charset=UTF-8. Creating a mapping is therefore written to be safe when the POST
 * reached PVE but its answer was lost. Answers come back as `unknown` and are read by ./answer.ts.
 */
import { ProxmoxApiError } from './errors.js';
import { ApiTransport, type Send } from './transport.js';
import {
  recordOf,
  rowsOf,
  toClusterVms,
  toMapping,
  toNode,
  toPermissions,
  toStorageEntry,
  toStorageStatus,
  toTaskStatus,
  toVersion,
  toVmConfig,
  toVmStatus,
  toVolumeInfo,
} from './answer.js';
import { createPinnedFetch } from './tls.js';
import { isTokenSecret, parseApiUrl, parseNodeName, parseTokenId } from '../values/proxmox-ids.js';
import type {
  ClusterVm,
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

export class ProxmoxClient {
  readonly url: string;
  readonly tokenId: string;
  readonly timeoutMs: number;
  // private fields: kept out of util.inspect / JSON of the client (the transport holds the secret)
  readonly #secret: string;
  readonly #api: ApiTransport;
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
    this.#api = new ApiTransport({ url, tokenId: this.tokenId, secret, timeoutMs: this.timeoutMs, fetch });
  }

  /** Closes keep-alive connections of the pinned fetch (not of a fetch passed in). */
  async close(): Promise<void> {
    await this.#close?.();
  }

  async version(): Promise<PveVersion> {
    return toVersion(await this.#record('GET', '/version', (api) => api.version.$get()));
  }

  async listNodes(): Promise<{ node: string; status: string }[]> {
    return (await this.#rows('GET', '/nodes', (api) => api.nodes.$get())).map(toNode);
  }

  /** VMs the token may see (VM.Audit), from /cluster/resources. */
  async listVms(): Promise<ClusterVm[]> {
    return toClusterVms(await this.#rows('GET', '/cluster/resources', (api) => api.cluster.resources.$get({ type: 'vm' })));
  }

  /** The config with pending changes applied (as the GUI shows it); `current` gives the running values. */
  async getVmConfig(node: string, vmid: number, opts: { current?: boolean } = {}): Promise<VmConfig> {
    const path = this.#vmPath(node, vmid, 'config');
    const params = opts.current ? { current: true } : undefined;
    return toVmConfig(await this.#record('GET', path, (api) => api.nodes.$(node).qemu.$(vmid).config.$get(params)));
  }

  /** PUT: synchronous; resolves once PVE wrote the config (waits up to 10 s for the config lock). */
  async updateVmConfig(node: string, vmid: number, set: Record<string, string>, opts: UpdateOptions = {}): Promise<void> {
    const path = this.#vmPath(node, vmid, 'config');
    const params = this.#updateParams(set, opts);
    await this.#api.request('PUT', path, (api) => api.nodes.$(node).qemu.$(vmid).config.$put(params));
  }

  /** POST: asynchronous; returns the task's UPID (lock and apply errors end up in the task, see getTaskStatus). */
  async updateVmConfigAsync(
    node: string,
    vmid: number,
    set: Record<string, string>,
    opts: UpdateOptions = {},
  ): Promise<string | null> {
    const path = this.#vmPath(node, vmid, 'config');
    const params = this.#updateParams(set, opts);
    const upid = await this.#api.request('POST', path, (api) => api.nodes.$(node).qemu.$(vmid).config.$post(params));
    return typeof upid === 'string' ? upid : null;
  }

  async getTaskStatus(node: string, upid: string): Promise<TaskStatus> {
    checkNode(node, (m) => this.#local('bad-request', m));
    if (!/^UPID:[^\s/]+$/.test(upid)) throw this.#local('bad-request', `not a task id: '${upid}'`);
    const path = `/nodes/${node}/tasks/${upid}/status`;
    return toTaskStatus(upid, await this.#record('GET', path, (api) => api.nodes.$(node).tasks.$(upid).status.$get()));
  }

  async getVmStatus(node: string, vmid: number): Promise<VmStatus> {
    const path = this.#vmPath(node, vmid, 'status/current');
    return toVmStatus(await this.#record('GET', path, (api) => api.nodes.$(node).qemu.$(vmid).status.current.$get()));
  }

  async listUsbMappings(): Promise<UsbMapping[]> {
    const rows = await this.#rows('GET', '/cluster/mapping/usb', (api) => api.cluster.mapping.usb.$get());
    return rows.map((r) => toMapping(String(r.id), r));
  }

  /** The mapping, or undefined when PVE says it does not exist. */
  async getUsbMapping(id: string): Promise<UsbMapping | undefined> {
    const path = this.#mappingPath(id);
    try {
      return toMapping(id, await this.#record('GET', path, (api) => api.cluster.mapping.usb.$(id).$get()));
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
    this.#mappingPath(m.id);
    const params = { id: m.id, map: m.map, description: m.description };
    try {
      await this.#api.request('POST', '/cluster/mapping/usb', (api) => api.cluster.mapping.usb.$post(params));
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
    const params = {
      map: change.map,
      description: change.description,
      digest: change.digest,
      delete: change.delete?.length ? change.delete.join(',') : undefined,
    };
    await this.#api.request('PUT', path, (api) => api.cluster.mapping.usb.$(id).$put(params));
  }

  /** Deleting a mapping that does not exist succeeds (PVE's behaviour). */
  async deleteUsbMapping(id: string): Promise<void> {
    const path = this.#mappingPath(id);
    await this.#api.request('DELETE', path, (api) => api.cluster.mapping.usb.$(id).$delete());
  }

  /** Effective privileges of this token: { path: { privilege: propagate(0|1) } }. */
  async getPermissions(aclPath?: string): Promise<Record<string, Record<string, number>>> {
    const params = aclPath ? { path: aclPath } : undefined;
    return toPermissions(await this.#record('GET', '/access/permissions', (api) => api.access.permissions.$get(params)));
  }

  /** GET /storage: the storage definitions this token may see (Datastore.Audit or .AllocateSpace each). */
  async listStorages(): Promise<StorageEntry[]> {
    return (await this.#rows('GET', '/storage', (api) => api.storage.$get())).map(toStorageEntry);
  }

  /** GET /nodes/{node}/storage/{storage}/status: is the storage enabled and active on that node. */
  async getStorageStatus(node: string, storage: string): Promise<StorageStatus> {
    checkNode(node, (m) => this.#local('bad-request', m));
    if (!STORAGE_ID_RE.test(storage)) throw this.#local('bad-request', `not a storage id: '${storage}'`);
    const path = `/nodes/${node}/storage/${storage}/status`;
    return toStorageStatus(await this.#record('GET', path, (api) => api.nodes.$(node).storage.$(storage).status.$get()));
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
    const path = `/nodes/${node}/storage/${storage}/content/${volid}`;
    return toVolumeInfo(await this.#record('GET', path, (api) => api.nodes.$(node).storage.$(storage).content.$(volid).$get()));
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

  /** A request whose answer is one object. */
  async #record(method: string, path: string, send: Send): Promise<Record<string, unknown>> {
    return recordOf(await this.#api.request(method, path, send), `${method} ${path}`);
  }

  /** A request whose answer is a list of objects. */
  async #rows(method: string, path: string, send: Send): Promise<Record<string, unknown>[]> {
    return rowsOf(await this.#api.request(method, path, send), `${method} ${path}`);
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

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
