import { KernelError } from '../errors.js';
import { unloadIfIdle } from '../host/modules.js';
import type { HookDeps } from './deps.js';
import { withLock } from './pre-start.js';
import { teardownLocked } from './teardown.js';

/**
 * post-stop: remove what pre-start made, from the record and what configfs shows, then unload the modules
 * when no gadget is left. Idempotent: nothing there is success. Proxmox may skip post-stop (migration
 * source, older releases' races), so pre-start runs the same teardown first.
 */
export async function postStop(deps: HookDeps, vmid: number): Promise<void> {
  const { log } = deps;
  await withLock(deps, async () => {
    const r = await teardownLocked(deps, vmid);
    log.info(r.removed ? 'removed the gadget' : 'no gadget of this VM on this host: nothing to remove');
    if (r.failures.length > 0) {
      throw new KernelError(`${r.failures.length} teardown step(s) failed; the record is kept for the next try`, {
        path: deps.state.path(vmid),
        fix: `see the warnings above; retry with: pve-usb-gadget down ${vmid}`,
      });
    }
    const unloaded = await unloadIfIdle(deps.fs, deps.exec, deps.settings);
    if (unloaded.length > 0) log.info(`unloaded ${unloaded.join(', ')} (no gadget left)`);
  });
}
