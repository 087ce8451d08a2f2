import type { HostFs } from '../ports/host-fs.js';

const USB_DEVICES = '/sys/bus/usb/devices';

export interface HostUsbDevice {
  /** sysfs name, e.g. "3-1" (bus-port) */
  name: string;
  /** "vvvv:pppp" */
  usbId: string;
  serial?: string;
  /** sysfs directory of the device */
  dir: string;
}

function readDevice(fs: HostFs, dir: string, name: string): HostUsbDevice | undefined {
  const vid = fs.readTextIfExists(`${dir}/idVendor`)?.trim();
  const pid = fs.readTextIfExists(`${dir}/idProduct`)?.trim();
  if (!vid || !pid) return undefined;
  return { name, usbId: `${vid}:${pid}`.toLowerCase(), serial: fs.readTextIfExists(`${dir}/serial`)?.trim(), dir };
}

/** Every USB device the host sees (root hubs included: they never clash with a gadget's ids). */
export function hostUsbDevices(fs: HostFs): HostUsbDevice[] {
  return fs
    .list(USB_DEVICES)
    .filter((n) => /^\d+-[\d.]+$/.test(n))
    .map((n) => readDevice(fs, `${USB_DEVICES}/${n}`, n))
    .filter((d): d is HostUsbDevice => d !== undefined);
}

/**
 * The device the host enumerated on the controller paired with a dummy UDC: dummy_udc.N's gadget shows
 * up under the platform device dummy_hcd.N, on the root port 1 of its USB 2 or USB 3 root hub.
 */
export function deviceOnDummyHcd(fs: HostFs, udc: string): HostUsbDevice | undefined {
  const n = udc.split('.')[1];
  const hcd = `/sys/devices/platform/dummy_hcd.${n}`;
  for (const bus of fs.list(hcd).filter((e) => /^usb\d+$/.test(e))) {
    const name = `${bus.slice(3)}-1`;
    const dev = readDevice(fs, `${hcd}/${bus}/${name}`, name);
    if (dev) return dev;
  }
  return undefined;
}

/** Names of the drivers bound to a device's interfaces (e.g. ["usb-storage"]). */
export function interfaceDrivers(fs: HostFs, dev: HostUsbDevice): string[] {
  return fs
    .list(dev.dir)
    .filter((e) => e.startsWith(`${dev.name}:`))
    .filter((i) => fs.exists(`${dev.dir}/${i}/driver`))
    .map((i) => fs.readlink(`${dev.dir}/${i}/driver`).split('/').pop() ?? '');
}
