import { applyOp, applyPlan, kernelError } from '../apply/apply-plan.js';
import { assertUsbIdFree } from '../host/conflicts.js';
import { imageContext, volumeUses } from '../host/image-facts.js';
import { checkImage, type ImageContext } from '../host/image-policy.js';
import { ensureModules } from '../host/modules.js';
import { addIgnoreQuirk, ignoreEntry } from '../host/quirks.js';
import { UdcAllocator } from '../host/udc.js';
import { gadgetDir, gadgetName } from '../plan/ops.js';
import { planGadget, udcFile } from '../plan/gadget-plan.js';
import { unraidGuid } from '../spec/guid.js';
import { usbId, type GadgetSpec } from '../spec/types.js';
import type { GadgetRecord } from '../state/record.js';
import { activateVolumes, lunImageKey, planVolumes } from '../storage/resolve.js';
import type { VolumePlan } from '../storage/volume-rules.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import type { HookDeps } from './deps.js';

/** The spec with its image paths resolved, the facts they were judged by, and the volume ids' plans. */
export interface ResolvedImages {
  spec: GadgetSpec;
  ctx: ImageContext;
  plans: Map<number, VolumePlan>;
}

/**
 * Resolve every LUN's image through the image policy, gathering the facts once. Run before touching
 * anything, and again under the host lock (another VM may have started exporting the same image
 * meanwhile); under the lock the same facts then serve the volume activation too.
 */
export function resolveImages(deps: HookDeps, vmid: number, spec: GadgetSpec, vmConfig?: Readonly<Record<string, string>>): ResolvedImages {
  const ctx = imageContext(deps.fs, deps.settings, vmid, vmConfig);
  // volume ids (storage:volume) are checked here and resolved once activated (buildLocked)
  const plans = planVolumes(deps, vmid, spec, vmConfig);
  const luns = spec.luns.map((lun) =>
    looksLikeVolumeId(lun.image) ? lun : { ...lun, image: checkImage(deps.fs, deps.settings, lunImageKey(lun.index), lun.image, lun.readonly, ctx) },
  );
  return { spec: { ...spec, luns }, ctx, plans };
}

/**
 * The part of pre-start that must not interleave with another VM's: load modules, check the USB id and
 * images are free, pick a UDC, record, isolate, build and bind. The caller holds the host lock and
 * undoes everything (teardownLocked) if this throws.
 */
export async function buildLocked(deps: HookDeps, vmid: number, spec: GadgetSpec, vmConfig?: Readonly<Record<string, string>>): Promise<GadgetRecord> {
  const { fs, log, settings, state } = deps;
  const loaded = await ensureModules(fs, deps.exec, settings);
  if (loaded.loaded.length > 0) log.info(`loaded ${loaded.loaded.join(', ')}`);
  deps.checkpoint('modules');

  const id = usbId(spec);
  assertUsbIdFree(fs, id, gadgetName(vmid));
  const { spec: checked, ctx, plans } = resolveImages(deps, vmid, spec, vmConfig);
  // UDCs that other VMs' records name but that are not bound yet: their pre-start is mid-way.
  const reserved = new Set(state.list().filter((r) => r.vmid !== vmid).map((r) => r.udc));
  const udc = new UdcAllocator(fs).allocate(reserved);

  const record: GadgetRecord = {
    version: 1,
    vmid,
    phase: 'building',
    node: settings.node,
    gadgetDir: gadgetDir(vmid),
    udc,
    usbId: id,
    serial: spec.serial,
    speed: spec.speed,
    luns: checked.luns.map((l) => ({ index: l.index, image: l.image, readonly: l.readonly, cdrom: l.cdrom })),
    quirk: settings.isolateHostStorage ? ignoreEntry(id) : undefined,
    createdAt: new Date(deps.clock.now()).toISOString(),
    pid: process.pid,
  };
  state.write(record);
  deps.checkpoint('recorded');

  // volumes are activated (LVM) or mapped (RBD) with the record kept current, so failures and kills are undone
  // the host lock is held since resolveImages: nothing else can have started exporting meanwhile
  const inUse = volumeUses(ctx);
  const resolved = await activateVolumes(deps, checked, plans, inUse, (volumes) => {
    record.luns = record.luns.map((l) => (volumes.has(l.index) ? { ...l, volume: volumes.get(l.index) } : l));
    state.write(record);
  });
  if (plans.size > 0) {
    record.luns = record.luns.map((l, i) => ({ ...l, image: resolved.luns[i]?.image ?? l.image }));
    state.write(record);
  }

  if (record.quirk) {
    if (addIgnoreQuirk(fs, id)) {
      log.info(`usb_storage will ignore ${id} (host isolation)`);
    } else {
      // The kernel's quirks buffer holds about 10 entries. Past that, the host's usb-storage is detached
      // right after enumeration instead (isolateAfterEnumeration): weaker, so say so.
      record.quirk = undefined;
      state.write(record);
      log.warn(`usb_storage quirks list is full (about 10 sticks with isolation at once): ${id} is isolated by detaching usb-storage after enumeration instead`);
    }
  }
  deps.checkpoint('quirk');

  const ops = planGadget(vmid, resolved);
  applyPlan(fs, ops);
  log.info(`built ${gadgetDir(vmid)}: ${id}, serial ${spec.serial} (unRAID GUID ${unraidGuid(spec)}), ${spec.speed} speed, ${resolved.luns.length} LUN(s)`);
  deps.checkpoint('configfs');

  const bind = { kind: 'write' as const, path: udcFile(vmid), value: udc };
  try {
    applyOp(fs, bind);
  } catch (err) {
    throw kernelError(bind, err);
  }
  log.info(`bound to ${udc}`);
  deps.checkpoint('bound');
  return record;
}
