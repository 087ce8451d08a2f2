import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { GadgetError, SettingsError, errnoOf } from '../errors.js';
import { ProxmoxClient } from '../proxmox/client.js';
import { isProxmoxApiError } from '../proxmox/errors.js';
import { foreignGadgetLines, freeUsbSlot, isModernUsbGuest, usbHotplugEnabled, usbLinesForMapping } from '../proxmox/local-config.js';
import { ensureMapping, mappingName, type MappingClient } from '../proxmox/mapping.js';
import { readTokenSecret } from '../settings/secret.js';
import type { Clock } from '../ports/clock.js';
import type { Settings } from '../settings/types.js';
import type { Logger } from './log.js';
import type { VmInfo } from './vm-source.js';

/** The Proxmox side: the cluster USB mapping that passes the gadget through. */
export interface Passthrough {
  /**
   * This node's entry of the VM's mapping → usbId. Needs nothing of the gadget, so pre-start runs it while
   * the gadget is built. `checked` is false when the API could not be asked (a warning, not a failure).
   */
  ensure(vmid: number, usbId: string): Promise<{ name: string; checked: boolean }>;
  /** When the VM has no usbN line for its mapping: the detached helper adds one once the start is done. */
  attachIfMissing(vmid: number, vm: VmInfo): void;
}

/** API failures where the gadget still goes up (with a warning) instead of aborting the start. */
const TRANSIENT = ['unreachable', 'tls', 'server'] as const;

/** The part of the hook's deps the passthrough uses (it never asks for HookDeps, which names it). */
interface PassthroughDeps {
  settings: Settings;
  log: Logger;
}

export function createClient(deps: PassthroughDeps): ProxmoxClient | undefined {
  const api = deps.settings.api;
  if (!api) return undefined;
  const secret = readTokenSecret(deps.settings);
  deps.log.redact(secret);
  let caPem: string;
  try {
    caPem = readFileSync(api.caFile, 'utf8');
  } catch (err) {
    throw new SettingsError('cannot read the cluster CA file', { key: 'api.ca_file', path: api.caFile, errno: errnoOf(err), fix: 'on Proxmox it is /etc/pve/pve-root-ca.pem' });
  }
  return new ProxmoxClient({ url: api.url, tokenId: api.tokenId, secret, caPem, timeoutMs: 10_000 });
}

/**
 * A start from the GUI or API runs in a pvedaemon worker whose pmxcfs reads are cached: if it read the
 * mapping before this hook changed it, qemu-server resolves the old one (PVE::Cluster keeps parsed
 * /etc/pve files per process; the e2e qemu-server stand-in reproduces it). No hook can refresh another process's cache, so say what happens and what to do.
 */
export function staleMappingWarning(name: string): string {
  return (
    `this start changed the USB mapping ${name}: a start from the GUI or API may still resolve the mapping as it ` +
    `was before this hook ran (Proxmox caches /etc/pve per worker process) and fail with "USB device mapping not ` +
    `found" or "USB Mapping invalid"; if it does, start the VM again: the next start reads the new mapping ` +
    `(qm start from a shell is not affected)`
  );
}

/** Starts the detached helper that adds the usbN line later (see attachMapping). */
export type AttachSpawner = (vmid: number) => void;

/** the hook's internal phase for the helper: `hook.cjs <vmid> attach-mapping` */
export const ATTACH_PHASE = 'attach-mapping';

/**
 * How the helper is started: which script, with which arguments. Each program names itself, since the
 * hook and the CLI take different arguments (the CLI's `up` once passed itself the hook's, which the CLI
 * does not know; with stdio ignored that failed silently).
 */
export interface AttachHelper {
  script: string;
  args(vmid: number): string[];
}

export function hookAttachHelper(hookPath: string): AttachHelper {
  return { script: hookPath, args: (vmid) => [String(vmid), ATTACH_PHASE] };
}

export function detachedAttachSpawner(helper: AttachHelper, spawnHelper = spawnDetached): AttachSpawner {
  return (vmid) => spawnHelper(helper.script, helper.args(vmid));
}

export function apiPassthrough(deps: PassthroughDeps, client: MappingClient, spawnAttach: AttachSpawner): Passthrough {
  const { log, settings } = deps;
  return {
    async ensure(vmid, usbId) {
      const name = mappingName(vmid);
      try {
        const r = await ensureMapping(client, { vmid, node: settings.node, usbId });
        log.info(`USB mapping ${name}: ${r.action} (${settings.node} -> ${usbId})`);
        if (r.action !== 'unchanged') log.warn(staleMappingWarning(name));
        return { name, checked: true };
      } catch (err) {
        if (isProxmoxApiError(err) && (TRANSIENT as readonly string[]).includes(err.kind)) {
          log.warn(`could not check the USB mapping ${name}: ${err.toLine()}`);
          return { name, checked: false };
        }
        if (isProxmoxApiError(err) && err.notFound?.type === 'endpoint') {
          throw new GadgetError('this Proxmox VE has no USB resource mappings (/cluster/mapping/usb)', {
            fix: 'pve-usb-gadget needs Proxmox VE 8 or newer: upgrade the cluster',
            cause: err,
          });
        }
        throw err;
      }
    },
    attachIfMissing(vmid, vm) {
      const name = mappingName(vmid);
      const uses = usbLinesForMapping(vm.config, name);
      const copied = foreignGadgetLines(vm.config, vmid);
      if (uses.length > 0) {
        log.info(`the VM passes it through as ${uses.join(', ')}`);
      } else if (copied.length > 0) {
        // a restored copy: its line names the old VM's mapping (identity-check warned); a second line
        // for the same stick would be a second usb-host device for one VID:PID
        log.info(`no usbN line added: ${copied.map((c) => `${c.key} (${c.mapping})`).join(', ')} is there until pve-usb-gadget enable ${vmid} repoints it`);
      } else if (vm.config.lock !== undefined) {
        // `lock: backup` (vzdump starts a stopped VM paused for its backup) or another lock: the helper's
        // config change would be refused while it lasts, and this run is not one the guest needs a stick in
        log.info(`no usbN line added for ${name}: the VM config is locked (${vm.config.lock}); pve-usb-gadget enable ${vmid} adds it`);
      } else {
        // qemu-server holds the config lock and has loaded the config for this start: add the line afterwards.
        spawnAttach(vmid);
        log.warn(`the VM has no usbN line for ${name}: a helper adds it (hot-plug) once this start has finished`);
      }
    },
  };
}

/** A helper that outlives the hook without holding its stdout/stderr (Proxmox waits for their EOF). */
function spawnDetached(script: string, args: string[]): void {
  const child = spawn(process.execPath, [script, ...args], { detached: true, stdio: 'ignore' });
  child.unref();
}

/**
 * The detached helper: wait until the start task has released the config lock and the VM runs, then add
 * `usbN: mapping=<name>` on a free slot (hot-plugged into the running VM by Proxmox).
 */
export async function attachMapping(deps: PassthroughDeps & { clock: Clock }, vmid: number, client: ProxmoxClient, timeoutMs = 300_000): Promise<void> {
  const { log, settings, clock } = deps;
  const node = settings.node;
  const name = mappingName(vmid);
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    try {
      const status = await client.getVmStatus(node, vmid);
      if (status.status === 'running' && !status.lock) {
        const { config, digest } = await client.getVmConfig(node, vmid);
        if (usbLinesForMapping(config, name).length > 0) return;
        const slot = freeUsbSlot(config, isModernUsbGuest(config));
        if (!slot) {
          log.error(`no free usbN slot on VM ${vmid} for mapping ${name}; add it by hand: qm set ${vmid} --usbN mapping=${name}`);
          return;
        }
        try {
          await client.updateVmConfig(node, vmid, { [slot]: `mapping=${name}` }, { digest });
        } catch (err) {
          // vmconfig_hotplug_pending: a hot-plug that failed is a 400 naming the key; the line stays pending
          const problem = isProxmoxApiError(err, 'bad-request') ? err.paramErrors?.[slot] : undefined;
          if (problem === undefined) throw err;
          log.error(
            `VM ${vmid}: Proxmox could not hot-plug ${slot}: mapping=${name} (${problem}); the line is kept as a ` +
              `pending change, so the VM gets its stick at its next start (or: qm reboot ${vmid})`,
          );
          return;
        }
        if (usbHotplugEnabled(config)) log.info(`added ${slot}: mapping=${name} to VM ${vmid} (hot-plugged)`);
        else
          log.warn(
            `added ${slot}: mapping=${name} to VM ${vmid} as a pending change: its config does not allow USB hot-plug ` +
              `(hotplug must include usb, ostype l26 or Windows 8+, machine 7.1+), so the stick appears at its next start`,
          );
        return;
      }
    } catch (err) {
      if (!(isProxmoxApiError(err) && ['lock-timeout', 'conflict', 'unreachable', 'server'].includes(err.kind))) throw err;
    }
    if (clock.now() >= deadline) {
      log.error(`gave up adding mapping ${name} to VM ${vmid}: the VM did not reach 'running' unlocked in time`);
      return;
    }
    await clock.sleep(1000);
  }
}
