/**
 * `pve-usb-gadget media <vmid> insert|eject`: one media change on a live stick, under the host lock
 * (pre-start, post-stop and other media changes wait). Order: settle an interrupted earlier change →
 * refusals that need no image → image policy (a volume id is activated with the record saying so
 * first) → decide (decide.ts) → write (run-steps.ts) → record the result → release the old volume.
 * Any refusal before the writes leaves the host as it was (a volume activated for it is released).
 */
import type { HookDeps } from '../hook/deps.js';
import { withLock } from '../hook/pre-start.js';
import { imageContext, volumeUses } from '../host/image-facts.js';
import { checkImage, type ImageUse } from '../host/image-policy.js';
import { gadgetName } from '../plan/ops.js';
import type { GadgetRecord } from '../state/record.js';
import { lunImageKey, releaseVolumes, type LunVolume } from '../storage/resolve.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import { checkTarget, decideMedia, type MediaRequest } from './decide.js';
import { readLiveLuns } from './live-lun.js';
import { runSteps } from './run-steps.js';
import { settleRecord } from './settle.js';
import { activateForMedia } from './volume.js';

export type MediaCommand =
  | { action: 'eject'; lun: number; force: boolean }
  /** `image` as the admin gave it: an absolute path or a volume id; readonly/cdrom default to the LUN's */
  | { action: 'insert'; lun: number; image: string; readonly?: boolean; cdrom?: boolean; force: boolean };

export type MediaDeps = Pick<HookDeps, 'fs' | 'exec' | 'log' | 'settings' | 'state' | 'lock' | 'clock'> & {
  afterStep?: (done: number) => void;
};

export interface MediaResult {
  changed: boolean;
  /** what the LUN serves now ('' = no medium) */
  file: string;
  ro: boolean;
  cdrom: boolean;
  message: string;
}

async function release(deps: MediaDeps, record: GadgetRecord, volumes: readonly LunVolume[]): Promise<GadgetRecord> {
  if (volumes.length === 0) return record;
  const r = await releaseVolumes(deps, volumes.map((volume) => ({ index: -1, volume })));
  const kept = r.kept.flatMap((l) => (l.volume ? [l.volume] : []));
  const { spareVolumes: _s, ...rest } = record;
  const next = { ...rest, ...(kept.length > 0 ? { spareVolumes: kept } : {}) };
  deps.state.write(next);
  return next;
}

export async function changeMedia(deps: MediaDeps, vmid: number, cmd: MediaCommand, vmConfig?: Readonly<Record<string, string>>): Promise<MediaResult> {
  return withLock(deps, async () => {
    const { fs, state, log } = deps;
    let record = state.read(vmid);
    let live = readLiveLuns(fs, vmid);
    if (record?.media) {
      log.warn(`an earlier media change of lun${record.media.lun} (pid ${record.media.pid}, ${record.media.done}/${record.media.steps} writes) did not finish: settling the record from configfs`);
      const s = settleRecord(record, live);
      state.write(s.record);
      record = await release(deps, s.record, s.release);
    }
    const target = checkTarget(vmid, cmd.lun, record, live);
    if (!('index' in target)) throw target.kind === 'refused' ? target.error : new Error('unreachable');
    const rec = record as GadgetRecord;

    let req: MediaRequest;
    let newVolume: LunVolume | undefined;
    if (cmd.action === 'eject') {
      req = cmd;
    } else {
      const cdrom = cmd.cdrom ?? target.cdrom;
      const ro = cdrom || (cmd.readonly ?? target.ro);
      const key = lunImageKey(cmd.lun);
      const own: ImageUse[] = live.filter((l) => l.index !== cmd.lun && l.file !== '').map((l) => ({ image: l.file, readonly: l.ro, by: `lun${l.index} of this VM` }));
      // what the notes' images are judged against (storage.cfg, every VM's drives, other gadgets), plus this stick's other LUNs
      const gathered = imageContext(fs, deps.settings, vmid, vmConfig);
      const ctx = { ...gathered, inUse: [...gathered.inUse, ...own] };
      const inUse = [...volumeUses(gathered), ...own];
      let image: string;
      const served = rec.luns.find((l) => l.index === cmd.lun)?.volume;
      if (looksLikeVolumeId(cmd.image) && served?.volid === cmd.image && served.device === target.file) {
        image = target.file; // already active and served: activating it again would be released twice
      } else if (looksLikeVolumeId(cmd.image)) {
        const a = await activateForMedia(deps, vmid, rec, { key, volid: cmd.image, readonly: ro, inUse, vmConfig }).catch(async (err: unknown) => {
          const now = state.read(vmid) ?? rec;
          await release(deps, now, now.spareVolumes ?? []);
          throw err;
        });
        newVolume = a.volume;
        image = a.device;
        record = a.record;
      } else {
        image = checkImage(fs, deps.settings, key, cmd.image, ro, ctx);
      }
      req = { action: 'insert', lun: cmd.lun, image, ro, cdrom, force: cmd.force };
    }

    const base = record as GadgetRecord;
    const dropNew = async () => {
      if (!newVolume) return;
      await release(deps, base, base.spareVolumes ?? []);
    };
    const decision = decideMedia(vmid, req, base, live);
    if (decision.kind === 'refused') {
      await dropNew();
      throw decision.error;
    }
    if (decision.kind === 'nothing') {
      // a volume activated again for what the LUN already serves belongs to the LUN, not to the spares
      if (newVolume) state.write(settleRecord(base, live).record);
      return { changed: false, file: target.file, ro: target.ro, cdrom: target.cdrom, message: `${decision.reason}: nothing changed` };
    }
    try {
      runSteps({ fs, state, now: () => deps.clock.now(), afterStep: deps.afterStep }, base, req, decision.steps);
    } catch (err) {
      // configfs is the truth for how far it got: the record follows it, unserved volumes go
      live = readLiveLuns(fs, vmid);
      const s = settleRecord(state.read(vmid) ?? base, live);
      state.write(s.record);
      await release(deps, s.record, s.release);
      throw err;
    }
    live = readLiveLuns(fs, vmid);
    const s = settleRecord(state.read(vmid) ?? base, live);
    state.write(s.record);
    await release(deps, s.record, s.release);
    const now = live.find((l) => l.index === cmd.lun);
    const file = now?.file ?? '';
    const message =
      req.action === 'eject'
        ? `lun${cmd.lun}: ${req.force ? 'force-ejected' : 'ejected'} ${target.file}`
        : `lun${cmd.lun}: now serves ${file}${now?.cdrom ? ' (cdrom)' : now?.ro ? ' (read-only)' : ''}${target.file ? ` (was ${target.file})` : ''}`;
    log.info(message);
    return { changed: true, file, ro: now?.ro ?? false, cdrom: now?.cdrom ?? false, message };
  });
}
