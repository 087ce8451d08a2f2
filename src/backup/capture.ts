/**
 * Taking one backup's stick copies: which LUNs, how the point in time is made, and writing the files
 * and the manifest into the dump directory (names.ts). Effects come in through `CaptureDeps`.
 *
 * Methods (manifest `method`):
 *   offline         the guest is not running (our pre-start during a stop-mode backup): plain copy
 *   reflink         `cp --reflink=always` of every LUN next to its image (btrfs, XFS, ZFS 2.2+ block
 *                   cloning): an atomic point-in-time clone of the file, taken in milliseconds while the
 *                   guest runs; then copied from the clone and the clone removed
 *   pause           no reflink: `qm suspend --skiplock` (vzdump holds `lock: backup`), copy, `qm resume
 *                   --skiplock`; the guest is paused exactly for the copy
 *   already-paused  the guest was paused by someone else: copy, and leave it paused
 * A point in time that crashes nothing: what a storage snapshot or pulling the stick would give.
 * Which LUNs and from which path (image files, the devices a live stick serves): sources.ts.
 */
import * as fs from 'node:fs';
import type { HostFs } from '../ports/host-fs.js';
import { BackupError, GadgetError } from '../errors.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../hook/log.js';
import type { Settings } from '../settings/types.js';
import type { GadgetSpec } from '../spec/types.js';
import { copyWithHash } from './copy-file.js';
import { MANIFEST_FORMAT, manifestUsb, serializeManifest, type CopyMethod, type Manifest, type ManifestLun } from './manifest.js';
import { lunFileName, manifestFileName, partFileName } from './names.js';
import type { Mode } from './phases.js';
import { copyableLuns, type RecordReader, type Source } from './sources.js';

export interface GuestControl {
  isPaused(vmid: number): Promise<boolean>;
  pause(vmid: number): Promise<void>;
  resume(vmid: number): Promise<void>;
}

export interface Cloner {
  /** reflink `src` to the new file `dst` (real paths); false when the filesystem cannot */
  reflink(src: string, dst: string): Promise<boolean>;
}

export interface CaptureDeps {
  fs: HostFs;
  settings: Settings;
  log: Logger;
  clock: Clock;
  guest: GuestControl;
  cloner: Cloner;
  pid: number;
  /** this node's gadget records: what a live stick serves (sources.ts) */
  records: RecordReader;
}

export interface CaptureRequest {
  vmid: number;
  mode: Mode;
  /** 'offline' when the guest cannot be running, else 'live' */
  when: 'offline' | 'live';
  dumpDir: string;
  base: string;
  spec: GadgetSpec;
}

/** Takes the copies and writes the manifest. Throws BackupError; then nothing of this run is left. */
export async function captureStick(deps: CaptureDeps, req: CaptureRequest): Promise<Manifest | undefined> {
  const sources = copyableLuns(deps, req.vmid, req.spec);
  if (sources.length === 0) return undefined;
  const made: string[] = [];
  const clones: string[] = [];
  const realDir = deps.fs.real(req.dumpDir);
  try {
    let method: CopyMethod = 'offline';
    let pausedMs = 0;
    let from = new Map(sources.map((s) => [s.index, deps.fs.real(s.real)]));
    if (req.when === 'live') {
      const block = sources.find((s) => s.kind === 'block');
      // a block device has no reflink: the only point in time is the paused guest, as for a file without them
      if (block) deps.log.info(`LUN ${block.index} is the block device ${block.real}: it cannot be reflinked, so the guest is paused for the copy`);
      const cloned = block ? undefined : await cloneAll(deps, req.vmid, sources, clones);
      if (cloned) {
        method = 'reflink';
        from = cloned;
      } else {
        method = (await deps.guest.isPaused(req.vmid)) ? 'already-paused' : 'pause';
      }
    }
    const copies = new Map<number, { size: number; sha256: string }>();
    const copyAll = () => {
      for (const s of sources) {
        const part = `${realDir}/${partFileName(req.base, s.index, deps.pid)}`;
        made.push(part);
        copies.set(s.index, copyWithHash(from.get(s.index) as string, part));
      }
    };
    if (method === 'pause') {
      await deps.guest.pause(req.vmid);
      const t0 = deps.clock.now();
      try {
        copyAll();
      } finally {
        await deps.guest.resume(req.vmid);
        pausedMs = Math.max(0, Math.round(deps.clock.now() - t0));
      }
    } else {
      copyAll();
    }
    const luns: ManifestLun[] = [];
    for (const s of sources) {
      const part = `${realDir}/${partFileName(req.base, s.index, deps.pid)}`;
      const final = `${realDir}/${lunFileName(req.base, s.index)}`;
      fs.renameSync(part, final);
      made.push(final);
      const c = copies.get(s.index) as { size: number; sha256: string };
      luns.push({ index: s.index, image: s.image, source: s.real, file: lunFileName(req.base, s.index), size: c.size, sha256: c.sha256, readonly: s.readonly, cdrom: s.cdrom });
    }
    const spec = req.spec;
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      vmid: req.vmid,
      base: req.base,
      mode: req.mode,
      method,
      pausedMs,
      createdAt: new Date(deps.clock.now()).toISOString(),
      usb: manifestUsb(spec),
      luns,
    };
    // the manifest last, atomically: a manifest on disk means every file it names is complete
    deps.fs.writeAtomic(`${req.dumpDir}/${manifestFileName(req.base)}`, serializeManifest(manifest), 0o600);
    return manifest;
  } catch (err) {
    for (const p of made) fs.rmSync(p, { force: true });
    if (err instanceof GadgetError) throw err;
    throw new BackupError(`copying the stick of VM ${req.vmid} failed: ${err instanceof Error ? err.message : String(err)}`, {
      path: req.dumpDir,
      cause: err,
      fix: 'check free space and permissions of the dump directory and the image; the next backup tries again',
    });
  } finally {
    for (const c of clones) fs.rmSync(c, { force: true });
  }
}

/** Reflink every LUN beside its image; undefined (and no clone left) unless all of them could. */
async function cloneAll(deps: CaptureDeps, vmid: number, sources: readonly Source[], clones: string[]): Promise<Map<number, string> | undefined> {
  const out = new Map<number, string>();
  for (const s of sources) {
    const slash = s.real.lastIndexOf('/');
    // a dot file in the image's own directory: a reflink only works within one filesystem
    const clone = deps.fs.real(`${s.real.slice(0, slash)}/.pvug-backup-${vmid}-lun${s.index}.${deps.pid}.clone`);
    clones.push(clone);
    if (!(await deps.cloner.reflink(deps.fs.real(s.real), clone))) {
      for (const c of clones.splice(0)) fs.rmSync(c, { force: true });
      return undefined;
    }
    out.set(s.index, clone);
  }
  return out;
}
