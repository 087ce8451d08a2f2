/**
 * Which LUNs of a stick a backup copies, and from which path. Image files named in the notes are read
 * where the image policy finds them (the notes are hostile: only what pre-start would export is read).
 * A LUN on a Proxmox volume, or on a block device path, is read from what the live gadget serves: the
 * device in this VM's state record (written by our pre-start or a media change after the image or
 * volume policy), which configfs must show open in that LUN right now. Never a path from the notes
 * text itself: a volume id only becomes a device through PVE::Storage and the volume policy, at start.
 * Without a live gadget such a LUN is not saved, and the task log says so and why.
 */
import { imageContext } from '../host/image-facts.js';
import { lunBacking } from '../host/lun-backing.js';
import type { Logger } from '../hook/log.js';
import { readLiveLuns } from '../media/live-lun.js';
import type { HostFs } from '../ports/host-fs.js';
import type { Settings } from '../settings/types.js';
import type { LunSpec, GadgetSpec } from '../spec/types.js';
import type { GadgetRecord } from '../state/record.js';
import { formatVolumeId, parseVolumeId } from '../storage/volume-id.js';
import { isUnder } from '../values/paths.js';

export interface Source {
  index: number;
  /** what the manifest keeps as the LUN's image: the notes' path, or the volume id */
  image: string;
  /** the host-absolute path read: an image file or a block device */
  real: string;
  kind: 'file' | 'block';
  readonly: boolean;
  cdrom: boolean;
}

/** The state records (state/record.ts StateStore), read only. */
export interface RecordReader {
  read(vmid: number): GadgetRecord | undefined;
  path(vmid: number): string;
}

export interface SourceDeps {
  fs: HostFs;
  settings: Settings;
  log: Logger;
  records: RecordReader;
}

/** The LUNs we copy. Says why each other one is left out. */
export function copyableLuns(deps: SourceDeps, vmid: number, spec: GadgetSpec): Source[] {
  const ctx = imageContext(deps.fs, deps.settings, vmid);
  const out: Source[] = [];
  for (const lun of spec.luns) {
    const name = `LUN ${lun.index}`;
    const b = lunBacking(deps.fs, deps.settings, ctx, lun);
    if (b.kind === 'cdrom') {
      deps.log.info(`${name} is a cdrom image: not copied (read-only media; back it up where it comes from)`);
      continue;
    }
    if (b.kind === 'file') {
      out.push({ index: lun.index, image: lun.image, real: b.real, kind: 'file', readonly: lun.readonly, cdrom: lun.cdrom });
      continue;
    }
    const what = b.kind === 'volume' ? `the Proxmox volume ${lun.image}` : `the block device ${b.real}`;
    const served = servedSource(deps, vmid, lun);
    if ('why' in served) {
      deps.log.warn(`${name} (${what}) NOT SAVED: ${served.why}`);
      continue;
    }
    if (served.image !== (b.kind === 'volume' ? volumeIdOf(lun.image) : b.real)) {
      deps.log.warn(`${name}: the notes name ${lun.image}, the live stick serves ${served.image} (notes changed since the start): copying what it serves`);
    }
    deps.log.info(`${name} is ${what}: copied from ${served.real}, the ${served.kind === 'block' ? 'device' : 'file'} the live stick serves`);
    out.push(served);
  }
  return out;
}

const volumeIdOf = (image: string): string => {
  const p = parseVolumeId(image);
  return p.ok ? formatVolumeId(p.value) : image;
};

/** What the live gadget of `vmid` serves in `lun`'s place, as recorded and as configfs shows it; or why not. */
export function servedSource(deps: Pick<SourceDeps, 'fs' | 'records'>, vmid: number, lun: Pick<LunSpec, 'index' | 'readonly' | 'cdrom'>): Source | { why: string } {
  const fix = `a volume or block device is copied from the live stick only (pve-usb-gadget up ${vmid}, or start the VM)`;
  const rec = deps.records.read(vmid);
  if (!rec) return { why: `VM ${vmid}'s stick is not live (no record ${deps.records.path(vmid)}): ${fix}` };
  if (rec.phase !== 'live') return { why: `VM ${vmid}'s stick did not finish starting (record phase ${rec.phase}): ${fix}` };
  const r = rec.luns.find((l) => l.index === lun.index);
  if (!r || r.image === '') return { why: `the live stick has no medium in LUN ${lun.index} (ejected)` };
  // the kernel's view: a medium the guest ejected, or a gadget torn down without its record, is not read
  const live = readLiveLuns(deps.fs, vmid).find((l) => l.index === lun.index);
  if (!live) return { why: `configfs has no LUN ${lun.index} for VM ${vmid} (the gadget is gone; the record is stale): ${fix}` };
  if (live.file !== r.image) {
    return {
      why: `configfs serves ${live.file === '' ? 'no medium' : live.file} in LUN ${lun.index}, the record names ${r.image}: see pve-usb-gadget media ${vmid} show`,
    };
  }
  let kind: string;
  try {
    kind = deps.fs.stat(r.image).kind;
  } catch (err) {
    return { why: `${r.image} cannot be read (${err instanceof Error ? err.message : String(err)})` };
  }
  if (kind === 'block' && !isUnder(r.image, '/dev')) return { why: `${r.image} is a block device outside /dev` };
  if (kind !== 'block' && kind !== 'file') return { why: `${r.image} is neither a regular file nor a block device` };
  return { index: lun.index, image: r.volume?.volid ?? r.image, real: r.image, kind, readonly: r.readonly, cdrom: r.cdrom };
}
