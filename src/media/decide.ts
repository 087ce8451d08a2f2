/**
 * Pure: (the LUN as configfs shows it + the record + a request) → the configfs writes, in the kernel's
 * order, or a refusal. Nothing here touches the host.
 *
 * Kernel rules followed (drivers/usb/gadget/function/storage_common.c, unchanged 6.1..7.3, FACTS.md):
 * - _fsg_store_ro: `ro` returns EBUSY while a file is open ("read-only status change prevented");
 *   fsg_store_cdrom: writing cdrom=1 goes through _fsg_store_ro, so it is EBUSY while open too. So a
 *   medium whose ro/cdrom differ from the LUN's is inserted as: eject → cdrom/ro → file.
 * - fsg_store_file: `if (curlun->prevent_medium_removal && fsg_lun_is_open(curlun)) return -EBUSY`
 *   ("Door is locked"): any write to `file` while the guest has locked an open medium (PREVENT ALLOW
 *   MEDIUM REMOVAL). Otherwise a path replaces an open file in one write (fsg_lun_open closes the old
 *   one only once the new one opened) and "" closes it.
 * - fsg_store_forced_eject (Linux >= 6.0): clears prevent_medium_removal, then fsg_store_file(""): the
 *   eject the guest cannot stop. Only with --force: the guest loses the medium under its feet.
 * - fsg_store_file has no check of `removable`: the kernel lets configfs empty a non-removable LUN.
 *   We refuse it: a non-removable LUN reports RMB=0 in INQUIRY, so the guest treats it as a fixed disk
 *   whose medium never changes and sees a vanished or swapped disk as I/O errors.
 */
import { MediaError } from '../errors.js';
import type { Op } from '../plan/ops.js';
import type { GadgetRecord } from '../state/record.js';
import { lunDir, type LiveLun } from './live-lun.js';

export type MediaRequest =
  | { action: 'eject'; lun: number; force: boolean }
  /** `image` is the realpath the image policy returned; cdrom implies ro */
  | { action: 'insert'; lun: number; image: string; ro: boolean; cdrom: boolean; force: boolean };

export interface MediaStep {
  op: Extract<Op, { kind: 'write' }>;
  what: 'eject' | 'forced-eject' | 'cdrom' | 'ro' | 'load';
  /** EBUSY from this write means the guest has locked the medium; it is always the first step */
  lockable: boolean;
}

export type MediaDecision =
  | { kind: 'steps'; steps: MediaStep[] }
  | { kind: 'nothing'; reason: string }
  | { kind: 'refused'; error: MediaError };

export const FORCE_RISK =
  'the guest loses the medium while it may still use it: reads and writes in flight fail with I/O errors, and data the guest has not flushed to it is lost';

const refuse = (message: string, fix: string, path?: string): MediaDecision => ({ kind: 'refused', error: new MediaError(message, { fix, path }) });

/** Refusals that need only the record and configfs: no live stick, unknown LUN, non-removable LUN. */
export function checkTarget(vmid: number, lun: number, record: GadgetRecord | undefined, live: readonly LiveLun[]): MediaDecision | LiveLun {
  if (!record || live.length === 0) {
    return refuse(`VM ${vmid} has no live stick on this host`, `start the VM (or run: pve-usb-gadget up ${vmid}); media changes apply to a running stick only`);
  }
  if (record.phase !== 'live') {
    return refuse(`VM ${vmid}'s stick is still being built (record phase '${record.phase}')`, `wait until the VM has started, or run: pve-usb-gadget down ${vmid} if its start was killed`);
  }
  const target = live.find((l) => l.index === lun);
  if (!target) {
    return refuse(`VM ${vmid}'s stick has no lun${lun} (it has ${live.map((l) => `lun${l.index}`).join(', ')})`, 'pick one of those with --lun; a new LUN needs a [usb-gadget.lunN] section in the notes and a restart');
  }
  if (!target.removable) {
    return refuse(
      `lun${lun} of VM ${vmid} is not removable: the guest sees a fixed disk, whose medium cannot change while it runs`,
      `set removable = true for that LUN in the notes and restart the VM, or change the image while the VM is stopped`,
      `${lunDir(vmid, lun)}/removable`,
    );
  }
  return target;
}

export function decideMedia(vmid: number, req: MediaRequest, record: GadgetRecord | undefined, live: readonly LiveLun[]): MediaDecision {
  const target = checkTarget(vmid, req.lun, record, live);
  if (!('index' in target)) return target;
  const dir = lunDir(vmid, req.lun);
  const open = target.file !== '';
  if (req.force && open && !target.forcedEject) {
    return refuse(`this kernel has no ${dir}/forced_eject (Linux >= 6.0)`, 'eject the medium inside the guest (e.g. eject /dev/sr0), then retry without --force', `${dir}/forced_eject`);
  }
  const eject = (): MediaStep =>
    req.force
      ? { op: { kind: 'write', path: `${dir}/forced_eject`, value: '1' }, what: 'forced-eject', lockable: false }
      : // a newline, not an empty string: a zero-length write(2) never reaches fsg_store_file, which
        // strips one trailing newline and closes the file when nothing is left
        { op: { kind: 'write', path: `${dir}/file`, value: '\n' }, what: 'eject', lockable: true };

  if (req.action === 'eject') {
    if (!open) return { kind: 'nothing', reason: `lun${req.lun} has no medium` };
    return { kind: 'steps', steps: [eject()] };
  }

  const ro = req.ro || req.cdrom;
  if (open && target.file === req.image && target.ro === ro && target.cdrom === req.cdrom) {
    return { kind: 'nothing', reason: `lun${req.lun} already serves ${req.image}` };
  }
  const attrs: MediaStep[] = [];
  if (target.cdrom !== req.cdrom) attrs.push({ op: { kind: 'write', path: `${dir}/cdrom`, value: req.cdrom ? '1' : '0' }, what: 'cdrom', lockable: false });
  if (target.ro !== ro) attrs.push({ op: { kind: 'write', path: `${dir}/ro`, value: ro ? '1' : '0' }, what: 'ro', lockable: false });
  const load: MediaStep = { op: { kind: 'write', path: `${dir}/file`, value: req.image }, what: 'load', lockable: false };
  if (!open) return { kind: 'steps', steps: [...attrs, load] };
  // same mode and not forced: one write swaps the medium, and a new file that fails to open leaves the old one
  if (attrs.length === 0 && !req.force) return { kind: 'steps', steps: [{ ...load, lockable: true }] };
  return { kind: 'steps', steps: [eject(), ...attrs, load] };
}
