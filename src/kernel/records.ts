/**
 * What `kernel-module` last did for each kernel: /var/lib/pve-usb-gadget/kernels/<release>.json. The
 * kernel hook runs inside apt, where nobody reads its output; this record is what `doctor` and
 * pre-start turn into a message later ("dummy_hcd is not built for kernel X: run ...").
 */
import type { HostFs } from '../ports/host-fs.js';
import type { Scheduler } from './scheduler.js';
import { isKernelRelease } from './version.js';

export const KERNEL_RECORDS = '/var/lib/pve-usb-gadget/kernels';

export interface Attempt {
  /** linux-6.6.y, v6.8.12, or the path given with --kernel-source */
  ref: string;
  /** upstream version of the file, when one was had */
  version?: string;
  result: 'built' | 'build-failed' | 'no-source' | 'jiffies-skipped' | 'same-file';
  detail?: string;
}

export interface KernelRecord {
  kernel: string;
  status: 'built' | 'failed' | 'no-headers';
  /** when status is built */
  source?: { version: string; ref: string; origin: string };
  dkmsVersion?: string;
  scheduler?: Scheduler;
  attempts: Attempt[];
  /** one line for doctor / pre-start */
  message: string;
  at: string;
}

const recordPath = (kernel: string) => `${KERNEL_RECORDS}/${kernel}.json`;

export function writeRecord(fs: HostFs, r: KernelRecord): void {
  if (!isKernelRelease(r.kernel)) return;
  fs.mkdir(KERNEL_RECORDS, { recursive: true, mode: 0o755 });
  fs.writeAtomic(recordPath(r.kernel), `${JSON.stringify(r, null, 2)}\n`, 0o644);
}

/** The record of a kernel, or undefined when there is none or it cannot be read (never throws). */
export function readRecord(fs: HostFs, kernel: string): KernelRecord | undefined {
  if (!isKernelRelease(kernel)) return undefined;
  try {
    const text = fs.readTextIfExists(recordPath(kernel));
    if (text === undefined) return undefined;
    const r = JSON.parse(text) as KernelRecord;
    return typeof r.status === 'string' && typeof r.message === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The fix line every message about a missing module ends with. */
export const buildFix = (kernel: string): string =>
  `run install.sh --kernel-module --kernel ${kernel} (or, with its headers installed: pve-usb-gadget kernel-module --kernel ${kernel})`;
