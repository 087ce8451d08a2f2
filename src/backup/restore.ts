/**
 * `restore <vmid> --from <archive|time> [--to <image|storage:volume>] [--lun N]`: writes a stick copy back.
 * Without --to: the volume the manifest names when the copy is of a volume LUN, else the notes' image.
 * A volume target is restore-volume.ts's; the rest of this header is about image files.
 * Refused (BackupError / ImagePolicyError, nothing written) when: the VM runs; a live stick record
 * names this VM or the target image; the target breaks the image policy or is not a regular file; the
 * manifest is not ours; the copy's size or SHA-256 differs from the manifest. The copy is written to a
 * temp file beside the target, verified, checked against the image policy once more (it is a real file
 * there now) and renamed over the target: the old image stays whole until the new one is complete.
 */
import { imageContext } from '../host/image-facts.js';
import type { ImageContext } from '../host/image-policy.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostFs } from '../ports/host-fs.js';
import { BackupError, ImagePolicyError } from '../errors.js';
import { exportedImages } from '../host/conflicts.js';
import { checkImage } from '../host/image-policy.js';
import type { VmSource } from '../hook/vm-source.js';
import type { Settings } from '../settings/types.js';
import { validateNotes } from '../spec/validate.js';
import type { StateStore } from '../state/record.js';
import type { Exec } from '../ports/exec.js';
import type { Log } from '../ports/log.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import { findStickBackup, type StickBackup } from './catalog.js';
import { ChecksumMismatch, copyWithHash } from './copy-file.js';
import { restoreToVolume } from './restore-volume.js';

export interface RestoreDeps {
  fs: HostFs;
  settings: Settings;
  state: StateStore;
  vms: VmSource;
  isRunning(vmid: number): Promise<boolean>;
  print(line: string): void;
  pid: number;
  /** PVE::Storage's bridge (storage/pve-lib.ts) for a volume target, and its log lines */
  exec: Exec;
  log: Log;
}

export interface RestoreRequest {
  vmid: number;
  from: string;
  to?: string;
  lun?: number;
  dumpDirs: readonly string[];
}

const isUnder = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

export async function restoreStick(deps: RestoreDeps, req: RestoreRequest): Promise<{ target: string; backup: StickBackup }> {
  const backup = findStickBackup(deps.fs, req.dumpDirs, req.vmid, req.from);
  const index = req.lun ?? 0;
  const lun = backup.manifest.luns.find((l) => l.index === index);
  if (!lun) throw new BackupError(`the stick copy ${backup.base} has no LUN ${index} (it has ${backup.manifest.luns.map((l) => l.index).join(', ')})`, { fix: 'give --lun with one of those' });
  if (await deps.isRunning(req.vmid)) throw new BackupError(`VM ${req.vmid} is running`, { fix: `stop it first (qm shutdown ${req.vmid}), then restore` });
  if (deps.state.read(req.vmid)) {
    throw new BackupError(`the stick of VM ${req.vmid} is live`, { path: deps.state.path(req.vmid), fix: `pve-usb-gadget down ${req.vmid}, then restore` });
  }
  const wanted = req.to ?? (looksLikeVolumeId(lun.image) ? lun.image : await notesImage(deps, req.vmid, index));
  const u = backup.manifest.usb;
  const what = `LUN ${index} of ${backup.base} (VM ${backup.manifest.vmid}'s stick ${u.vendorId}:${u.productId} serial ${u.serial})`;
  if (looksLikeVolumeId(wanted)) {
    const copy = `${backup.dumpDir}/${lun.file}`;
    if (!fs.lstatSync(deps.fs.real(copy), { throwIfNoEntry: false })?.isFile()) throw missingCopy(backup, lun.file);
    const r = await restoreToVolume(deps, { vmid: req.vmid, volid: wanted, copy, expect: { size: lun.size, sha256: lun.sha256 } });
    const rest = r.bytes - lun.size;
    deps.print(`restored ${what} to volume ${wanted} (${r.device}): ${lun.size} bytes, SHA-256 verified${rest > 0 ? `; the volume's other ${rest} bytes are zero` : ''}`);
    await warnIdentity(deps, req.vmid, backup);
    return { target: wanted, backup };
  }
  const ctx = imageContext(deps.fs, deps.settings, req.vmid);
  const target = resolveTarget(deps, wanted, ctx);
  for (const r of deps.state.list()) {
    if (r.luns.some((l) => l.image === target)) throw new BackupError(`${target} is the live stick of VM ${r.vmid}`, { path: target, fix: 'restore to another image, or stop that VM' });
  }
  // configfs is the ground truth: a gadget whose record is gone still exports its image
  const exported = exportedImages(deps.fs, '').find((u) => u.image === target);
  if (exported) throw new BackupError(`${target} is exported by ${exported.by} right now`, { path: target, fix: 'stop that VM (or pve-usb-gadget down <vmid>) first' });
  const src = deps.fs.real(`${backup.dumpDir}/${lun.file}`);
  if (!fs.lstatSync(src, { throwIfNoEntry: false })?.isFile()) throw missingCopy(backup, lun.file);
  const dir = path.posix.dirname(target);
  const tmp = `${dir}/.${path.posix.basename(target)}.pvug-restore-${deps.pid}`;
  const realTmp = deps.fs.real(tmp);
  fs.rmSync(realTmp, { force: true });
  try {
    try {
      copyWithHash(src, realTmp, { size: lun.size, sha256: lun.sha256 });
    } catch (err) {
      if (err instanceof ChecksumMismatch) {
        throw new BackupError(`the stick copy ${lun.file} does not match its manifest (${err.message}); nothing was overwritten`, {
          path: `${backup.dumpDir}/${lun.file}`,
          fix: 'the copy is damaged: restore from another backup',
        });
      }
      throw err;
    }
    const old = deps.fs.exists(target) ? fs.statSync(deps.fs.real(target)) : undefined;
    if (old) fs.chmodSync(realTmp, old.mode & 0o7777);
    // the whole policy (system locations, size, kind) now that there is a real file to check
    checkImage(deps.fs, deps.settings, '--to', tmp, false, ctx);
    fs.renameSync(realTmp, deps.fs.real(target));
  } finally {
    fs.rmSync(realTmp, { force: true });
  }
  deps.print(`restored ${what} to ${target}: ${lun.size} bytes, SHA-256 verified`);
  await warnIdentity(deps, req.vmid, backup);
  return { target, backup };
}

const missingCopy = (backup: StickBackup, file: string) =>
  new BackupError(`the stick copy file ${file} is missing`, { path: `${backup.dumpDir}/${file}`, fix: 'pick another backup (pve-usb-gadget backup list)' });

async function notesImage(deps: RestoreDeps, vmid: number, index: number): Promise<string> {
  const vm = await deps.vms.read(vmid);
  const r = validateNotes(vm.description, { vmid, smbiosUuid: vm.smbiosUuid, defaultSpeed: deps.settings.defaultSpeed });
  const image = r.kind === 'ok' ? r.spec.luns.find((l) => l.index === index)?.image : undefined;
  if (image === undefined) throw new BackupError(`VM ${vmid}'s notes name no image for LUN ${index}`, { key: 'usb-gadget.image', fix: 'give --to <image path or storage:volume>' });
  return image;
}

/** The realpath to write: an existing regular image file the policy allows, or a new name in an allowed directory. */
function resolveTarget(deps: RestoreDeps, wanted: string, ctx: ImageContext): string {
  if (!wanted.startsWith('/') || wanted.split('/').some((s) => s === '.' || s === '..')) {
    throw new ImagePolicyError(`restore target ${wanted.slice(0, 120)} must be an absolute path without . or ..`, { key: '--to' });
  }
  if (deps.fs.exists(wanted)) {
    const real = checkImage(deps.fs, deps.settings, '--to', wanted, false, ctx);
    if (deps.fs.stat(real).kind !== 'file') throw new ImagePolicyError(`restore target ${real} is not a regular file`, { key: '--to', path: real, fix: 'restore to an image file' });
    return real;
  }
  const parent = path.posix.dirname(wanted);
  let realParent: string;
  try {
    realParent = deps.fs.realpath(parent);
  } catch {
    throw new ImagePolicyError(`the directory of restore target ${wanted} does not exist`, { key: '--to', path: parent, fix: 'create it inside an allowed images directory' });
  }
  const allowed = deps.settings.images.allowedDirs.map((d) => {
    try {
      return deps.fs.realpath(d);
    } catch {
      return d;
    }
  });
  if (!allowed.some((d) => isUnder(realParent, d))) {
    throw new ImagePolicyError(`restore target ${wanted} refused: not inside an allowed directory (${deps.settings.images.allowedDirs.join(', ')})`, {
      key: '--to',
      path: wanted,
      fix: 'restore into an allowed images directory ([images] allowed_dirs)',
    });
  }
  return `${realParent}/${path.posix.basename(wanted)}`;
}

async function warnIdentity(deps: RestoreDeps, vmid: number, backup: StickBackup): Promise<void> {
  try {
    const vm = await deps.vms.read(vmid);
    const r = validateNotes(vm.description, { vmid, smbiosUuid: vm.smbiosUuid, defaultSpeed: deps.settings.defaultSpeed });
    if (r.kind !== 'ok') return;
    const hex = (n: number) => n.toString(16).padStart(4, '0');
    const u = backup.manifest.usb;
    if (hex(r.spec.vendorId) !== u.vendorId || hex(r.spec.productId) !== u.productId || r.spec.serial !== u.serial) {
      deps.print(
        `WARNING: VM ${vmid}'s notes give ${hex(r.spec.vendorId)}:${hex(r.spec.productId)} serial ${r.spec.serial}, the copy was made as ${u.vendorId}:${u.productId} serial ${u.serial}: set vendor_id, product_id and serial in the notes to the copy's to keep the stick's identity (licence GUID)`,
      );
    }
  } catch {
    // the identity hint is advice; the restore itself is done
  }
}
