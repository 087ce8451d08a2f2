/**
 * A plan is a list of filesystem operations on configfs/sysfs, as pure data. Paths are absolute as seen
 * on a real host ("/sys/kernel/config/usb_gadget/pvug-100/idVendor"); the applier prefixes its root.
 */
export type Op =
  | { kind: 'mkdir'; path: string }
  | { kind: 'write'; path: string; value: string }
  | { kind: 'symlink'; target: string; path: string }
  /** remove a symlink */
  | { kind: 'unlink'; path: string }
  | { kind: 'rmdir'; path: string }
  /** write "" to a gadget's UDC file; ENODEV (not bound) counts as done */
  | { kind: 'unbind'; path: string };

export const CONFIGFS_GADGETS = '/sys/kernel/config/usb_gadget';

/** Every gadget this tool makes is named after the VM id only: no notes text ever reaches a path. */
export function gadgetName(vmid: number): string {
  if (!Number.isSafeInteger(vmid) || vmid < 1) throw new RangeError(`invalid vmid ${vmid}`);
  return `pvug-${vmid}`;
}

export function gadgetDir(vmid: number): string {
  return `${CONFIGFS_GADGETS}/${gadgetName(vmid)}`;
}

/** vmid of one of our gadget directory names, or undefined for foreign gadgets. */
export function vmidOfGadget(name: string): number | undefined {
  const m = /^pvug-([1-9][0-9]{0,9})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function describeOp(op: Op): string {
  switch (op.kind) {
    case 'write':
      return `write ${JSON.stringify(op.value)} > ${op.path}`;
    case 'symlink':
      return `ln -s ${op.target} ${op.path}`;
    default:
      return `${op.kind} ${op.path}`;
  }
}
