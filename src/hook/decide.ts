/**
 * The pre-start decision: spec + facts (facts.ts) + settings → what to build, or the refusal (thrown, as
 * the typed errors of the checks it runs: ImagePolicyError, ConflictError, VolumeRefusedError). Pure, so
 * the same function judges the facts read outside the host lock and those read again under it.
 */
import { assertUsbIdFree } from '../host/conflicts.js';
import { volumeUses } from '../host/image-facts.js';
import { judgeImage, type ImageUse } from '../host/image-policy.js';
import { ignoreEntry } from '../host/quirks.js';
import { allocateUdc } from '../host/udc.js';
import { planGadget, bindOp } from '../plan/gadget-plan.js';
import { gadgetDir, type Op } from '../plan/ops.js';
import type { Settings } from '../settings/types.js';
import { usbId, type GadgetSpec } from '../spec/types.js';
import type { GadgetRecord } from '../state/record.js';
import { decideVolumes, lunImageKey } from '../storage/resolve.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import type { VolumePlan } from '../storage/volume-rules.js';
import type { PreStartFacts } from './facts.js';

export interface PreStartPlan {
  kind: 'plan';
  /** the spec with each path LUN's image replaced by its realpath; volume LUNs keep their id until activated */
  spec: GadgetSpec;
  /** the volume LUNs' plans, by LUN index (activated by the apply step) */
  volumes: ReadonlyMap<number, VolumePlan>;
  /** what an activated volume's device is compared with: other gadgets' exports and every VM's drives */
  volumeUses: ImageUse[];
  /** the gadget to build; only when the facts hold the controllers (the decision under the lock) */
  build?: GadgetBuild;
}

export interface GadgetBuild {
  udc: string;
  /** the state record to write before anything it describes is created */
  record: GadgetRecord;
  /**
   * configfs operations for `spec` (plan/gadget-plan.ts). A volume LUN's file is known only once PVE has
   * activated it: then the apply step runs the same planner on the activated spec (gadgetOps).
   */
  ops: Op[];
  /** the last write: the gadget bound to `udc` */
  bind: Op;
}

export function decidePreStart(vmid: number, spec: GadgetSpec, facts: PreStartFacts, settings: Settings): PreStartPlan {
  const ctx = facts.images;
  // volume ids (storage:volume) are checked now and resolved once activated (apply)
  const volumes = decideVolumes(settings, vmid, spec, { storages: ctx.storages, files: facts.volumeFiles }, ctx.vmConfig);
  const luns = spec.luns.map((lun) => {
    const path = looksLikeVolumeId(lun.image) ? undefined : facts.paths.get(lun.image);
    // gatherPreStartFacts reads every path LUN: a missing entry is a caller's mistake, not a user's
    if (!looksLikeVolumeId(lun.image) && !path) throw new Error(`no facts for image ${lun.image}`);
    return path ? { ...lun, image: judgeImage(settings, lunImageKey(lun.index), lun.readonly, ctx, path) } : lun;
  });
  const checked: GadgetSpec = { ...spec, luns };
  const id = usbId(spec);
  // a leftover gadget of this VM still shows its device with this id: only the check after the locked
  // cleanup can tell whether the id is free
  if (!facts.ownGadget) assertUsbIdFree(id, facts.gadgets, facts.devices);
  const plan: PreStartPlan = { kind: 'plan', spec: checked, volumes, volumeUses: volumeUses(ctx) };
  if (!facts.udcs) return plan;

  const udc = allocateUdc(facts.udcs, new Set(facts.reservedUdcs));
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
    createdAt: new Date(facts.now).toISOString(),
    pid: facts.pid,
  };
  return { ...plan, build: { udc, record, ops: planGadget(vmid, checked), bind: bindOp(vmid, udc) } };
}
