/**
 * `snapshot <vmid> <name> [--description T] [--vmstate]`: the stick's copy first, then `qm snapshot`;
 * when qm fails the copy is removed, so either both exist or neither (or, killed half-way, a stick
 * snapshot without a VM snapshot, which doctor lists with the command that removes it).
 *
 * The point in time of the stick (backup/capture.ts's methods):
 *   offline         the VM is stopped: plain copy, then its status is read again (started meanwhile:
 *                   the copy is dropped; we hold no Proxmox lock, qm takes its own)
 *   reflink         running: a reflink clone into the snapshot folder, the guest is not paused
 *   pause           running, no reflinks: `qm suspend`, copy, `qm resume` (plain qm: no vzdump lock
 *                   is held here, and --skiplock would override someone else's)
 *   already-paused  the guest was paused by someone else: copy, and it stays paused
 * With --vmstate on a running VM the guest stays paused from before the copy until `qm snapshot` has
 * saved its RAM: the RAM then knows exactly the stick data the copy holds (a guest resumed from that
 * RAM with a newer or older stick would see its cached filesystem disagree with the medium).
 * Without --vmstate the stick and the VM's disks are each crash-consistent, moments apart.
 *
 * A LUN on a Proxmox volume whose storage can snapshot it (volume_has_feature: LVM-thin, ZFS, RBD)
 * gets a storage snapshot named like the VM's (volumes.ts), taken before qm and deleted again when qm
 * fails; it is atomic, so the guest is not paused for it (with --vmstate it is taken inside the pause,
 * like the copies). Its manifest lies under VOLUME_SNAPSHOT_ROOT. A storage that cannot is refused first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CopyResult } from '../backup/copy-file.js';
import { manifestUsb, type ManifestLun } from '../backup/manifest.js';
import { GadgetError, SnapshotError } from '../errors.js';
import { unraidGuid } from '../spec/guid.js';
import { usbId, type GadgetSpec } from '../spec/types.js';
import { copyAll, hashAll, partPath, reflinkAll, type LunCopy } from './copy-luns.js';
import { decideSnapshot, type SnapshotPlan } from './decide.js';
import type { SnapshotDeps } from './deps.js';
import { readVmFacts, stickSnapshotOf } from './facts.js';
import { SNAPSHOT_FORMAT, serializeSnapshotManifest, type ManifestVolume, type SnapshotMethod } from './manifest.js';
import { lunFile, MANIFEST_FILE, snapshotFolder, VOLUME_SNAPSHOT_ROOT } from './names.js';
import { removeVolumeSnapshots, snapshotVolumes, volumeCaps } from './volumes.js';
import { makeStickFolder, removeStickFolder } from './store.js';

export interface SnapshotRequest {
  vmid: number;
  name: string;
  description?: string;
  vmstate?: boolean;
}

export interface SnapshotResult {
  method: SnapshotMethod;
  /** how long the guest was paused in all (with --vmstate: until qm had saved the RAM) */
  pausedMs: number;
  folders: string[];
  luns: ManifestLun[];
  volumes: ManifestVolume[];
  guid: string;
}

const METHOD_TEXT: Record<SnapshotMethod, string> = {
  offline: 'copied while the VM was stopped',
  reflink: 'reflink clone while the guest ran, not paused',
  pause: 'guest paused for it',
  'already-paused': 'the guest was already paused and stays so',
  storage: 'storage snapshots only',
};

export async function snapshotVm(deps: SnapshotDeps, req: SnapshotRequest): Promise<SnapshotResult> {
  const { vmid, name } = req;
  const facts = await readVmFacts(deps, vmid);
  const d = decideSnapshot(facts, name, stickSnapshotOf(deps, facts, name), req.vmstate === true, await volumeCaps(deps, facts));
  if (d.kind === 'refuse') throw d.error;
  const plan = d.plan;
  const spec = facts.spec as GadgetSpec;
  const say = (l: string) => deps.print(`VM ${vmid}: ${l}`);
  for (const s of plan.skipped) say(s);
  if (plan.vmstate && !plan.live) say('--vmstate: the VM is stopped, there is no RAM to save (qm saves none)');
  const copies: LunCopy[] = plan.copy.map((l) => ({ index: l.index, real: l.real, folder: snapshotFolder(path.posix.dirname(l.real), vmid, name) }));
  const made: string[] = [];
  const taken: ManifestVolume[] = [];
  const atPoint = () => snapshotVolumes(deps, plan.volumes, name, taken);
  let qmDone = false;
  let qmFailed = false;
  const qmSnapshot = async () => {
    try {
      await deps.qm.snapshot(vmid, name, { description: req.description, vmstate: req.vmstate });
    } catch (err) {
      qmFailed = true;
      throw err;
    }
    qmDone = true;
  };
  try {
    for (const root of new Set(plan.copy.map((l) => path.posix.dirname(l.real)))) made.push(makeStickFolder(deps.fs, root, vmid, name));
    if (plan.volumes.length > 0) made.push(makeStickFolder(deps.fs, VOLUME_SNAPSHOT_ROOT, vmid, name));
    const finish = (method: SnapshotMethod, pausedMs: number, sums: Map<number, CopyResult>) => writeStick(deps, req, plan, spec, copies, taken, { method, pausedMs, sums });
    const point = await takePoint(deps, vmid, plan, copies, finish, qmSnapshot, atPoint);
    if (!qmDone) await qmSnapshot();
    const luns = point.luns;
    for (const l of luns) say(`LUN ${l.index} ${l.image}: ${l.size} bytes, SHA-256 ${l.sha256}, in ${copies.find((c) => c.index === l.index)?.folder}`);
    for (const v of taken) say(`LUN ${v.index} ${v.volid}: storage snapshot ${v.snapshot} (${v.type}, atomic: the guest was not paused for it${point.method === 'pause' && copies.length === 0 ? ' beyond --vmstate' : ''})`);
    if (copies.length === 0 && taken.length === 0) say('the stick has nothing to snapshot: only qm snapshot was taken');
    else if (copies.length > 0) say(`stick copied: method ${point.method} (${METHOD_TEXT[point.method]}), guest paused ${point.pausedMs} ms${plan.vmstate && plan.live ? ' in all, until qm had saved the RAM' : ''}`);
    const guid = unraidGuid(spec);
    say(`snapshot ${name} made: the VM (qm snapshot) and its stick ${usbId(spec)} serial ${spec.serial}, unRAID GUID ${guid}`);
    return { method: point.method, pausedMs: point.pausedMs, folders: made, luns, volumes: taken, guid };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (qmDone) {
      // the VM snapshot exists: its stick snapshot stays with it
      throw new SnapshotError(`snapshot ${name} of VM ${vmid} was made, but then: ${why}`, {
        cause: err,
        fix: `check the guest runs (qm status ${vmid} --verbose; qm resume ${vmid} if it is paused)`,
      });
    }
    const left = await removeVolumeSnapshots(deps, taken, facts.run.running);
    for (const f of made) {
      try {
        removeStickFolder(deps.fs, f);
      } catch {
        // the error below says nothing was kept; doctor lists a folder that stayed anyway
      }
    }
    if (left.length > 0) {
      throw new SnapshotError(`${why}; and these storage snapshots could not be removed again: ${left.map((x) => x.line).join('; ')}`, { cause: err, fix: 'remove them with the storage\'s own tools (lvremove, zfs destroy, rbd snap rm)' });
    }
    if (qmFailed) {
      throw new SnapshotError(`${why}; so the stick copy${taken.length > 0 ? ' and storage snapshots were' : ' was'} removed too, nothing is left`, { cause: err, fix: err instanceof GadgetError && err.fix ? err.fix : 'see the qm message' });
    }
    if (err instanceof GadgetError) throw err;
    throw new SnapshotError(`copying the stick of VM ${vmid} failed, nothing was kept: ${why}`, {
      cause: err,
      fix: 'check free space and permissions beside the image, then try again',
    });
  }
}

interface Point {
  method: SnapshotMethod;
  pausedMs: number;
  luns: ManifestLun[];
}

/** Makes the point in time, calls `finish` (parts → files + manifests) at it, and for --vmstate runs qm while it holds. */
async function takePoint(
  deps: SnapshotDeps,
  vmid: number,
  plan: SnapshotPlan,
  copies: readonly LunCopy[],
  finish: (method: SnapshotMethod, pausedMs: number, sums: Map<number, CopyResult>) => ManifestLun[],
  qmSnapshot: () => Promise<void>,
  atPoint: () => Promise<void>,
): Promise<Point> {
  const { fs: hostFs, cloner, pid, qm, clock } = deps;
  // --vmstate on a running guest: the storage snapshots too are taken inside the pause, before the RAM
  const inPause = plan.vmstate && plan.live && !plan.paused;
  if (!inPause || plan.volumes.length === 0) await atPoint();
  if (copies.length === 0 && (!inPause || plan.volumes.length === 0)) {
    return plan.volumes.length === 0 ? { method: 'offline', pausedMs: 0, luns: [] } : { method: 'storage', pausedMs: 0, luns: finish('storage', 0, new Map()) };
  }
  if (copies.length === 0) {
    await qm.suspend(vmid);
    const t0 = clock.now();
    try {
      await atPoint();
      finish('pause', 0, new Map());
      await qmSnapshot();
    } finally {
      await qm.resume(vmid);
    }
    return { method: 'pause', pausedMs: Math.max(0, Math.round(clock.now() - t0)), luns: [] };
  }
  if (!plan.live) {
    const luns = finish('offline', 0, copyAll(hostFs, copies, pid));
    if ((await qm.status(vmid)).running) throw new SnapshotError(`VM ${vmid} was started while its stick was copied`, { fix: 'try again; stop the VM or let it run, not both' });
    return { method: 'offline', pausedMs: 0, luns };
  }
  const already = plan.paused;
  const copyNow = async () => ((await reflinkAll(hostFs, cloner, copies, pid)) ? hashAll(hostFs, copies, pid) : copyAll(hostFs, copies, pid));
  if (!plan.vmstate) {
    if (await reflinkAll(hostFs, cloner, copies, pid)) return { method: 'reflink', pausedMs: 0, luns: finish('reflink', 0, hashAll(hostFs, copies, pid)) };
    if (already) return { method: 'already-paused', pausedMs: 0, luns: finish('already-paused', 0, copyAll(hostFs, copies, pid)) };
  } else if (already) {
    const luns = finish('already-paused', 0, await copyNow());
    await qmSnapshot();
    return { method: 'already-paused', pausedMs: 0, luns };
  }
  await qm.suspend(vmid);
  const t0 = clock.now();
  const since = () => Math.max(0, Math.round(clock.now() - t0));
  if (plan.vmstate) {
    let luns: ManifestLun[] = [];
    try {
      if (plan.volumes.length > 0) await atPoint();
      const sums = await copyNow();
      // the manifest keeps the pause of the copy; the output says how long it lasted in all
      luns = finish('pause', since(), sums);
      await qmSnapshot();
    } finally {
      await qm.resume(vmid);
    }
    return { method: 'pause', pausedMs: since(), luns };
  }
  let sums: Map<number, CopyResult>;
  try {
    sums = copyAll(hostFs, copies, pid);
  } finally {
    await qm.resume(vmid);
  }
  const pausedMs = since();
  return { method: 'pause', pausedMs, luns: finish('pause', pausedMs, sums) };
}

/** The parts renamed to their final names, then one manifest per folder: its presence means complete. */
function writeStick(deps: SnapshotDeps, req: SnapshotRequest, plan: SnapshotPlan, spec: GadgetSpec, copies: readonly LunCopy[], volumes: readonly ManifestVolume[], got: { method: SnapshotMethod; pausedMs: number; sums: Map<number, CopyResult> }): ManifestLun[] {
  const luns: ManifestLun[] = [];
  for (const c of copies) {
    fs.renameSync(partPath(deps.fs, c, deps.pid), deps.fs.real(`${c.folder}/${lunFile(c.index)}`));
    const sum = got.sums.get(c.index) as CopyResult;
    const image = plan.copy.find((l) => l.index === c.index)?.image ?? c.real;
    luns.push({ index: c.index, image, source: c.real, file: lunFile(c.index), size: sum.size, sha256: sum.sha256, readonly: false, cdrom: false });
  }
  const createdAt = new Date(deps.clock.now()).toISOString();
  const usb = manifestUsb(spec);
  const allLuns = [...copies.map((c) => c.index), ...volumes.map((v) => v.index)].sort((a, b) => a - b);
  const volumeFolder = volumes.length > 0 ? [snapshotFolder(VOLUME_SNAPSHOT_ROOT, req.vmid, req.name)] : [];
  for (const folder of new Set([...copies.map((c) => c.folder), ...volumeFolder])) {
    const here = luns.filter((l) => copies.find((c) => c.index === l.index)?.folder === folder);
    const text = serializeSnapshotManifest({
      format: SNAPSHOT_FORMAT,
      version: 1,
      vmid: req.vmid,
      name: req.name,
      method: got.method,
      pausedMs: got.pausedMs,
      vmstate: plan.vmstate && plan.live,
      createdAt,
      usb,
      guid: unraidGuid(spec),
      allLuns,
      luns: here,
      ...(folder === volumeFolder[0] ? { volumes: [...volumes] } : {}),
    });
    deps.fs.writeAtomic(`${folder}/${MANIFEST_FILE}`, text, 0o600);
  }
  return luns;
}
