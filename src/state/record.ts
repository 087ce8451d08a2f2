import type { HostFs } from '../ports/host-fs.js';
import type { Speed } from '../spec/types.js';
import type { LunVolume } from '../storage/resolve.js';

/** A media change under way (src/media/change.ts): written before its first configfs write, removed after. */
export interface MediaIntent {
  lun: number;
  action: 'insert' | 'eject';
  /** the realpath being inserted */
  image?: string;
  /** how many of the planned configfs writes are done */
  done: number;
  steps: number;
  pid: number;
  startedAt: string;
}

/**
 * What pre-start made for one VM. Written before the first configfs change ("building") and updated
 * once the gadget is live, so a pre-start killed half-way still leaves a record post-stop can act on.
 * Teardown works from this record and the observed configfs tree, never from the notes (they may have
 * changed since the start).
 */
export interface GadgetRecord {
  version: 1;
  vmid: number;
  phase: 'building' | 'live';
  node: string;
  /** host-absolute configfs directory, always pvug-<vmid> */
  gadgetDir: string;
  udc: string;
  usbId: string;
  serial: string;
  speed: Speed;
  /**
   * resolved (realpath) images per LUN ('' after a media eject); `volume` (optional) when the notes named a Proxmox volume: what
   * was activated or mapped, so teardown can release it (src/storage/resolve.ts)
   */
  luns: { index: number; image: string; readonly: boolean; cdrom: boolean; volume?: LunVolume }[];
  /** a media change in progress; a record still holding one after its pid died was interrupted */
  media?: MediaIntent;
  /**
   * volumes activated for this stick that no LUN serves (a media change's new volume before it is
   * served, the old one until it is released): teardown releases them like the LUNs' own
   */
  spareVolumes?: LunVolume[];
  /** the usb_storage quirk entry we added, if any */
  quirk?: string;
  /** bus-port the host enumerated it on, e.g. "3-1" */
  busPort?: string;
  mapping?: string;
  createdAt: string;
  pid: number;
}

export class StateStore {
  constructor(
    private readonly fs: HostFs,
    readonly dir: string,
  ) {}

  /** vmid comes from argv as an integer: the only thing that ever names a state file */
  path(vmid: number): string {
    return `${this.dir}/${vmid}.json`;
  }

  write(record: GadgetRecord): void {
    this.fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.fs.writeAtomic(this.path(record.vmid), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The record, or undefined when there is none or it is unreadable (a torn write counts as none). */
  read(vmid: number): GadgetRecord | undefined {
    const text = this.fs.readTextIfExists(this.path(vmid));
    if (text === undefined) return undefined;
    try {
      const r = JSON.parse(text) as GadgetRecord;
      return r && r.version === 1 && r.vmid === vmid ? r : undefined;
    } catch {
      return undefined;
    }
  }

  remove(vmid: number): void {
    for (const p of [this.path(vmid)]) {
      if (this.fs.exists(p)) this.fs.unlink(p);
    }
  }

  list(): GadgetRecord[] {
    return this.fs
      .list(this.dir)
      .map((n) => /^([1-9][0-9]*)\.json$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => this.read(Number(m[1])))
      .filter((r): r is GadgetRecord => r !== undefined);
  }
}
