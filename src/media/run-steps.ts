/**
 * Runs a media decision's writes against configfs with the record kept current: the intent is written
 * before the first write and its progress after each one, so a change killed half-way leaves a record
 * that says so (settle.ts and teardown act on it). Translates the kernel's EBUSY on the first write to
 * `file` into "the guest has locked the medium": nothing changed then.
 */
import type { HostFs } from '../ports/host-fs.js';
import { MediaError, errnoOf } from '../errors.js';
import type { GadgetRecord, MediaIntent, StateStore } from '../state/record.js';
import { FORCE_RISK, type MediaRequest, type MediaStep } from './decide.js';

export interface StepDeps {
  fs: Pick<HostFs, 'write'>;
  state: Pick<StateStore, 'write'>;
  now: () => number;
  /** test seam: called after each write is done and recorded (a unit test stops the run there) */
  afterStep?: (done: number) => void;
}

export function lockedError(vmid: number, req: MediaRequest, path: string): MediaError {
  return new MediaError(`the guest of VM ${vmid} has locked the medium of lun${req.lun} (PREVENT ALLOW MEDIUM REMOVAL): nothing changed`, {
    path,
    errno: 'EBUSY',
    fix: `eject or unmount it inside the guest (e.g. eject /dev/sr0) and retry, or add --force: ${FORCE_RISK}`,
  });
}

/** Returns the record as left after the last write; throws MediaError (the record says how far it got). */
export function runSteps(deps: StepDeps, record: GadgetRecord, req: MediaRequest, steps: readonly MediaStep[]): GadgetRecord {
  const intent: MediaIntent = {
    lun: req.lun,
    action: req.action,
    image: req.action === 'insert' ? req.image : undefined,
    done: 0,
    steps: steps.length,
    pid: process.pid,
    startedAt: new Date(deps.now()).toISOString(),
  };
  let current: GadgetRecord = { ...record, media: intent };
  deps.state.write(current);
  for (const [i, step] of steps.entries()) {
    try {
      deps.fs.write(step.op.path, step.op.value);
    } catch (err) {
      const errno = errnoOf(err);
      if (i === 0 && step.lockable && errno === 'EBUSY') {
        deps.state.write({ ...record, media: undefined });
        throw lockedError(record.vmid, req, step.op.path);
      }
      throw new MediaError(`writing ${JSON.stringify(step.op.value)} to ${step.op.path} failed after ${i} of ${steps.length} step(s)`, {
        path: step.op.path,
        errno,
        cause: err,
        fix: `see pve-usb-gadget media ${record.vmid} --lun ${req.lun} show; retry, or restart the VM to get the notes' medium back`,
      });
    }
    current = { ...current, media: { ...intent, done: i + 1 } };
    deps.state.write(current);
    deps.afterStep?.(i + 1);
  }
  return current;
}
