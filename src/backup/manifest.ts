/**
 * The manifest written beside a stick copy (`<base>.usb-gadget.json`, see names.ts). It is read back by
 * `backup list` and `restore` running as root, and the dump directory may be writable by others than
 * root (an NFS or CIFS share), so it is parsed strictly: file names must be exactly ours for that base
 * and LUN (never a path), numbers bounded, the checksum 64 hex digits.
 */
import * as z from 'zod';
import { BackupError } from '../errors.js';
import { lunFileName, parseBase } from './names.js';
import type { GadgetSpec } from '../spec/types.js';

export const MANIFEST_FORMAT = 'pve-usb-gadget-stick-backup';

/** How the point in time of a LUN copy was taken. */
export const METHODS = ['offline', 'reflink', 'pause', 'already-paused'] as const;
export type CopyMethod = (typeof METHODS)[number];

const hex4 = z.string().regex(/^[0-9a-f]{4}$/);
/** one LUN copy; shared with the stick snapshot manifest (snapshot/manifest.ts) */
export const lunSchema = z.strictObject({
  index: z.number().int().min(0).max(15),
  /** the image as the notes named it (a path, or a volume id once volumes are copied) */
  image: z.string().min(1).max(4096),
  /** the realpath that was read */
  source: z.string().min(1).max(4096),
  file: z.string().min(1).max(255),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  readonly: z.boolean(),
  cdrom: z.boolean(),
});

/** the stick's USB identity at the time of the copy */
export const usbSchema = z.strictObject({ vendorId: hex4, productId: hex4, serial: z.string().max(126), manufacturer: z.string().max(126), product: z.string().max(126) });

const schema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  version: z.literal(1),
  vmid: z.number().int().min(100).max(999_999_999),
  /** the archive's base name (no directory, no extension) */
  base: z.string().refine((b) => parseBase(b) !== undefined, 'not a vzdump QEMU archive base name'),
  /** vzdump's mode for this VM */
  mode: z.enum(['stop', 'suspend', 'snapshot']),
  method: z.enum(METHODS),
  /** how long the guest was paused for the copy (0 unless method is pause) */
  pausedMs: z.number().int().min(0),
  createdAt: z.string().max(40),
  usb: usbSchema,
  luns: z.array(lunSchema).min(1).max(16),
});

export type Manifest = z.infer<typeof schema>;

/** The stick's identity as both manifests keep it (backups here, snapshot/manifest.ts): 4-hex ids, strings. */
export function manifestUsb(spec: Pick<GadgetSpec, 'vendorId' | 'productId' | 'serial' | 'manufacturer' | 'product'>): Manifest['usb'] {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return { vendorId: hex(spec.vendorId), productId: hex(spec.productId), serial: spec.serial, manufacturer: spec.manufacturer, product: spec.product };
}
export type ManifestLun = Manifest['luns'][number];

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(schema.parse(m), null, 2)}\n`;
}

/** Parse a manifest read from `path`; throws BackupError naming the file and the first problem. */
export function parseManifest(text: string, path: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError('not a stick backup manifest: not JSON', { path, fix: 'give an archive made by the pve-usb-gadget vzdump hook' });
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'invalid';
    throw new BackupError(`not a stick backup manifest (${where})`, { path, fix: 'give an archive made by the pve-usb-gadget vzdump hook' });
  }
  const m = r.data;
  if (!m.base.startsWith(`vzdump-qemu-${m.vmid}-`)) throw new BackupError(`manifest vmid ${m.vmid} does not match its archive ${m.base}`, { path });
  const seen = new Set<number>();
  for (const lun of m.luns) {
    if (seen.has(lun.index)) throw new BackupError(`manifest lists LUN ${lun.index} twice`, { path });
    seen.add(lun.index);
    if (lun.file !== lunFileName(m.base, lun.index)) {
      throw new BackupError(`manifest names file ${JSON.stringify(lun.file).slice(0, 80)} for LUN ${lun.index}, expected ${lunFileName(m.base, lun.index)}`, { path });
    }
  }
  return m;
}
