import type { HostFs } from '../ports/host-fs.js';
import { EnumerationTimeoutError } from '../errors.js';
import { deviceOnDummyHcd, type HostUsbDevice } from './devices.js';
import type { Clock } from '../ports/clock.js';

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export function udcState(fs: HostFs, udc: string): string {
  return fs.readTextIfExists(`/sys/class/udc/${udc}/state`)?.trim() ?? 'absent';
}

/**
 * Wait until the gadget on `udc` is configured by the host and the host lists a device with our ids.
 * Proxmox resolves the USB mapping right after pre-start and fails the start if the device is absent,
 * so pre-start must not return before this holds.
 */
export async function waitForEnumeration(
  fs: HostFs,
  clock: Clock,
  udc: string,
  usbId: string,
  timeoutMs: number,
): Promise<HostUsbDevice> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const dev = deviceOnDummyHcd(fs, udc);
    if (udcState(fs, udc) === 'configured' && dev?.usbId === usbId) return dev;
    if (clock.now() >= deadline) {
      throw new EnumerationTimeoutError(
        `the host did not enumerate the gadget on ${udc} within ${Math.round(timeoutMs / 1000)} s (UDC state: ${udcState(fs, udc)}${dev ? `, device ${dev.name} is ${dev.usbId}` : ', no device on its port'})`,
        {
          path: `/sys/class/udc/${udc}/state`,
          fix: 'check dmesg for dummy_hcd/usb errors; raise [gadget] enumeration_timeout on a loaded host',
        },
      );
    }
    await clock.sleep(25);
  }
}
