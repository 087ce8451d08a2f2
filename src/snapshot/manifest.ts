/**
 * The manifest of one stick snapshot folder (names.ts). It is read back as root from a directory that
 * others may be able to write (an NFS share of images), so it is parsed strictly like the backup
 * manifest it shares its LUN and USB fields with (backup/manifest.ts): file names exactly ours, never a
 * path; vmid and name those of the folder it lies in; numbers bounded; SHA-256 as 64 hex digits.
 */
import * as z from 'zod';
import { lunSchema, METHODS, usbSchema } from '../backup/manifest.js';
import { SnapshotError } from '../errors.js';
import { parseSnapshotName } from '../values/snapshot-name.js';
import { lunFile } from './names.js';

export const SNAPSHOT_FORMAT = 'pve-usb-gadget-stick-snapshot';

const lunIndex = z.number().int().min(0).max(15);

/** A volume LUN: its storage snapshot (named like the VM snapshot) is the copy; no file, no hash. */
const volumeSchema = z.strictObject({
  index: lunIndex,
  /** what the notes said (the volume id) */
  image: z.string().max(512),
  volid: z.string().min(3).max(512),
  storage: z.string().max(128),
  /** the storage type (lvmthin, zfspool, rbd, ...) */
  type: z.string().max(64),
  /** the storage snapshot's name: the VM snapshot's */
  snapshot: z.string().min(2).max(40),
});
export type ManifestVolume = z.infer<typeof volumeSchema>;

/** 'storage': volume LUNs only, each a storage snapshot (atomic, the guest not paused) */
export const SNAPSHOT_METHODS = [...METHODS, 'storage'] as const;
export type SnapshotMethod = (typeof SNAPSHOT_METHODS)[number];

const schema = z.strictObject({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(1),
  vmid: z.number().int().min(100).max(999_999_999),
  /** the VM snapshot's name (qm snapshot <vmid> <name>) */
  name: z.string().min(2).max(40),
  /** how the point in time was made (backup/capture.ts's methods) */
  method: z.enum(SNAPSHOT_METHODS),
  /** how long the guest was paused for it (0 unless method is pause) */
  pausedMs: z.number().int().min(0),
  /** qm snapshot --vmstate on a running VM: the guest stayed paused until the RAM was saved too */
  vmstate: z.boolean(),
  createdAt: z.string().max(40),
  usb: usbSchema,
  /** the unRAID licence GUID of the stick (spec/guid.ts) */
  guid: z.string().max(64),
  /** every LUN the snapshot copied, in this folder or in the one beside another LUN's image */
  allLuns: z.array(lunIndex).min(1).max(16),
  /** the LUNs whose copy is in this folder */
  luns: z.array(lunSchema).max(16),
  /** the volume LUNs in this snapshot (only in the manifest under VOLUME_SNAPSHOT_ROOT) */
  volumes: z.array(volumeSchema).max(16).optional(),
});

export type SnapshotManifest = z.infer<typeof schema>;

export function serializeSnapshotManifest(m: SnapshotManifest): string {
  return `${JSON.stringify(schema.parse(m), null, 2)}\n`;
}

/** A manifest read from `path`, which lies in the folder of VM `vmid`'s snapshot `name`; throws SnapshotError. */
export function parseSnapshotManifest(text: string, path: string, vmid: number, name: string): SnapshotManifest {
  const bad = (why: string) => new SnapshotError(`not a stick snapshot manifest (${why})`, { path, fix: `remove that folder: pve-usb-gadget delsnapshot ${vmid} ${name}` });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw bad(issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'invalid');
  }
  const m = r.data;
  if (m.vmid !== vmid || m.name !== name || !parseSnapshotName(m.name).ok) throw bad(`it names VM ${m.vmid} snapshot ${JSON.stringify(m.name).slice(0, 60)}, the folder VM ${vmid} snapshot ${name}`);
  const seen = new Set<number>();
  if (m.luns.length + (m.volumes?.length ?? 0) === 0) throw bad('no LUN');
  for (const v of m.volumes ?? []) {
    if (seen.has(v.index)) throw bad(`LUN ${v.index} twice`);
    seen.add(v.index);
    if (!m.allLuns.includes(v.index)) throw bad(`LUN ${v.index} is not in allLuns`);
    if (v.snapshot !== m.name) throw bad(`LUN ${v.index}'s storage snapshot is named ${JSON.stringify(v.snapshot).slice(0, 60)}, not ${m.name}`);
  }
  for (const lun of m.luns) {
    if (seen.has(lun.index)) throw bad(`LUN ${lun.index} twice`);
    seen.add(lun.index);
    if (!m.allLuns.includes(lun.index)) throw bad(`LUN ${lun.index} is not in allLuns`);
    if (lun.file !== lunFile(lun.index)) throw bad(`file ${JSON.stringify(lun.file).slice(0, 60)} for LUN ${lun.index}, expected ${lunFile(lun.index)}`);
    if (!lun.source.startsWith('/')) throw bad(`LUN ${lun.index}'s source is not an absolute path`);
  }
  return m;
}
