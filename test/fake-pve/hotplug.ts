/**
 * USB hot-plug of a running VM, after qemu-server (src/PVE/QemuServer.pm `vmconfig_hotplug_pending`,
 * `qemu_usb_hotplug`; src/PVE/API2/Qemu.pm `$updatefn`, read at e6352be6):
 *  - a usbN change of a running VM is hot-plugged only when `$is_usb_hotplug_supported`: the hotplug
 *    option includes usb (unset or "1" means network,disk,usb), the machine version is >= 7.1 and the
 *    ostype is l26 or Windows newer than 7; otherwise it stays a pending change ("skip");
 *  - a hot-plug that dies is `$add_error`ed as "hotplug problem - <message>", the value stays pending,
 *    and `$updatefn` ends with raise_param_exc($errors): HTTP 400 with that text under the key;
 *  - a hot-plug that works writes the value into the config.
 * The fake does not run QEMU: whoever does (the e2e qemu-server stand-in) registers a plugger that adds
 * the device to its QEMU and throws when that fails. Without one, hot-plugs succeed.
 */
import type { VmState } from './cluster.js';
import { paramError } from './pve-error.js';

/** Adds the device `value` (a usbN value) as `key` to the VM's running QEMU; throws when it cannot. */
export type UsbPlugger = (vmid: number, key: string, value: string) => Promise<void>;

/** parse_hotplug_features: "1" (the default) is network,disk,usb; "0" none; else a comma list. */
function hotplugFeatures(value: string | undefined): Set<string> {
  const v = value ?? '1';
  if (v === '1') return new Set(['network', 'disk', 'usb']);
  if (v === '0') return new Set();
  return new Set(v.split(',').map((s) => s.trim()));
}

/** windows_version: win7 -> 7, win8 -> 8, win10 -> 10, win11 -> 11; the older names are below 7. */
function windowsVersion(ostype: string): number {
  const m = /^win(\d+)$/.exec(ostype);
  return m ? Number(m[1]) : 0;
}

/** The machine version: "pc-q35-6.2" -> 6.2; unversioned types run at the installed QEMU (>= 7.1 on PVE 8+). */
function machineAtLeast71(machine: string | undefined): boolean {
  const type = (machine ?? '').split(',')[0]?.replace(/^type=/, '') ?? '';
  const m = /-(\d+)\.(\d+)/.exec(type);
  if (!m) return true;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 7 || (major === 7 && minor >= 1);
}

export function usbHotplugSupported(config: Record<string, unknown>): boolean {
  const ostype = config.ostype === undefined ? undefined : String(config.ostype);
  return (
    hotplugFeatures(config.hotplug === undefined ? undefined : String(config.hotplug)).has('usb') &&
    machineAtLeast71(config.machine === undefined ? undefined : String(config.machine)) &&
    ostype !== undefined &&
    (ostype === 'l26' || windowsVersion(ostype) > 7)
  );
}

/** vmconfig_hotplug_pending for usbN keys of a running VM (other keys stay pending, as before). */
export async function hotplugPendingUsb(vm: VmState, plug: UsbPlugger | undefined): Promise<void> {
  if (!usbHotplugSupported(vm.config)) return;
  const errors: Record<string, string> = {};
  for (const [key, value] of Object.entries(vm.pending)) {
    if (!/^usb\d+$/.test(key)) continue;
    try {
      await plug?.(vm.vmid, key, String(value));
      vm.config[key] = value;
      delete vm.pending[key];
    } catch (err) {
      errors[key] = `hotplug problem - ${(err instanceof Error ? err.message : String(err)).trim()}`;
    }
  }
  if (Object.keys(errors).length > 0) throw paramError(errors);
}
