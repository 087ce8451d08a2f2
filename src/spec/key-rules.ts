/**
 * The keys of the `[usb-gadget]` configuration and the rule for each value (zod schemas with our own
 * messages). Values arrive as strings from the notes; every one is hostile. The regular expressions
 * here are anchored character classes without nested quantifiers, so they run in linear time.
 */

import * as z from 'zod';
import { parseUsbIdNumber } from '../values/usb-id.js';
import { hasInvisibleChar } from '../notes/shown.js';
import { parseVolumeId, VOLUME_ID_EXAMPLE } from '../storage/volume-id.js';
import { SPEEDS, type Speed } from './types.js';

/** Keys of a LUN: allowed in `[usb-gadget]` (LUN 0) and in `[usb-gadget.lunN]`. */
export const LUN_KEYS = ['image', 'cdrom', 'readonly', 'removable', 'inquiry'] as const;
/** Keys of the whole device: allowed in `[usb-gadget]` only. */
export const DEVICE_KEYS = ['vendor_id', 'product_id', 'serial', 'manufacturer', 'product', 'speed'] as const;
export const MAIN_KEYS = [...LUN_KEYS, ...DEVICE_KEYS] as const;

export type LunKey = (typeof LUN_KEYS)[number];
export type DeviceKey = (typeof DEVICE_KEYS)[number];
export type GadgetKey = LunKey | DeviceKey;

export interface KeyValues {
  image: string;
  cdrom: boolean;
  readonly: boolean;
  removable: boolean;
  inquiry: string;
  vendor_id: number;
  product_id: number;
  serial: string;
  manufacturer: string;
  product: string;
  speed: Speed;
}

export const MAX_USB_STRING_BYTES = 126;
export const MAX_IMAGE_PATH = 4096;
export const INQUIRY_LENGTH = 28;

const TRUE_WORDS = ['true', 'yes', '1'];
const BOOLEAN_WORDS = [...TRUE_WORDS, 'false', 'no', '0'] as const;

const SERIAL_CHARS = /^[A-Za-z0-9._-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const NO_INVISIBLE = 'must not contain control characters (NUL, tab, newline, ...) or invisible formatting characters';

function usbIdSchema(example: string) {
  // the rule is values/usb-id.ts's; zod only carries its message
  return z.string().transform((s, ctx) => {
    const parsed = parseUsbIdNumber(s, example);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.message });
    return z.NEVER;
  });
}

function booleanSchema() {
  return z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(BOOLEAN_WORDS, { error: 'must be true or false (yes/no and 1/0 work too)' }))
    .transform((s) => TRUE_WORDS.includes(s));
}

function usbStringSchema() {
  return z
    .string()
    .refine((s) => !hasInvisibleChar(s), { error: NO_INVISIBLE })
    .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_USB_STRING_BYTES, {
      error: `must be at most ${MAX_USB_STRING_BYTES} bytes long (UTF-8): the kernel refuses longer USB strings`,
    });
}

/** Checks the segments after the leading "/" (so "/" + "a" is one segment "a"). */
function pathSegmentsOk(path: string, bad: (segment: string) => boolean): boolean {
  return !path.slice(1).split('/').some(bad);
}

// an absolute path, or a Proxmox volume id "storage:volume" (storage/volume-id.ts has its grammar)
const isPath = (s: string) => s.startsWith('/');
const imageSchema = z
  .string()
  .refine((s) => !hasInvisibleChar(s), { error: NO_INVISIBLE })
  .refine((s) => s.length <= MAX_IMAGE_PATH, { error: `must be at most ${MAX_IMAGE_PATH} characters long` })
  .refine((s) => !isPath(s) || !s.split('/').some((seg) => seg === '.' || seg === '..'), {
    error: 'must not contain "." or ".." path segments',
  })
  .refine((s) => !isPath(s) || pathSegmentsOk(s, (seg) => seg === ''), {
    error: 'must not contain empty path segments ("//" or a trailing "/")',
  })
  .superRefine((s, ctx) => {
    if (isPath(s) || hasInvisibleChar(s)) return;
    const volume = parseVolumeId(s);
    if (!volume.ok) ctx.addIssue({ code: 'custom', message: volume.message });
  });

export interface KeyRule<T> {
  schema: z.ZodType<T, string>;
  /** what is allowed, for "is empty" messages */
  allowed: string;
  /** what an absent key means; absent = the key is required */
  defaultText?: string;
}

export const KEY_RULES: { readonly [K in GadgetKey]: KeyRule<KeyValues[K]> } = {
  image: {
    schema: imageSchema,
    allowed:
      'the absolute path of the image file or block device, e.g. /var/lib/vz/usb-gadget/stick.img, ' +
      `or a Proxmox volume id, e.g. ${VOLUME_ID_EXAMPLE}`,
  },
  cdrom: { schema: booleanSchema(), allowed: 'true or false', defaultText: 'false' },
  readonly: { schema: booleanSchema(), allowed: 'true or false', defaultText: 'false (true for a cdrom)' },
  removable: { schema: booleanSchema(), allowed: 'true or false', defaultText: 'true' },
  inquiry: {
    schema: z
      .string()
      .regex(PRINTABLE_ASCII, { error: 'may only contain printable ASCII characters (space to ~)' })
      .max(INQUIRY_LENGTH, {
        error: `must be at most ${INQUIRY_LENGTH} characters: 8 vendor + 16 product + 4 revision`,
      }),
    allowed: `up to ${INQUIRY_LENGTH} printable ASCII characters: 8 vendor + 16 product + 4 revision`,
    defaultText: 'manufacturer and product padded to 8 and 16 characters, then "1.00"',
  },
  vendor_id: { schema: usbIdSchema('0x0781'), allowed: 'a 16-bit hex number', defaultText: '0x1d6b' },
  product_id: {
    schema: usbIdSchema('0x5571'),
    allowed: 'a 16-bit hex number',
    defaultText: '0x8000 + (vmid % 0x8000)',
  },
  serial: {
    schema: z
      .string()
      // - _ . stay allowed so existing sticks keep their GUID; enable refuses them for new serials (spec/guid.ts)
      .regex(SERIAL_CHARS, { error: 'may only contain letters A-Z a-z, digits 0-9 and - _ . (no spaces); for unRAID use 16 or more of 0-9 A-Z a-z' })
      .max(MAX_USB_STRING_BYTES, { error: `must be at most ${MAX_USB_STRING_BYTES} characters long` }),
    allowed: 'letters, digits and - _ . (at most 126; for unRAID 16 or more letters and digits: only the last 16 count for its GUID)',
    defaultText: 'derived from the VM smbios1 uuid; pve-usb-gadget enable writes one into the notes',
  },
  manufacturer: {
    schema: usbStringSchema(),
    allowed: 'text of at most 126 bytes',
    defaultText: '"pve-usb-gadget"',
  },
  product: { schema: usbStringSchema(), allowed: 'text of at most 126 bytes', defaultText: '"Virtual USB Stick"' },
  speed: {
    schema: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(SPEEDS, { error: 'must be one of super, high, full' })),
    allowed: 'super, high or full',
    defaultText: 'the host setting gadget.default_speed',
  },
};

export type ParsedValue<K extends GadgetKey> = { ok: true; value: KeyValues[K] } | { ok: false; message: string };

/** Checks one value; the message says what is allowed (the caller adds key and what was given). */
export function parseKeyValue<K extends GadgetKey>(key: K, raw: string): ParsedValue<K> {
  const rule: KeyRule<KeyValues[K]> = KEY_RULES[key];
  if (raw === '') {
    return {
      ok: false,
      message: rule.defaultText
        ? `is empty: remove the line to get the default (${rule.defaultText}), or set ${rule.allowed}`
        : `is empty: set ${rule.allowed}`,
    };
  }
  const result = rule.schema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  const messages = [...new Set(result.error.issues.map((i) => i.message))];
  return { ok: false, message: messages.join('; ') };
}

export function isGadgetKey(key: string): key is GadgetKey {
  return (MAIN_KEYS as readonly string[]).includes(key);
}
