/**
 * /nodes/{node}/qemu/{vmid}/config (GET, PUT sync, POST async), .../status/current and
 * /nodes/{node}/tasks/{upid}/status, following qemu-server's src/PVE/API2/Qemu.pm (update_vm_api).
 */
import type { FakeCluster, VmConfigMap, VmState } from './cluster.js';
import { die, paramError, permissionDenied } from './pve-error.js';
import { NODE_SPEC, VMID_SPEC, str, type Schema } from './params.js';
import { loadVm, type Ctx, type Route } from './route.js';
import { hotplugPendingUsb } from './hotplug.js';
import { FAST_PLUG, isDriveKey, isVmOption, parseUsb, privilegeFor, storedValue, vmOptionSpec } from './vm-options.js';

const VM_CONFIG_PRIVS = [
  'VM.Config.Disk', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Memory',
  'VM.Config.Network', 'VM.Config.HWType', 'VM.Config.Options', 'VM.Config.Cloudinit',
];

const VM_PARAMS: Schema = { node: NODE_SPEC, vmid: VMID_SPEC };
const UPDATE_PARAMS: Schema = {
  ...VM_PARAMS,
  digest: { optional: true, maxLength: 64 },
  delete: { optional: true, pattern: /^[a-z0-9_,;\s-]*$/i },
  revert: { optional: true },
  force: { optional: true, type: 'boolean' },
  skiplock: { optional: true, type: 'boolean' },
};

const vmAudit = (c: Ctx) => c.cluster.check(c.authId, `/vms/${str(c.params, 'vmid')}`, ['VM.Audit']);

/** The config as GET shows it by default: pending values applied, pending deletes removed. */
export function effectiveConfig(vm: VmState): VmConfigMap {
  const conf: VmConfigMap = { ...vm.config, ...vm.pending };
  for (const k of vm.pendingDelete) delete conf[k];
  return conf;
}

function getConfig(c: Ctx): unknown {
  const snapshot = str(c.params, 'snapshot');
  const current = str(c.params, 'current');
  if (snapshot && current && current !== '0') {
    const msg = "cannot use 'snapshot' parameter with 'current'";
    throw paramError({ snapshot: msg, current: msg });
  }
  const vm = loadVm(c.cluster, str(c.params, 'node') ?? '', str(c.params, 'vmid') ?? '');
  const digest = c.cluster.vmDigest(vm);
  if (snapshot) {
    const snap = vm.snapshots[snapshot];
    if (!snap) throw die(`snapshot '${snapshot}' does not exist`);
    return { ...snap, digest };
  }
  const conf = current && current !== '0' ? { ...vm.config } : effectiveConfig(vm);
  return { ...conf, digest };
}

function getStatus(c: Ctx): unknown {
  const vm = loadVm(c.cluster, str(c.params, 'node') ?? '', str(c.params, 'vmid') ?? '');
  const running = vm.status === 'running';
  const out: Record<string, unknown> = {
    vmid: vm.vmid,
    status: vm.status,
    qmpstatus: vm.status,
    uptime: running ? Math.max(1, Math.floor((Date.now() - vm.startedAt) / 1000)) : 0,
    cpus: Number(vm.config.cores ?? 1) * Number(vm.config.sockets ?? 1),
    maxmem: Number(String(vm.config.memory ?? '2048').replace(/^current=/, '')) * 1024 * 1024,
    ha: { managed: 0 },
  };
  if (vm.config.name !== undefined) out.name = vm.config.name;
  if (vm.config.lock !== undefined) out.lock = vm.config.lock;
  if (running) out.pid = 10_000 + vm.vmid;
  return out;
}

interface UpdateRequest {
  vm: VmState;
  set: Record<string, string>;
  del: string[];
  digest?: string;
}

/** The checks update_vm_api makes before locking (and again under the lock). */
function loadAndCheck(c: Ctx, req: UpdateRequest): void {
  const vm = loadVm(c.cluster, req.vm.node, req.vm.vmid);
  if (req.digest && req.digest !== c.cluster.vmDigest(vm)) throw die('checksum mismatch (file change by other user?)');
  if (vm.config.lock !== undefined) throw die(`VM is locked (${vm.config.lock})`);
}

/** check_usb_perm (a token is never root@pam) */
function checkUsbPerm(c: Ctx, vmid: number, key: string, value: string): void {
  c.cluster.check(c.authId, `/vms/${vmid}`, ['VM.Config.HWType']);
  let dev;
  try {
    dev = parseUsb(value);
  } catch (e) {
    throw die(`${key}: ${(e as Error).message}`);
  }
  if (dev.host !== undefined) {
    if (!/^spice$/i.test(dev.host)) throw die(`only root can set '${key}' config for real devices`);
  } else if (dev.mapping !== undefined) {
    c.cluster.check(c.authId, `/mapping/usb/${dev.mapping}`, ['Mapping.Use']);
  } else {
    throw die("either 'host' or 'mapping' must be set.");
  }
}

function checkLaterPerm(c: Ctx, vmid: number, key: string, value: string | undefined): void {
  if (/^usb\d+$/.test(key)) {
    if (value !== undefined) checkUsbPerm(c, vmid, key, value);
  } else if (/^serial\d+$/.test(key)) {
    if (value !== 'socket') throw die(`only root can set '${key}' config for real devices`);
    c.cluster.check(c.authId, `/vms/${vmid}`, ['VM.Config.HWType']);
  } else if (/^hostpci\d+$/.test(key)) {
    if (!value?.includes('mapping=')) throw die(`only root can set '${key}' config for non-mapped devices`);
    c.cluster.check(c.authId, `/vms/${vmid}`, ['VM.Config.HWType']);
  } else if (key === 'tags') {
    c.cluster.check(c.authId, `/vms/${vmid}`, ['VM.Config.Options']);
  } else if (isDriveKey(key) || key === 'cdrom') {
    const priv = value?.includes('media=cdrom') || key === 'cdrom' ? 'VM.Config.CDROM' : 'VM.Config.Disk';
    c.cluster.check(c.authId, `/vms/${vmid}`, [priv]);
  } else {
    c.cluster.check(c.authId, `/vms/${vmid}`, ['VM.Config.Disk']);
  }
}

/** $updatefn: every option is written to [PENDING] one by one, then pending changes are applied. */
async function applyUpdate(c: Ctx, req: UpdateRequest): Promise<void> {
  loadAndCheck(c, req);
  const vm = req.vm;
  for (const key of req.del) {
    const val = vm.pending[key] ?? vm.config[key];
    if (val === undefined) continue; // PVE: warn "cannot delete ... not set"
    if (privilegeFor(key) === 'checked-later') checkLaterPerm(c, vm.vmid, key, String(val));
    delete vm.pending[key];
    if (!vm.pendingDelete.includes(key)) vm.pendingDelete.push(key);
  }
  for (const key of Object.keys(req.set).sort()) {
    const value = req.set[key] as string;
    if (privilegeFor(key) === 'checked-later') {
      if (/^usb\d+$/.test(key) && vm.config[key] !== undefined) checkUsbPerm(c, vm.vmid, key, String(vm.config[key]));
      checkLaterPerm(c, vm.vmid, key, value);
    }
    vm.pending[key] = storedValue(key, value);
    vm.pendingDelete = vm.pendingDelete.filter((k) => k !== key);
  }
  // cleanup_pending: drop pending values equal to the current ones
  for (const [k, v] of Object.entries(vm.pending)) if (vm.config[k] === v) delete vm.pending[k];
  const apply = (key: string) => vm.status === 'stopped' || FAST_PLUG.has(key);
  for (const key of [...vm.pendingDelete]) {
    if (!apply(key)) continue;
    delete vm.config[key];
    vm.pendingDelete = vm.pendingDelete.filter((k) => k !== key);
  }
  for (const [key, value] of Object.entries(vm.pending)) {
    if (!apply(key)) continue;
    if (key === 'description' && value === '') delete vm.config[key];
    else vm.config[key] = value;
    delete vm.pending[key];
  }
  if (vm.status === 'running') await hotplugPendingUsb(vm, c.cluster.usbPlugger);
}

function parseUpdate(c: Ctx): UpdateRequest {
  const p = c.params;
  const vm = { node: str(p, 'node') ?? '', vmid: Number(str(p, 'vmid')) } as VmState;
  if (str(p, 'skiplock')) throw paramError({ skiplock: 'Only root may use this option.' });
  const set: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k in UPDATE_PARAMS || k === 'background_delay') continue;
    set[k === 'cdrom' ? 'ide2' : k] = Array.isArray(v) ? v.join(',') : v;
  }
  const deleteStr = str(p, 'delete') ?? '';
  const revert = str(p, 'revert') ?? '';
  if (!deleteStr && !revert && Object.keys(set).length === 0) throw die('no options specified');
  const del: string[] = [];
  for (let key of deleteStr.split(/[,;\s]+/).filter(Boolean)) {
    if (key === 'cdrom') key = 'ide2';
    if (set[key] !== undefined) throw paramError({ delete: `you can't use '-${key}' and -delete ${key}' at the same time` });
    if (!isVmOption(key)) throw paramError({ delete: `unknown option '${key}'` });
    del.push(key);
  }
  for (const key of [...del, ...Object.keys(set)]) {
    const need = privilegeFor(key);
    if (need === 'root') throw die(`only root can set '${key}' config`);
    if (need !== 'checked-later') c.cluster.check(c.authId, `/vms/${vm.vmid}`, need, need.length > 1);
  }
  const real = loadVm(c.cluster, vm.node, vm.vmid);
  return { vm: real, set, del, digest: str(p, 'digest') };
}

async function updateSync(c: Ctx): Promise<null> {
  const req = parseUpdate(c);
  loadAndCheck(c, req);
  await lockConfig(c, req.vm, () => applyUpdate(c, req));
  return null;
}

async function updateAsync(c: Ctx): Promise<string | null> {
  const req = parseUpdate(c);
  loadAndCheck(c, req);
  const task = c.cluster.newTask(req.vm.node, 'qmconfig', String(req.vm.vmid), c.authId);
  const finished = lockConfig(c, req.vm, () => applyUpdate(c, req)).then(
    () => ({ ok: true, text: 'OK' }),
    (e: unknown) => ({ ok: false, text: (e instanceof Error ? e.message : String(e)).trim() }),
  );
  void finished.then((r) => {
    task.status = 'stopped';
    task.exitstatus = r.text;
  });
  const delay = Number(str(c.params, 'background_delay') ?? 0);
  if (delay > 0) {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      finished,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), delay * 1000);
        c.timers.add(timer);
      }),
    ]);
    if (timer) {
      clearTimeout(timer);
      c.timers.delete(timer);
    }
    if (r?.ok) return null;
    if (r) throw die(`failed to update VM ${req.vm.vmid}: ${r.text}`);
  }
  return task.upid;
}

/** PVE::QemuConfig->lock_config: flock with a 10 s timeout, held while `fn` runs (a hot-plug takes time) */
async function lockConfig(c: Ctx, vm: VmState, fn: () => Promise<void>): Promise<void> {
  // every waiter wakes on a release: the first to run takes the lock, the others wait again
  do {
    const got = await c.cluster.waitForFlock(vm, c.opts.lockTimeoutMs, c.timers);
    if (!got) throw die(`can't lock file '/var/lock/qemu-server/lock-${vm.vmid}.conf' - got timeout`);
  } while (vm.flockHeld);
  vm.flockHeld = true;
  try {
    await fn();
  } finally {
    c.cluster.releaseFlock(vm);
  }
}

function taskStatus(c: Ctx): unknown {
  const upid = str(c.params, 'upid') ?? '';
  if (!/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid)) {
    throw paramError({ upid: 'unable to parse worker upid' });
  }
  const task = c.cluster.tasks.get(upid);
  if (!task || task.node !== str(c.params, 'node')) throw paramError({ upid: 'no such task' });
  if (task.user !== c.authId && !c.cluster.has(c.authId, `/nodes/${task.node}`, 'Sys.Audit')) {
    throw permissionDenied(`/nodes/${task.node}, Sys.Audit`);
  }
  const [user, tokenid] = task.user.split('!');
  const out: Record<string, unknown> = { ...task, user };
  if (tokenid) out.tokenid = tokenid;
  if (task.status !== 'stopped') delete out.exitstatus;
  return out;
}

export const qemuRoutes: Route[] = [
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/config',
    proxyNode: true,
    perm: vmAudit,
    schema: { ...VM_PARAMS, current: { optional: true, type: 'boolean' }, snapshot: { optional: true } },
    handler: getConfig,
  },
  {
    method: 'PUT',
    path: '/nodes/{node}/qemu/{vmid}/config',
    proxyNode: true,
    perm: (c) => c.cluster.check(c.authId, `/vms/${str(c.params, 'vmid')}`, VM_CONFIG_PRIVS, true),
    schema: UPDATE_PARAMS,
    extraParam: vmOptionSpec,
    handler: updateSync,
  },
  {
    method: 'POST',
    path: '/nodes/{node}/qemu/{vmid}/config',
    proxyNode: true,
    perm: (c) => c.cluster.check(c.authId, `/vms/${str(c.params, 'vmid')}`, VM_CONFIG_PRIVS, true),
    schema: { ...UPDATE_PARAMS, background_delay: { optional: true, type: 'integer' } },
    extraParam: vmOptionSpec,
    handler: updateAsync,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/qemu/{vmid}/status/current',
    proxyNode: true,
    perm: vmAudit,
    schema: VM_PARAMS,
    handler: getStatus,
  },
  {
    method: 'GET',
    path: '/nodes/{node}/tasks/{upid}/status',
    proxyNode: true,
    perm: () => undefined,
    schema: { node: NODE_SPEC, upid: {} },
    handler: taskStatus,
  },
];
