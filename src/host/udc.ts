import type { HostFs } from '../ports/host-fs.js';
import { ConflictError } from '../errors.js';
import { CONFIGFS_GADGETS } from '../plan/ops.js';

const UDC_CLASS = '/sys/class/udc';

/** dummy_udc.N sorted by N (not lexically: dummy_udc.10 comes after dummy_udc.9). */
export function dummyUdcs(fs: HostFs): string[] {
  return fs
    .list(UDC_CLASS)
    .filter((n) => /^dummy_udc\.\d+$/.test(n))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
}

/** UDC name → gadget directory name, for every gadget (ours or not) that is bound. */
export function boundUdcs(fs: HostFs): Map<string, string> {
  const bound = new Map<string, string>();
  for (const g of fs.list(CONFIGFS_GADGETS)) {
    const udc = fs.readTextIfExists(`${CONFIGFS_GADGETS}/${g}/UDC`)?.trim();
    if (udc) bound.set(udc, g);
  }
  return bound;
}

/** Pure choice: the lowest dummy UDC nobody is bound to and nobody has reserved. */
export function chooseUdc(available: readonly string[], taken: ReadonlySet<string>): string | undefined {
  return available.find((u) => !taken.has(u));
}

/** The controllers as sysfs and configfs show them: what a UDC choice needs besides the records. */
export interface UdcView {
  /** dummy_udc.N, sorted by N */
  available: string[];
  /** UDCs some gadget (ours or not) is bound to */
  bound: string[];
}

export function udcView(fs: HostFs): UdcView {
  return { available: dummyUdcs(fs), bound: [...boundUdcs(fs).keys()] };
}

/**
 * Pure: the lowest free dummy_udc.N, or the refusal. The choice holds only under the host lock, together
 * with the bind, so two concurrent pre-starts never pick the same controller. `reserved` holds UDCs named
 * in other VMs' state records whose gadgets are still being built.
 */
export function allocateUdc(view: UdcView, reserved: ReadonlySet<string> = new Set()): string {
  const udc = chooseUdc(view.available, new Set([...view.bound, ...reserved]));
  if (!udc) {
    throw new ConflictError(`no free USB device controller: all ${view.available.length} dummy_udc controllers are in use`, {
      path: UDC_CLASS,
      fix: 'raise [modules] controllers in the settings (max 32) and reload dummy_hcd when no gadget runs',
    });
  }
  return udc;
}

/** Reads the view and allocates (allocateUdc); must be called under the host lock. */
export class UdcAllocator {
  constructor(private readonly fs: HostFs) {}

  allocate(reserved: ReadonlySet<string> = new Set()): string {
    return allocateUdc(udcView(this.fs), reserved);
  }
}
