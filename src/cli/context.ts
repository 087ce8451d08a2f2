import type { HookDeps } from '../hook/deps.js';
import { hostDeps, withApi } from '../hook/host-deps.js';
import { createLogger } from '../hook/log.js';
import type { AttachHelper } from '../hook/passthrough.js';
import { loadSettings } from '../settings/load.js';

/** The same dependencies the hook builds, for CLI commands. The API client is built only when asked. */
export function cliDeps(opts: { settings?: string; api?: boolean; helper?: AttachHelper }): HookDeps {
  const deps = hostDeps(loadSettings({ path: opts.settings }), createLogger('pve-usb-gadget'));
  return opts.api ? withApi(deps, opts.helper, { vmConfig: 'api' }) : deps;
}
