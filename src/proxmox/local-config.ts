/**
 * Reading /etc/pve/qemu-server/<vmid>.conf without the API (the hook at pre-start; the CLI when pveproxy is down),
 * the way qemu-server's parse_vm_config reads it: only the main section (everything before the first
 * "[...]" header: [PENDING], [special:...], snapshots); "#" lines there are the description, stored
 * percent-encoded (encode_text) and decoded with decode_text (uri_unescape, then UTF-8). The snapshot
 * sections are read on their own (parseSnapshotSections), for the snapshot commands and doctor.
 * Pure functions; the caller reads the file.
 */

export interface LocalVmConfig {
  /** main-section options, values trimmed, as written in the file */
  options: Record<string, string>;
  /** the notes, decoded; undefined when the main section has none */
  description?: string;
}

const SECTION_HEADER = /^\[[^\]]*\]\s*$/;
const OPTION_LINE = /^([a-z][a-z_-]*\d*):\s*(.+?)\s*$/;
const DESCRIPTION_LINE = /^description:\s*(.*\S)\s*$/;

/**
 * One `key: value` option line, as qemu-server writes it to the file and as `qm config` prints it (the
 * one grammar for both, cli/qm.ts reads the latter); undefined for anything else.
 */
export function parseOptionLine(line: string): { key: string; value: string } | undefined {
  const m = OPTION_LINE.exec(line);
  return m?.[1] === undefined || m[2] === undefined ? undefined : { key: m[1], value: m[2] };
}

export function parseLocalVmConfig(text: string): LocalVmConfig {
  const options: Record<string, string> = {};
  let description: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\s*$/.test(line)) continue;
    if (SECTION_HEADER.test(line)) break;
    if (line.startsWith('#')) {
      description = (description ?? '') + decodeText(line.slice(1)) + '\n';
      continue;
    }
    const legacy = DESCRIPTION_LINE.exec(line);
    if (legacy) {
      description = (description ?? '') + decodeText(legacy[1] ?? '');
      continue;
    }
    const opt = parseOptionLine(line);
    // unparsable lines are skipped, as qemu-server does (it only warns)
    if (!opt) continue;
    const key = opt.key === 'cdrom' ? 'ide2' : opt.key;
    if (key === 'digest' || key === 'delete') continue;
    options[key] = opt.value;
  }
  if (description !== undefined) description = description.replace(/\s+$/, '');
  return description === undefined ? { options } : { options, description };
}

/**
 * The snapshot sections of a config file, by name, as parse_vm_config tells them apart (qemu-server
 * src/PVE/QemuServer.pm): `[PENDING]` (any case) and `[special:...]` are not snapshots, a header
 * matching `^\[([a-z][a-z0-9_\-]+)\]\s*$`i is one, any other `[...]` starts a section that is skipped.
 * Only option lines are kept (snapstate, vmstate, parent, snaptime, drives, ...); `#` lines in a
 * snapshot section are its comment (`qm snapshot --description`), not the VM's notes, and are left out.
 */
export function parseSnapshotSections(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (!SECTION_HEADER.test(line)) {
      const opt = current && parseOptionLine(line);
      if (current && opt && opt.key !== 'description') current[opt.key] = opt.value;
      continue;
    }
    const name = SNAPSHOT_HEADER.exec(line)?.[1];
    current = undefined;
    if (name === undefined || /^PENDING$/i.test(name)) continue;
    // a second section of one name replaces the first, as parse_vm_config's `= {}` does (it only warns)
    current = {};
    out.set(name, current);
  }
  return out;
}

const SNAPSHOT_HEADER = /^\[([a-z][a-z0-9_-]+)\]\s*$/i;

/** PVE's decode_text: %XX byte escapes (nothing else, not '+'), then lax UTF-8 decoding. */
export function decodeText(encoded: string): string {
  const raw = Buffer.from(encoded, 'utf8');
  const out = Buffer.alloc(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b === 0x25 && i + 2 < raw.length && isHex(raw[i + 1]) && isHex(raw[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(raw[i + 1] as number, raw[i + 2] as number), 16);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n).toString('utf8');
}

/** PVE's encode_text: percent-encode control and non-ASCII bytes, ':' and '%' (one line, no '\n'). */
export function encodeText(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const safe = b >= 0x20 && b <= 0x7e && b !== 0x25 && b !== 0x3a;
    out += safe ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function isHex(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/** Max usbN index + 1 (qemu-server $MAX_USB_DEVICES) and the limit without qemu-xhci ($OLD_MAX_USB). */
export const MAX_USB_DEVICES = 14;
export const OLD_MAX_USB_DEVICES = 5;

type Config = Readonly<Record<string, string | number | undefined>>;

/** The usbN keys (sorted by N) whose value names `mapping=<mappingName>`. */
export function usbLinesForMapping(config: Config, mappingName: string): string[] {
  return usbKeys(config).filter((key) => {
    const parts = String(config[key]).split(',');
    return parts.some((p) => p.trim() === `mapping=${mappingName}`);
  });
}

/**
 * usbN lines that pass through another VM's stick (`mapping=usb-gadget-<other>`): what `qm clone` or a
 * restore under a new vmid copies along. The mapping names are ours (mapping.ts's prefix); others are left alone.
 */
export function foreignGadgetLines(config: Config, ownVmid: number): { key: string; mapping: string; vmid: number }[] {
  const out: { key: string; mapping: string; vmid: number }[] = [];
  for (const key of usbKeys(config)) {
    for (const part of String(config[key]).split(',')) {
      const m = /^mapping=(usb-gadget-([1-9]\d*))$/.exec(part.trim());
      if (m?.[1] && Number(m[2]) !== ownVmid) out.push({ key, mapping: m[1], vmid: Number(m[2]) });
    }
  }
  return out;
}

/** First usbN key not in use, or undefined when all usable slots are taken. */
export function freeUsbSlot(config: Config, modern: boolean): string | undefined {
  const max = modern ? MAX_USB_DEVICES : OLD_MAX_USB_DEVICES;
  for (let i = 0; i < max; i++) {
    const v = config[`usb${i}`];
    if (v === undefined || v === '') return `usb${i}`;
  }
  return undefined;
}

/**
 * qemu-server's $use_qemu_xhci: machine version >= 7.1 and ostype l26 or Windows newer than 7.
 * An unversioned machine (unset, "q35", "pc") runs at the installed QEMU's version: >= 7.1 on PVE 8+.
 */
export function isModernUsbGuest(config: Config, pveMajor = 8): boolean {
  const ostype = config.ostype === undefined ? undefined : String(config.ostype);
  if (ostype === undefined) return false;
  if (ostype !== 'l26' && windowsVersion(ostype) <= 7) return false;
  const version = machineVersion(config.machine === undefined ? undefined : String(config.machine));
  if (!version) return pveMajor >= 8;
  const [major, minor] = version;
  return major > 7 || (major === 7 && minor >= 1);
}

/**
 * qemu-server's $is_usb_hotplug_supported (vmconfig_hotplug_pending): a usbN line set on a running VM is
 * plugged in at once only when `hotplug` includes usb (unset and "1" mean network,disk,usb) and the guest
 * is modern as above; otherwise Proxmox keeps it as a pending change for the next start.
 */
export function usbHotplugEnabled(config: Config, pveMajor = 8): boolean {
  const raw = config.hotplug === undefined ? '1' : String(config.hotplug);
  const features = raw === '1' ? ['network', 'disk', 'usb'] : raw === '0' ? [] : raw.split(',').map((f) => f.trim());
  return features.includes('usb') && isModernUsbGuest(config, pveMajor);
}

function windowsVersion(ostype: string): number {
  if (ostype === 'wxp' || ostype === 'w2k3' || ostype === 'w2k') return 5;
  if (ostype === 'w2k8' || ostype === 'wvista') return 6;
  const m = /^win(\d+)$/.exec(ostype);
  return m ? Number(m[1]) : 0;
}

function machineVersion(machine: string | undefined): [number, number] | undefined {
  if (!machine) return undefined;
  const first = machine.split(',').find((p) => !p.includes('=') || p.startsWith('type=')) ?? '';
  const type = first.replace(/^type=/, '');
  const m = /-(\d+)\.(\d+)/.exec(type);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function usbKeys(config: Config): string[] {
  return Object.keys(config)
    .filter((k) => /^usb\d+$/.test(k) && config[k] !== undefined)
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
}
