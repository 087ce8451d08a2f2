import { applyTeardown } from '../apply/apply-plan.js';
import { observeGadget } from '../apply/observe.js';
import type { GadgetError } from '../errors.js';
import { removeIgnoreQuirk } from '../host/quirks.js';
import { gadgetDir } from '../plan/ops.js';
import { planTeardown } from '../plan/teardown-plan.js';
import { releaseVolumes } from '../storage/resolve.js';
import type { HookDeps } from './deps.js';

export interface TeardownResult {
  /** something was there and was removed */
  removed: boolean;
  /** kernel refusals while removing the gadget, or volumes that could not be released */
  failures: GadgetError[];
}

/**
 * Remove VM `vmid`'s gadget, its usb_storage quirk, the volumes it activated and its record. Works from
 * the configfs tree as it is (a half-built gadget too) and from the record (quirk, volumes), never from
 * the notes. Idempotent. The caller holds the host lock.
 */
export async function teardownLocked(deps: HookDeps, vmid: number): Promise<TeardownResult> {
  const { fs, state, log } = deps;
  const record = state.read(vmid);
  const observed = observeGadget(fs, gadgetDir(vmid));
  let failures: GadgetError[] = [];
  if (observed) {
    failures = applyTeardown(fs, planTeardown(observed));
    for (const f of failures) log.warn(f.toLine());
  }
  if (record?.quirk && removeIgnoreQuirk(fs, record.usbId)) log.info(`removed usb_storage quirk ${record.quirk}`);
  // keep the record while the gadget is still (partly) there, so a later run can try again; volumes are
  // released only once the gadget has closed them
  if (failures.length === 0 && record) {
    // spare volumes: activated by a media change (src/media) but not, or no longer, served
    const spare = (record.spareVolumes ?? []).map((volume) => ({ index: -1, image: '', readonly: true, cdrom: false, volume }));
    const volumes = await releaseVolumes(deps, [...record.luns, ...spare]);
    failures = volumes.failures;
    if (failures.length > 0) {
      const kept = volumes.kept.filter((l) => l.index >= 0);
      const keptSpare = volumes.kept.filter((l) => l.index < 0).flatMap((l) => (l.volume ? [l.volume] : []));
      state.write({ ...record, luns: kept, spareVolumes: keptSpare, media: undefined });
    }
  }
  if (failures.length === 0) state.remove(vmid);
  return { removed: observed !== undefined || record !== undefined, failures };
}
