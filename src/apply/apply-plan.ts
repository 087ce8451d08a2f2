import { KernelError, errnoOf } from '../errors.js';
import { describeOp, type Op } from '../plan/ops.js';
import type { HostFs } from '../ports/host-fs.js';

/** What the kernel's errno means for an operator, per operation kind. */
const ERRNO_FIX: Record<string, string> = {
  EBUSY: 'the attribute is in use (a host has the medium locked, or the gadget is bound); stop the VM and retry',
  ENOENT: 'a kernel module is missing: check `pve-usb-gadget doctor` (dummy_hcd, libcomposite, usb_f_mass_storage)',
  EINVAL: 'the kernel rejected the value: check the image is a regular file or block device and the ids are valid',
  EEXIST: 'a leftover gadget is in the way; run the VM post-stop (`pve-usb-gadget down <vmid>`) and retry',
  ENODEV: 'the USB device controller disappeared; check dummy_hcd is loaded',
  EACCES: 'permission denied: the hook must run as root',
  EPERM: 'permission denied: the hook must run as root',
  ETOOSMALL: 'the image is too small for its LUN (cdrom images need at least 300 blocks of 2048 bytes)',
};

export function applyOp(fs: HostFs, op: Op): void {
  switch (op.kind) {
    case 'mkdir':
      return fs.mkdir(op.path);
    case 'write':
      return fs.write(op.path, op.value);
    case 'symlink':
      return fs.symlink(op.target, op.path);
    case 'unlink':
      return fs.unlink(op.path);
    case 'rmdir':
      return fs.rmdir(op.path);
    case 'unbind':
      try {
        // a newline, not "": an empty write(2) never reaches configfs' store function
        return fs.write(op.path, '\n');
      } catch (err) {
        if (errnoOf(err) === 'ENODEV') return; // not bound: already done
        throw err;
      }
  }
}

export function kernelError(op: Op, err: unknown): KernelError {
  const errno = errnoOf(err);
  return new KernelError(`configfs refused: ${describeOp(op)}`, {
    path: op.path,
    errno,
    fix: (errno && ERRNO_FIX[errno]) ?? 'see the kernel log (dmesg) for details',
    cause: err,
  });
}

/**
 * Run ops in order. Stops at the first failure and throws a KernelError naming the op, path and errno;
 * undoing is the caller's job (teardown from what is observed), so a half-built gadget is removed the
 * same way as a leftover one.
 */
export function applyPlan(fs: HostFs, ops: readonly Op[], onOp?: (op: Op) => void): void {
  for (const op of ops) {
    try {
      applyOp(fs, op);
    } catch (err) {
      throw kernelError(op, err);
    }
    onOp?.(op);
  }
}

/**
 * Run teardown ops, carrying on past failures (a missing entry is already gone) so that one stuck
 * attribute does not leave everything behind. Returns the errors of the ops that really failed.
 */
export function applyTeardown(fs: HostFs, ops: readonly Op[]): KernelError[] {
  const failed: KernelError[] = [];
  for (const op of ops) {
    try {
      applyOp(fs, op);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') continue;
      failed.push(kernelError(op, err));
    }
  }
  return failed;
}
