import { interfaceDrivers, type HostUsbDevice } from '../host/devices.js';
import type { HookDeps } from './deps.js';

/**
 * The quirk keeps usb-storage off the device from its first probe. If some driver still bound (a quirk
 * written too late, a kernel that ignores it), detach it now: QEMU's usb-host would detach it too, but
 * until then the host would see the guest's disk (LVM scans, udev probes).
 */
export function isolateAfterEnumeration(deps: HookDeps, dev: HostUsbDevice): void {
  const drivers = interfaceDrivers(deps.fs, dev);
  if (!drivers.includes('usb-storage')) return;
  for (const intf of deps.fs.list(dev.dir).filter((e) => e.startsWith(`${dev.name}:`))) {
    const driver = `${dev.dir}/${intf}/driver`;
    if (deps.fs.exists(driver) && deps.fs.readlink(driver).endsWith('/usb-storage')) {
      deps.fs.write('/sys/bus/usb/drivers/usb-storage/unbind', intf);
      deps.log.warn(`usb-storage had claimed ${intf}; detached it`);
    }
  }
}
