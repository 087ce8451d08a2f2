import { applyTeardown } from '../apply/apply-plan.js';
import { observeGadget } from '../apply/observe.js';
import type { KernelError } from '../errors.js';
import { removeIgnoreQuirk } from '../host/quirks.js';
import { gadgetDir } from '../plan/ops.js';
import { planTeardown } from '../plan/teardown-plan.js';
import type { HookDeps } from './deps.js';

export interface TeardownResult {
  /** something was there and was removed */
  removed: boolean;
  failures: KernelError[];
}

/**
 * Remove VM `vmid`'s gadget, its usb_storage quirk and its record. Works from the configfs tree as it is
 * (a half-built gadget too) and from the record (for the quirk), never from the notes. Idempotent.
 * The caller holds the host lock.
 */
export function teardownLocked(deps: HookDeps, vmid: number): TeardownResult {
  const { fs, state, log } = deps;
  const record = state.read(vmid);
  const observed = observeGadget(fs, gadgetDir(vmid));
  let failures: KernelError[] = [];
  if (observed) {
    failures = applyTeardown(fs, planTeardown(observed));
    for (const f of failures) log.warn(f.toLine());
  }
  if (record?.quirk && removeIgnoreQuirk(fs, record.usbId)) log.info(`removed usb_storage quirk ${record.quirk}`);
  // keep the record while the gadget is still (partly) there, so a later run can try again
  if (failures.length === 0) state.remove(vmid);
  return { removed: observed !== undefined || record !== undefined, failures };
}
