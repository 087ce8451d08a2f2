/**
 * Proxmox volume ids (`storage:volume`) as VM notes may give them for `image`. The notes are hostile,
 * so the grammar is narrower than Proxmox's own (`^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$`i in
 * pve-storage `PVE::Storage::Plugin::parse_volume_id`): the volume part may only hold the characters
 * Proxmox itself puts into volume names (`vm-100-disk-0`, `100/vm-100-disk-0.raw`, `iso/x.iso`), split
 * into `/` segments that are never empty, `.` or `..`, and never start with `-` (they end up as command
 * arguments). No snapshots (`@`), no whitespace, no path traversal. The regular expressions are anchored
 * character classes without nested quantifiers.
 */

export interface VolumeId {
  /** the storage id as written (Proxmox looks storage ids up case-sensitively) */
  storage: string;
  /** the part after the first ":", e.g. "vm-100-disk-0" or "100/vm-100-disk-0.raw" */
  volname: string;
}

export type ParsedVolumeId = { ok: true; value: VolumeId } | { ok: false; message: string };

export const MAX_STORAGE_ID = 64;
export const MAX_VOLNAME = 255;
const MAX_SEGMENTS = 8;

/** pve-storage-id: a letter first, a letter or digit last, `-_.` in between. */
export const STORAGE_ID = /^[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$/;

export const VOLUME_ID_EXAMPLE = 'local-lvm:vm-100-usb-stick';

/** True when `image` is meant as a volume id rather than a path (paths start with "/"). */
export function looksLikeVolumeId(image: string): boolean {
  return !image.startsWith('/');
}

export function formatVolumeId(v: VolumeId): string {
  return `${v.storage}:${v.volname}`;
}

/** Checks a storage id on its own (settings `allowed_storages`, notes). */
export function storageIdProblem(storage: string): string | undefined {
  if (storage.length === 0) return 'the storage id before ":" is empty';
  if (storage.length > MAX_STORAGE_ID) return `the storage id is longer than ${MAX_STORAGE_ID} characters`;
  if (!STORAGE_ID.test(storage)) {
    return 'the storage id may only hold letters, digits and - _ . (a letter first, no - _ . last)';
  }
  return undefined;
}

export function parseVolumeId(raw: string): ParsedVolumeId {
  const fail = (why: string): ParsedVolumeId => ({
    ok: false,
    message: `must be an absolute path or a Proxmox volume id "storage:volume" (e.g. ${VOLUME_ID_EXAMPLE}): ${why}`,
  });
  const colon = raw.indexOf(':');
  if (colon < 0) return fail('there is no ":" and it does not start with "/"');
  const storage = raw.slice(0, colon);
  const volname = raw.slice(colon + 1);
  const storageProblem = storageIdProblem(storage);
  if (storageProblem) return fail(storageProblem);
  if (volname.length === 0) return fail('the volume name after ":" is empty');
  if (volname.length > MAX_VOLNAME) return fail(`the volume name is longer than ${MAX_VOLNAME} characters`);
  if (volname.includes('@')) return fail('snapshots ("@") cannot back a USB stick');
  const segments = volname.split('/');
  if (segments.length > MAX_SEGMENTS) return fail(`the volume name has more than ${MAX_SEGMENTS} "/" parts`);
  for (const seg of segments) {
    if (seg === '') return fail('the volume name must not start or end with "/" or contain "//"');
    if (seg === '.' || seg === '..') return fail('the volume name must not contain "." or ".." parts');
    if (seg.startsWith('-')) return fail('no part of the volume name may start with "-"');
    if (!SEGMENT.test(seg)) {
      return fail('the volume name may only hold letters, digits, "/" and - _ . + (no spaces, no ":")');
    }
  }
  return { ok: true, value: { storage, volname } };
}
