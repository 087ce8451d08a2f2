import { applyOp, applyPlan, kernelError } from '../apply/apply-plan.js';
import { addIgnoreQuirk } from '../host/quirks.js';
import { planGadget } from '../plan/gadget-plan.js';
import { gadgetDir } from '../plan/ops.js';
import { unraidGuid } from '../spec/guid.js';
import { activateVolumes } from '../storage/resolve.js';
import type { GadgetBuild, PreStartPlan } from './decide.js';
import type { HookDeps } from './deps.js';
import { recordWriter, type RecordWriter } from './record-writer.js';

/**
 * Apply a pre-start plan decided under the host lock (decide.ts): record, activate volumes, quirk,
 * configfs, bind. The record is written before anything it describes is created, and kept current
 * through one writer, so a failure or a kill at any step is undone from it and configfs (teardown.ts).
 * The caller holds the host lock and undoes everything (teardownLocked) if this throws.
 */
export async function applyBuild(deps: HookDeps, vmid: number, plan: PreStartPlan & { build: GadgetBuild }): Promise<RecordWriter> {
  const { fs, log } = deps;
  const { build } = plan;
  const id = build.record.usbId;
  const record = recordWriter(deps.state, build.record);
  deps.checkpoint('recorded');

  // volumes are activated (LVM) or mapped (RBD) with the record kept current, so failures and kills are
  // undone; a volume's image in the record becomes its device once it is checked. The host lock is held
  // since the facts were gathered: nothing else can have started exporting meanwhile.
  const activated = await activateVolumes(deps, plan.spec, plan.volumes, plan.volumeUses, (volumes) =>
    record.update((r) => ({
      ...r,
      luns: r.luns.map((l) => {
        const volume = volumes.get(l.index);
        return volume ? { ...l, volume, image: volume.device ?? l.image } : l;
      }),
    })),
  );

  if (build.record.quirk) {
    if (addIgnoreQuirk(fs, id)) {
      log.info(`usb_storage will ignore ${id} (host isolation)`);
    } else {
      // The kernel's quirks buffer holds about 10 entries. Past that, the host's usb-storage is detached
      // right after enumeration instead (isolateAfterEnumeration): weaker, so say so.
      record.update({ quirk: undefined });
      log.warn(`usb_storage quirks list is full (about 10 sticks with isolation at once): ${id} is isolated by detaching usb-storage after enumeration instead`);
    }
  }
  deps.checkpoint('quirk');

  // a volume LUN's file is known only now: the same planner, on the activated spec
  applyPlan(fs, plan.volumes.size > 0 ? planGadget(vmid, activated) : build.ops);
  const spec = plan.spec;
  log.info(`built ${gadgetDir(vmid)}: ${id}, serial ${spec.serial} (unRAID GUID ${unraidGuid(spec)}), ${spec.speed} speed, ${activated.luns.length} LUN(s)`);
  deps.checkpoint('configfs');

  try {
    applyOp(fs, build.bind);
  } catch (err) {
    throw kernelError(build.bind, err);
  }
  log.info(`bound to ${build.udc}`);
  deps.checkpoint('bound');
  return record;
}
