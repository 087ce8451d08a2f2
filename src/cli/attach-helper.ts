/**
 * The CLI's own attach helper. `pve-usb-gadget up` builds the stick like pre-start, and like pre-start
 * it may need a usbN line added once the VM runs: it starts this command detached (stdio ignored, so its
 * lines go to syslog). The arguments are the CLI's, not the hook's (`<vmid> attach-mapping`).
 */
import { GadgetError } from '../errors.js';
import { detachedLogger } from '../host/syslog.js';
import { flushToSyslog } from '../hook/log.js';
import { attachMapping, createClient, type AttachHelper } from '../hook/passthrough.js';
import { cliDeps } from './context.js';

export const ATTACH_COMMAND = 'attach-mapping';

export function cliAttachHelper(cliPath: string): AttachHelper {
  return { script: cliPath, args: (vmid) => [ATTACH_COMMAND, String(vmid)] };
}

export async function runAttachHelper(vmid: number, settings: string | undefined): Promise<void> {
  const deps = cliDeps({ settings });
  try {
    const client = createClient(deps);
    if (client) await attachMapping(deps, vmid, client);
  } catch (err) {
    deps.log.error(err instanceof GadgetError ? err.toLine() : `unexpected error: ${String(err)}`);
    throw err;
  } finally {
    await flushToSyslog(detachedLogger(), deps.log);
  }
}
