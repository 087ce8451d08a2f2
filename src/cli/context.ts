import { nodeHostFs } from '../apply/host-fs.js';
import { realClock } from '../host/enumeration.js';
import { execaExec } from '../host/exec.js';
import { flockHostLock } from '../host/lock.js';
import type { HookDeps } from '../hook/deps.js';
import { createLogger } from '../hook/log.js';
import { apiPassthrough, createClient, detachedAttachSpawner } from '../hook/passthrough.js';
import { createVmSource } from '../hook/vm-source-impl.js';
import { loadSettings } from '../settings/load.js';
import { StateStore } from '../state/record.js';

/** The same dependencies the hook builds, for CLI commands. The API client is built only when asked. */
export function cliDeps(opts: { settings?: string; api?: boolean; hookPath?: string }): HookDeps {
  const settings = loadSettings({ path: opts.settings });
  const fs = nodeHostFs(settings.paths.root);
  const log = createLogger('pve-usb-gadget');
  const deps: HookDeps = {
    fs,
    exec: execaExec,
    clock: realClock,
    log,
    settings,
    lock: flockHostLock(fs.real(`${settings.paths.stateDir}/host.lock`), 180_000),
    state: new StateStore(fs, settings.paths.stateDir),
    vms: createVmSource({ fs, settings, log }, undefined),
    checkpoint: () => {},
  };
  if (opts.api) {
    const client = createClient(deps);
    deps.vms = createVmSource(deps, client);
    if (client && opts.hookPath) deps.passthrough = apiPassthrough(deps, client, detachedAttachSpawner(opts.hookPath));
  }
  return deps;
}
