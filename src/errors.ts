/**
 * Typed errors. Every error the hook or CLI can raise carries what an operator needs to act:
 * what failed, the key or path involved, the errno when the kernel said no, and the fix.
 * `toLine()` is the one line printed to stderr / the Proxmox task log.
 */
export interface ErrorDetails {
  /** the notes key, settings key or file path the problem is about */
  key?: string;
  path?: string;
  /** errno code from the kernel/filesystem, e.g. EBUSY */
  errno?: string;
  /** what the operator can do about it */
  fix?: string;
  cause?: unknown;
}

export class GadgetError extends Error {
  readonly key?: string;
  readonly path?: string;
  readonly errno?: string;
  readonly fix?: string;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.key = details.key;
    this.path = details.path;
    this.errno = details.errno;
    this.fix = details.fix;
  }

  toLine(): string {
    const where = [this.key && `key ${this.key}`, this.path, this.errno].filter(Boolean).join(', ');
    return `${this.message}${where ? ` (${where})` : ''}${this.fix ? `; fix: ${this.fix}` : ''}`;
  }
}

/** One problem found in the notes: always names the key (or section) and what is allowed. */
export interface NotesProblem {
  /** e.g. "usb-gadget.vendor_id" or "usb-gadget.lun1" */
  key: string;
  message: string;
}

/** The [usb-gadget] section is invalid. Holds every problem, not just the first. */
export class NotesError extends GadgetError {
  readonly problems: readonly NotesProblem[];
  constructor(problems: readonly NotesProblem[]) {
    super(
      `invalid [usb-gadget] notes: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`,
      { fix: 'edit the VM notes (Datacenter > VM > Notes) and start again' },
    );
    this.problems = problems;
  }
}

/** The host settings file is missing, unreadable, unsafe or invalid. */
export class SettingsError extends GadgetError {}

/** A configfs/sysfs operation the kernel refused. */
export class KernelError extends GadgetError {}

/** An image path broke the image policy (see README "Security model"). */
export class ImagePolicyError extends GadgetError {}

/** Something else on the host is in the way (VID:PID in use, no free UDC, image exported twice). */
export class ConflictError extends GadgetError {}

/** The host did not enumerate the gadget in time. */
export class EnumerationTimeoutError extends GadgetError {}

/** An external command (modprobe, mount, logger) failed. */
export class CommandError extends GadgetError {}

/** errno code of a Node fs error, if any. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** A stick backup could not be taken, listed or restored (src/backup/). */
export class BackupError extends GadgetError {}

/** A media change (pve-usb-gadget media) refused before anything changed, or interrupted by the kernel. */
export class MediaError extends GadgetError {}

/** A snapshot, rollback or snapshot removal (src/snapshot/) refused before anything changed, or failed. */
export class SnapshotError extends GadgetError {}

/** A step of setting up or removing pve-usb-gadget on a node (`pve-usb-gadget setup ...`, run by install.sh) cannot be done. */
export class SetupError extends GadgetError {}
