/**
 * The part of qemu-server's VM option schema and privilege tables (src/PVE/API2/Qemu.pm
 * $cpuoptions, $memoryoptions, $hwtypeoptions, $generaloptions, ...) the fake needs.
 */
import type { ParamSpec } from './params.js';

const CPU = ['cores', 'cpu', 'cpulimit', 'cpuunits', 'numa', 'smp', 'sockets', 'vcpus', 'affinity'];
const MEMORY = ['memory', 'balloon', 'shares', 'allow-ksm'];
const HWTYPE = ['acpi', 'hotplug', 'kvm', 'machine', 'scsihw', 'smbios1', 'tablet', 'vga', 'watchdog', 'audio0', 'rng0'];
const GENERAL = [
  'agent', 'autostart', 'bios', 'description', 'keyboard', 'localtime', 'migrate_downtime', 'migrate_speed',
  'name', 'onboot', 'ostype', 'protection', 'reboot', 'startdate', 'startup', 'tdf', 'template',
];
const POWER = ['freeze'];
const DISK_OPTS = ['boot', 'bootdisk', 'vmstatestorage'];
const CLOUDINIT = ['cicustom', 'cipassword', 'citype', 'ciuser', 'ciupgrade', 'nameserver', 'searchdomain', 'sshkeys'];
/** known to the schema but reserved to root@pam by check_vm_modify_config_perm's fall-through */
const ROOT_ONLY = ['args', 'hookscript', 'lock', 'hugepages', 'keephugepages', 'ivshmem', 'vmgenid', 'spice_enhancements', 'arch'];

/** qemu-server $fast_plug_option: applied at once even while the VM runs */
export const FAST_PLUG = new Set([
  'description', 'hookscript', 'lock', 'migrate_downtime', 'migrate_speed', 'name', 'onboot', 'protection',
  'shares', 'startup', 'tags', 'vmstatestorage', ...CLOUDINIT,
]);

const INTEGER = new Set(['cores', 'sockets', 'vcpus', 'cpuunits', 'balloon', 'shares', 'migrate_speed', 'smp', 'tdf']);
const BOOLEAN = new Set([
  'onboot', 'protection', 'template', 'numa', 'acpi', 'kvm', 'tablet', 'localtime', 'reboot', 'freeze', 'autostart',
  'allow-ksm', 'ciupgrade', 'keephugepages',
]);

const INDEXED: [RegExp, number][] = [
  [/^usb(\d+)$/, 14],
  [/^net(\d+)$/, 32],
  [/^ide(\d+)$/, 4],
  [/^sata(\d+)$/, 6],
  [/^scsi(\d+)$/, 31],
  [/^virtio(\d+)$/, 16],
  [/^hostpci(\d+)$/, 16],
  [/^serial(\d+)$/, 4],
  [/^parallel(\d+)$/, 3],
  [/^unused(\d+)$/, 256],
  [/^ipconfig(\d+)$/, 32],
  [/^numa(\d+)$/, 8],
  [/^virtiofs(\d+)$/, 10],
];

export function isDriveKey(key: string): boolean {
  return /^(ide|sata|scsi|virtio)\d+$/.test(key) || key === 'efidisk0' || key === 'tpmstate0';
}

export function isVmOption(key: string): boolean {
  if ([...CPU, ...MEMORY, ...HWTYPE, ...GENERAL, ...POWER, ...DISK_OPTS, ...CLOUDINIT, ...ROOT_ONLY, 'tags'].includes(key)) {
    return true;
  }
  if (key === 'efidisk0' || key === 'tpmstate0') return true;
  return INDEXED.some(([re, max]) => {
    const m = re.exec(key);
    return m !== null && Number(m[1]) < max;
  });
}

/** Schema of a VM option for parameter validation (values are checked loosely, except usbN). */
export function vmOptionSpec(key: string): ParamSpec | undefined {
  if (!isVmOption(key)) return undefined;
  if (INTEGER.has(key)) return { type: 'integer', optional: true };
  if (BOOLEAN.has(key)) return { type: 'boolean', optional: true };
  if (key === 'description') return { optional: true, maxLength: 8192 };
  if (/^usb\d+$/.test(key)) return { optional: true, format: usbFormatError };
  return { optional: true, format: (v) => (/[\r\n]/.test(v) ? 'invalid format - value contains a line feed\n' : undefined) };
}

/** Stored form of a value: integers and booleans come back from GET as JSON numbers. */
export function storedValue(key: string, value: string): string | number {
  if (INTEGER.has(key)) return Number(value);
  if (BOOLEAN.has(key)) return /^(1|on|yes|true)$/i.test(value) ? 1 : 0;
  return key === 'description' ? value.replace(/\s+$/, '') : value;
}

/**
 * Privilege check_vm_modify_config_perm asks for on /vms/<vmid>, 'checked-later' for options whose
 * check depends on the value (drives, usb, serial, ...), or 'root' for options only root@pam may set.
 */
export function privilegeFor(key: string): string[] | 'checked-later' | 'root' {
  if (isDriveKey(key) || key === 'cdrom' || /^(unused|serial|usb|hostpci|virtiofs)\d+$/.test(key) || key === 'tags') {
    return 'checked-later';
  }
  if (CPU.includes(key) || /^numa\d+$/.test(key)) return ['VM.Config.CPU'];
  if (MEMORY.includes(key)) return ['VM.Config.Memory'];
  if (HWTYPE.includes(key)) return ['VM.Config.HWType'];
  if (GENERAL.includes(key)) return ['VM.Config.Options'];
  if (POWER.includes(key)) return ['VM.PowerMgmt'];
  if (DISK_OPTS.includes(key)) return ['VM.Config.Disk'];
  if (/^net\d+$/.test(key)) return ['VM.Config.Network'];
  if (CLOUDINIT.includes(key) || /^ipconfig\d+$/.test(key)) return ['VM.Config.Cloudinit', 'VM.Config.Network'];
  return 'root';
}

export interface UsbDevice {
  host?: string;
  mapping?: string;
  usb3?: string;
}

const USB_HOST_RE = /^(?:(?:0x)?[0-9A-Fa-f]{4}:(?:0x)?[0-9A-Fa-f]{4}|\d+-\d+(?:\.\d+)*|spice)$/i;

/** parse_property_string('pve-qm-usb', ...): "[host=]<dev>,mapping=<id>,usb3=<bool>" */
export function parseUsb(value: string): UsbDevice {
  const out: UsbDevice = {};
  for (const [i, part] of value.split(',').entries()) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i !== 0) throw new Error(`value without key, but schema does not define a default key`);
      out.host = part;
      continue;
    }
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k !== 'host' && k !== 'mapping' && k !== 'usb3') throw new Error(`invalid key in comma-separated list property: ${k}`);
    if (out[k] !== undefined) throw new Error(`duplicate key in comma-separated list property: ${k}`);
    out[k] = v;
  }
  if (out.host !== undefined && !USB_HOST_RE.test(out.host)) throw new Error('host: value does not match the regex pattern');
  if (out.mapping !== undefined && !/^[a-z][a-z0-9_-]+$/i.test(out.mapping)) {
    throw new Error(`mapping: invalid format - invalid configuration ID '${out.mapping}'`);
  }
  return out;
}

function usbFormatError(value: string): string | undefined {
  try {
    parseUsb(value);
    return undefined;
  } catch (e) {
    return `invalid format - ${(e as Error).message}\n`;
  }
}
