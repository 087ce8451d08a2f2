/** The real, host-facing dependencies of one run, shared by the hook and the CLI commands that act like it. */
import { nodeHostFs } from '../apply/host-fs.js';
import { realClock } from '../host/enumeration.js';
import { execaExec } from '../host/exec.js';
import { flockHostLock } from '../host/lock.js';
import type { Settings } from '../settings/types.js';
import { StateStore } from '../state/record.js';
import type { HookDeps, PreStartStep } from './deps.js';
import type { Logger } from './log.js';
import { apiPassthrough, createClient, detachedAttachSpawner, type AttachHelper } from './passthrough.js';
import { createVmSource } from './vm-source-impl.js';

/** How long a run waits for another run's host lock (pre-start of another VM, a CLI `up`). */
const HOST_LOCK_WAIT_MS = 180_000;

export function hostDeps(settings: Settings, log: Logger, checkpoint: (step: PreStartStep) => void = () => {}): HookDeps {
  const fs = nodeHostFs(settings.paths.root);
  return {
    fs,
    exec: execaExec,
    clock: realClock,
    log,
    settings,
    lock: flockHostLock(fs.real(`${settings.paths.stateDir}/host.lock`), HOST_LOCK_WAIT_MS),
    state: new StateStore(fs, settings.paths.stateDir),
    vms: createVmSource({ fs, settings, log }, undefined),
    checkpoint,
  };
}

/**
 * Adds the API side: the passthrough (mapping + usbN line) whose detached helper is `helper` (the hook's
 * or the CLI's own attach-mapping), and with `vmConfig: 'api'` the VM configs from the API (the CLI: a stopped VM's
 * pending changes are applied only when it starts). The hook's pre-start passes 'file': qemu-server has
 * applied pending changes and reloaded the config before it runs the hook (vm_start_nolock), so the file
 * is what this start uses, and no API request stands in front of the build. Without an [api] section the
 * deps stay local-only.
 */
export function withApi(deps: HookDeps, helper: AttachHelper | undefined, opts: { vmConfig: 'api' | 'file' }): HookDeps {
  const client = createClient(deps);
  if (opts.vmConfig === 'api') deps.vms = createVmSource(deps, client);
  if (client && helper) deps.passthrough = apiPassthrough(deps, client, detachedAttachSpawner(helper));
  return deps;
}
