/**
 * Which usbN line passes the stick through, and where it sits in the boot order. Pure functions over the
 * VM config as the API returns it. Rules from qemu-server: usb0..usb13 with a qemu-xhci controller
 * (machine >= 7.1 and ostype l26 or Windows > 7), usb0..usb4 otherwise; boot order entries are
 * `order=dev1;dev2`, and without `order` the legacy letters (default "cdn") apply: the boot disk, every
 * cdrom, every NIC (PVE::QemuServer::bootorder_from_legacy).
 */
import {
  foreignGadgetLines,
  freeUsbSlot,
  isModernUsbGuest,
  MAX_USB_DEVICES,
  OLD_MAX_USB_DEVICES,
  usbLinesForMapping,
} from '../proxmox/local-config.js';
import { DRIVE_BUSES, isCdromDrive as isCdrom } from '../proxmox/drives.js';

type Config = Readonly<Record<string, string | number | undefined>>;

export type SlotChoice =
  /** the VM already has a line for the mapping */
  | { kind: 'existing'; key: string }
  | { kind: 'free'; key: string }
  /** a line that points at another VM's mapping (a clone, a restore): repointed to this VM's own */
  | { kind: 'foreign'; key: string; was: string }
  | { kind: 'full'; max: number; modern: boolean };

export function chooseUsbSlot(config: Config, mapping: string, pveMajor = 8, vmid?: number): SlotChoice {
  const existing = usbLinesForMapping(config, mapping)[0];
  if (existing) return { kind: 'existing', key: existing };
  // the copied line takes this VM's own mapping: same slot, same place in the boot order, no second device
  const foreign = vmid === undefined ? undefined : foreignGadgetLines(config, vmid)[0];
  if (foreign) return { kind: 'foreign', key: foreign.key, was: foreign.mapping };
  const modern = isModernUsbGuest(config, pveMajor);
  const key = freeUsbSlot(config, modern);
  if (key) return { kind: 'free', key };
  return { kind: 'full', max: modern ? MAX_USB_DEVICES : OLD_MAX_USB_DEVICES, modern };
}

const MAX_NETS = 32;

function firstDisk(config: Config): string | undefined {
  for (const [bus, count] of DRIVE_BUSES) {
    for (let i = 0; i < count; i++) {
      const v = config[`${bus}${i}`];
      if (v !== undefined && !isCdrom(`${bus}${i}`, String(v))) return `${bus}${i}`;
    }
  }
  return undefined;
}

/** The devices PVE boots from, in order, for a config without `boot: order=...`. */
export function legacyBootDevices(config: Config): string[] {
  const bootField = String(config.boot ?? '');
  const legacy = /^(?:legacy=)?([acdn]{1,4})(?:,|$)/.exec(bootField)?.[1] ?? 'cdn';
  const out: string[] = [];
  for (const letter of legacy) {
    if (letter === 'c') {
      // PVE boots only `bootdisk`; without one, keep the first disk bootable (get_default_bootdevices)
      const disk = config.bootdisk === undefined ? firstDisk(config) : String(config.bootdisk);
      if (disk && config[disk] !== undefined && !isCdrom(disk, String(config[disk]))) out.push(disk);
    } else if (letter === 'd') {
      for (const [bus, count] of DRIVE_BUSES) {
        for (let i = 0; i < count; i++) {
          const v = config[`${bus}${i}`];
          if (v !== undefined && isCdrom(`${bus}${i}`, String(v))) out.push(`${bus}${i}`);
        }
      }
    } else if (letter === 'n') {
      for (let i = 0; i < MAX_NETS; i++) if (config[`net${i}`] !== undefined) out.push(`net${i}`);
    }
  }
  return out;
}

/** The boot order as a device list: from `order=` when set, else what the legacy rules give. */
export function bootDevices(config: Config): string[] {
  const boot = config.boot === undefined ? '' : String(config.boot);
  const order = /(?:^|,)order=([^,]*)/.exec(boot)?.[1];
  if (order !== undefined) return order.split(/[;,\s]+/).filter(Boolean);
  return legacyBootDevices(config);
}

/** `boot` value with `device` first, or undefined when it is first already (an `order=` list). */
export function bootOrderWithFirst(config: Config, device: string): string | undefined {
  const current = bootDevices(config);
  const hasOrder = /(?:^|,)order=/.test(String(config.boot ?? ''));
  if (hasOrder && current[0] === device) return undefined;
  return `order=${[device, ...current.filter((d) => d !== device)].join(';')}`;
}

/**
 * The boot order without `devices`: undefined when none of them is in an `order=` list; `{ delete }`
 * when nothing would be left (PVE's default order applies again); else the new value.
 */
export function bootOrderWithout(config: Config, devices: readonly string[]): { set: string } | { delete: true } | undefined {
  if (!/(?:^|,)order=/.test(String(config.boot ?? ''))) return undefined;
  const current = bootDevices(config);
  const rest = current.filter((d) => !devices.includes(d));
  if (rest.length === current.length) return undefined;
  return rest.length === 0 ? { delete: true } : { set: `order=${rest.join(';')}` };
}
