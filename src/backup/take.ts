/**
 * One stick copy taken and its outcome recorded in the pending record, with the task-log lines saying
 * which method was used and how long the guest was paused. Never throws: whether a failure fails the
 * backup is decided by the caller ([backup] fail_on_copy_error).
 */
import { GadgetError } from '../errors.js';
import type { GadgetSpec } from '../spec/types.js';
import { captureStick, type CaptureDeps } from './capture.js';
import type { PendingCopy, PendingStore } from './pending.js';
import type { Mode } from './phases.js';

export interface TakeRequest {
  vmid: number;
  mode: Mode;
  when: 'offline' | 'live';
  dumpDir: string;
  base: string;
  /** the validated notes; a NotesError or policy refusal to report instead */
  spec: GadgetSpec | GadgetError;
}

const METHOD_TEXT = {
  offline: 'copied while the VM was down',
  reflink: 'reflink clone while the guest ran (not paused)',
  pause: 'guest paused for the copy',
  'already-paused': 'the guest was already paused',
} as const;

export async function takeCopy(deps: CaptureDeps & { pending: PendingStore }, req: TakeRequest): Promise<PendingCopy> {
  const base: PendingCopy = { version: 1, vmid: req.vmid, mode: req.mode, dumpDir: req.dumpDir, base: req.base, state: 'failed' };
  let result: PendingCopy;
  try {
    if (req.spec instanceof GadgetError) throw req.spec;
    const m = await captureStick(deps, { ...req, spec: req.spec });
    if (!m) {
      deps.log.warn('the stick has no LUN we can copy: this backup holds no stick copy');
      result = { ...base, state: 'nothing' };
    } else {
      const bytes = m.luns.reduce((a, l) => a + l.size, 0);
      deps.log.info(
        `stick saved: ${m.luns.length} LUN(s), ${bytes} bytes, method ${m.method} (${METHOD_TEXT[m.method]}), guest paused ${m.pausedMs} ms; ${m.luns.map((l) => l.file).join(', ')}`,
      );
      result = { ...base, state: 'done', method: m.method, pausedMs: m.pausedMs, files: m.luns.map((l) => l.file) };
    }
  } catch (err) {
    const line = err instanceof GadgetError ? err.toLine() : String(err);
    deps.log.error(`THE STICK WAS NOT SAVED with this backup of VM ${req.vmid}: ${line}`);
    result = { ...base, error: line };
  }
  deps.pending.write(result);
  return result;
}
