/**
 * Finding, reading and removing stick snapshot folders (layout: names.ts). Only real directories are
 * entered: every folder is checked to be its own realpath (no component a symlink someone who can
 * write the image directory planted), and removal deletes only the file names we write (OUR_FILE).
 */
import * as path from 'node:path';
import type { HostFs } from '../ports/host-fs.js';
import { SnapshotError } from '../errors.js';
import type { Settings } from '../settings/types.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import { parseSnapshotName } from '../values/snapshot-name.js';
import { parseSnapshotManifest, type SnapshotManifest } from './manifest.js';
import { MANIFEST_FILE, OUR_FILE, snapshotFolder, storeDir, VOLUME_SNAPSHOT_ROOT, vmStoreDir } from './names.js';

export interface StickFolder {
  /** host-absolute, a realpath */
  folder: string;
  manifest?: SnapshotManifest;
  /** why the folder does not count as complete (no manifest yet, or a bad one) */
  problem?: string;
}

export type StickSnapshot =
  | { kind: 'none'; looked: string[] }
  | { kind: 'incomplete'; folders: StickFolder[]; why: string }
  | { kind: 'complete'; folders: (StickFolder & { manifest: SnapshotManifest })[] };

/** A directory that is its own realpath: nothing on the way to it is a symlink. */
export function isRealDir(fs: HostFs, p: string): boolean {
  try {
    return fs.realpath(p) === p && fs.stat(p).kind === 'directory';
  } catch {
    return false;
  }
}

/** The directory of an image's real file (or of its name, when the file is gone). */
export function imageDirOf(fs: HostFs, image: string): string | undefined {
  for (const p of [image, path.posix.dirname(image)]) {
    try {
      const real = fs.realpath(p);
      return p === image ? path.posix.dirname(real) : real;
    } catch {
      // try the next
    }
  }
  return undefined;
}

/**
 * Where stick snapshots of a VM may lie: beside each image the notes name now, then the allowed image
 * directories themselves (a snapshot taken before the notes moved the image to another folder of theirs).
 */
export function storeRoots(fs: HostFs, settings: Settings, images: readonly string[]): string[] {
  const out: string[] = [];
  const add = (d: string | undefined) => d !== undefined && isRealDir(fs, d) && !out.includes(d) && out.push(d);
  for (const image of images) if (!looksLikeVolumeId(image)) add(imageDirOf(fs, image));
  // volume LUNs' manifests; looked in always: the notes may name no volume any more
  add(VOLUME_SNAPSHOT_ROOT);
  for (const d of settings.images.allowedDirs) {
    try {
      add(fs.realpath(d));
    } catch {
      // an allowed dir that does not exist holds nothing
    }
  }
  return out;
}

function readFolder(fs: HostFs, folder: string, vmid: number, name: string): StickFolder {
  const text = fs.readTextIfExists(`${folder}/${MANIFEST_FILE}`);
  if (text === undefined) return { folder, problem: `${folder} has no ${MANIFEST_FILE}: the copy was interrupted` };
  try {
    return { folder, manifest: parseSnapshotManifest(text, `${folder}/${MANIFEST_FILE}`, vmid, name) };
  } catch (err) {
    return { folder, problem: err instanceof SnapshotError ? err.message : String(err) };
  }
}

/** The stick snapshot `name` of VM `vmid` in `roots`: none, incomplete (and why), or complete. */
export function findStickSnapshot(fs: HostFs, roots: readonly string[], vmid: number, name: string): StickSnapshot {
  const folders = roots
    .map((r) => snapshotFolder(r, vmid, name))
    .filter((f) => fs.exists(f))
    .map((f) => (isRealDir(fs, f) ? readFolder(fs, f, vmid, name) : { folder: f, problem: `${f} is not a plain directory (a symlink?)` }));
  if (folders.length === 0) return { kind: 'none', looked: roots.map((r) => snapshotFolder(r, vmid, name)) };
  const broken = folders.find((f) => f.problem !== undefined);
  if (broken?.problem) return { kind: 'incomplete', folders, why: broken.problem };
  const manifests = folders.map((f) => f.manifest as SnapshotManifest);
  const all = [...(manifests[0]?.allLuns ?? [])].sort((a, b) => a - b);
  const have = manifests.flatMap((m) => [...m.luns.map((l) => l.index), ...(m.volumes ?? []).map((v) => v.index)]).sort((a, b) => a - b);
  const sameAll = manifests.every((m) => [...m.allLuns].sort((a, b) => a - b).join() === all.join());
  if (!sameAll || have.join() !== all.join()) {
    return { kind: 'incomplete', folders, why: `the snapshot copied LUN ${all.join(', ')}, these folders hold LUN ${have.join(', ') || 'none'}` };
  }
  return { kind: 'complete', folders: folders as (StickFolder & { manifest: SnapshotManifest })[] };
}

/** Names of the stick snapshots of VM `vmid` in `roots`, each with its folders (for doctor). */
export function listStickSnapshots(fs: HostFs, roots: readonly string[], vmid: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of roots) {
    const dir = vmStoreDir(r, vmid);
    if (!isRealDir(fs, dir)) continue;
    for (const name of fs.list(dir)) {
      if (!parseSnapshotName(name).ok) continue;
      out.set(name, [...(out.get(name) ?? []), `${dir}/${name}`]);
    }
  }
  return out;
}

/**
 * Removes a snapshot folder: our files, the folder, then the VM's and the store's folder if that left
 * them empty. Returns what stayed (files that are not ours are never removed).
 */
export function removeStickFolder(fs: HostFs, folder: string): string[] {
  if (!isRealDir(fs, folder)) throw new SnapshotError(`${folder} is not a plain directory; not removing through it`, { path: folder, fix: 'look at it and remove it by hand' });
  const left: string[] = [];
  for (const f of fs.list(folder)) {
    if (OUR_FILE.test(f) && !fs.isSymlink(`${folder}/${f}`) && fs.stat(`${folder}/${f}`).kind === 'file') fs.unlink(`${folder}/${f}`);
    else left.push(`${folder}/${f}`);
  }
  if (left.length > 0) return left;
  fs.rmdir(folder);
  const vmDir = path.posix.dirname(folder);
  for (const d of [vmDir, path.posix.dirname(vmDir)]) {
    if (fs.list(d).length > 0) break;
    fs.rmdir(d);
  }
  return [];
}

/** Makes (or enters) `<root>/.pve-usb-gadget-snapshots/<vmid>/` and creates the new folder `name` in it. */
export function makeStickFolder(fs: HostFs, root: string, vmid: number, name: string): string {
  if (root === VOLUME_SNAPSHOT_ROOT && !fs.exists(root)) fs.mkdir(root, { recursive: true, mode: 0o700 });
  for (const d of [storeDir(root), vmStoreDir(root, vmid)]) {
    if (!fs.exists(d)) fs.mkdir(d, { mode: 0o700 });
    if (!isRealDir(fs, d)) throw new SnapshotError(`${d} is not a plain directory (a symlink?); not writing through it`, { path: d, fix: 'remove it; pve-usb-gadget creates it' });
  }
  const folder = snapshotFolder(root, vmid, name);
  // exclusive: EEXIST when another run made it meanwhile
  fs.mkdir(folder, { mode: 0o700 });
  return folder;
}
