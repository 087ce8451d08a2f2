/**
 * `rollback <vmid> <name>`: the VM and its stick back to the snapshot, or, refused, nothing changed.
 * Every LUN copy is first written to a temp file beside the image it was taken from, verified against
 * the manifest's size and SHA-256 while written (a mismatch overwrites nothing), and checked by the
 * image policy once it is a real file. Then:
 *   - a snapshot without RAM: `qm rollback`; only when it succeeded the temps are renamed over the
 *     images (atomic); when it fails they are removed;
 *   - a snapshot with RAM (vmstate): qm rollback starts the VM itself, from that RAM, before it returns
 *     (pve-guest-common AbstractConfig.pm snapshot_rollback -> __snapshot_rollback_vm_start; qemu-server
 *     QemuConfig.pm vm_start with the statefile), and pre-start then builds the stick: so the images
 *     are swapped in before qm runs, the old ones kept under a temp name, and put back if qm fails.
 * Refused while the VM runs (qm rollback would stop it hard: QemuConfig __snapshot_rollback_vm_stop)
 * and while its stick is live.
 * Volume LUNs go back to their storage snapshot (PVE::Storage volume_snapshot_rollback; volumes.ts)
 * after the copies are verified and just before `qm rollback` (with RAM, qm starts the VM, which must
 * find them rolled back). The stick is not live, so post-stop has unmapped RBD images and deactivated
 * thick volumes; LVM-thin stays active (as Proxmox keeps it), and its rollback recreates the LV.
 */
import * as fs from 'node:fs';
import { ChecksumMismatch, copyWithHash } from '../backup/copy-file.js';
import { GadgetError, SnapshotError } from '../errors.js';
import { imageContext } from '../host/image-facts.js';
import { checkImage } from '../host/image-policy.js';
import { lunImageKey } from '../storage/resolve.js';
import { decideRollback, type RollbackLun, type RollbackTargets } from './decide.js';
import type { SnapshotDeps } from './deps.js';
import { readVmFacts, stickSnapshotOf } from './facts.js';
import { rollbackKeep, rollbackTemp } from './names.js';
import type { StickSnapshot } from './store.js';
import type { ManifestVolume } from './manifest.js';
import { rollbackVolumes } from './volumes.js';

export interface RollbackResult {
  luns: RollbackLun[];
  volumes: ManifestVolume[];
  vmstate: boolean;
}

/** The image policy's answer for every image the snapshot's copies go back to. */
function judgeTargets(deps: SnapshotDeps, vmid: number, stick: StickSnapshot): RollbackTargets {
  const judged: RollbackTargets['judged'] = new Map();
  const liveElsewhere = new Map<string, number>();
  for (const r of deps.state.list()) for (const l of r.luns) if (r.vmid !== vmid && l.image) liveElsewhere.set(l.image, r.vmid);
  if (stick.kind !== 'complete') return { judged, liveElsewhere };
  const ctx = imageContext(deps.fs, deps.settings, vmid);
  for (const lun of stick.folders.flatMap((f) => f.manifest.luns)) {
    const key = lunImageKey(lun.index);
    try {
      if (!deps.fs.exists(lun.source)) {
        throw new SnapshotError(`LUN ${lun.index}'s image ${lun.source}, which the snapshot was taken from, is gone`, { key, path: lun.source, fix: 'put an image file there (its content is replaced), then roll back again' });
      }
      const real = checkImage(deps.fs, deps.settings, key, lun.source, false, ctx);
      if (deps.fs.stat(real).kind !== 'file') throw new SnapshotError(`LUN ${lun.index}'s image ${real} is not a regular file`, { key, path: real, fix: 'a stick snapshot goes back to an image file' });
      judged.set(lun.index, { real });
    } catch (err) {
      if (!(err instanceof GadgetError)) throw err;
      judged.set(lun.index, { error: err });
    }
  }
  return { judged, liveElsewhere };
}

export async function rollbackVm(deps: SnapshotDeps, vmid: number, name: string): Promise<RollbackResult> {
  const facts = await readVmFacts(deps, vmid);
  const stick = stickSnapshotOf(deps, facts, name);
  const d = decideRollback(facts, name, stick, judgeTargets(deps, vmid, stick));
  if (d.kind === 'refuse') throw d.error;
  const { luns, volumes, vmstate, warnings } = d.plan;
  const say = (l: string) => deps.print(`VM ${vmid}: ${l}`);
  const ctx = imageContext(deps.fs, deps.settings, vmid);
  const temps = luns.map((l) => rollbackTemp(l.target, deps.pid));
  const rolled: ManifestVolume[] = [];
  try {
    luns.forEach((l, i) => writeVerified(deps, l, temps[i] as string, ctx));
    await rollbackVolumes(deps, volumes, rolled);
    if (vmstate) await swapInThenRollback(deps, vmid, name, luns, temps, rolled.length > 0);
    else {
      await qmRollback(deps, vmid, name, rolled.length > 0);
      luns.forEach((l, i) => fs.renameSync(deps.fs.real(temps[i] as string), deps.fs.real(l.target)));
    }
  } catch (err) {
    if (rolled.length === 0 || !(err instanceof GadgetError)) throw err;
    // the volumes are back, the VM (and the files) are not: say so, with the command that finishes it
    throw new SnapshotError(`${err.message}; the storage snapshot was already rolled back for ${rolled.map((v) => `${v.volid} (LUN ${v.index})`).join(', ')}`, {
      cause: err,
      fix: `fix the cause, then run pve-usb-gadget rollback ${vmid} ${name} again (it rolls the volumes back once more)`,
    });
  } finally {
    for (const t of temps) fs.rmSync(deps.fs.real(t), { force: true });
  }
  for (const l of luns) say(`LUN ${l.index}: ${l.target} is back to snapshot ${name} (${l.size} bytes, SHA-256 verified)`);
  for (const v of volumes) say(`LUN ${v.index}: volume ${v.volid} is back to its storage snapshot ${v.snapshot} (${v.type})`);
  if (luns.length === 0 && volumes.length === 0) say('the stick has nothing to roll back (read-only media only)');
  for (const w of warnings) say(`WARNING: ${w}`);
  say(`rolled back to snapshot ${name}: the VM (qm rollback)${luns.length + volumes.length > 0 ? ' and its stick' : ''}${vmstate ? '; the snapshot has RAM, so qm started the VM from it' : ''}`);
  return { luns, volumes, vmstate };
}

/** The copy written to `tmp` beside its image and verified; the policy checked on the real file. */
function writeVerified(deps: SnapshotDeps, l: RollbackLun, tmp: string, ctx: ReturnType<typeof imageContext>): void {
  const realTmp = deps.fs.real(tmp);
  fs.rmSync(realTmp, { force: true });
  try {
    copyWithHash(deps.fs.real(l.from), realTmp, { size: l.size, sha256: l.sha256 });
  } catch (err) {
    if (err instanceof ChecksumMismatch) {
      throw new SnapshotError(`the snapshot copy of LUN ${l.index} does not match its manifest (${err.message}); nothing was overwritten`, {
        path: l.from,
        fix: 'the copy is damaged: roll back the VM alone (qm rollback) and restore the stick from a backup (pve-usb-gadget restore)',
      });
    }
    throw err;
  }
  fs.chmodSync(realTmp, fs.statSync(deps.fs.real(l.target)).mode & 0o7777);
  // the whole policy (system locations, size, links) on the real file that will become the image
  checkImage(deps.fs, deps.settings, lunImageKey(l.index), tmp, false, ctx);
}

/** qm rollback; its failure said with what it means for the stick: untouched. */
async function qmRollback(deps: SnapshotDeps, vmid: number, name: string, volumesBack = false): Promise<void> {
  try {
    await deps.qm.rollback(vmid, name);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SnapshotError(`${why}; the stick${volumesBack ? "'s image files were" : ' was'} left as ${volumesBack ? 'they were' : 'it was'}`, { cause: err, fix: err instanceof GadgetError && err.fix ? err.fix : 'see the qm message' });
  }
}

/** vmstate: images in place first (the old ones kept aside), qm rollback, the old ones back if it fails. */
async function swapInThenRollback(deps: SnapshotDeps, vmid: number, name: string, luns: readonly RollbackLun[], temps: readonly string[], volumesBack: boolean): Promise<void> {
  const real = (p: string) => deps.fs.real(p);
  const swapped: RollbackLun[] = [];
  const putBack = () => {
    for (const l of swapped.splice(0).reverse()) fs.renameSync(real(rollbackKeep(l.target, deps.pid)), real(l.target));
  };
  try {
    luns.forEach((l, i) => {
      fs.renameSync(real(l.target), real(rollbackKeep(l.target, deps.pid)));
      swapped.push(l);
      fs.renameSync(real(temps[i] as string), real(l.target));
    });
  } catch (err) {
    putBack();
    throw err;
  }
  try {
    await qmRollback(deps, vmid, name, volumesBack);
  } catch (err) {
    putBack();
    throw err;
  }
  for (const l of swapped) fs.rmSync(real(rollbackKeep(l.target, deps.pid)), { force: true });
}
