/**
 * Pure: the record brought in line with what configfs serves, after a media change that was
 * interrupted (kill -9) or failed half-way. configfs is the truth for what each LUN serves; a volume
 * no LUN serves any more goes to `spareVolumes` and is returned to be released.
 */
import type { GadgetRecord } from '../state/record.js';
import type { LunVolume } from '../storage/resolve.js';
import type { LiveLun } from './live-lun.js';

const serves = (v: LunVolume | undefined, file: string): boolean => v !== undefined && file !== '' && (v.device === file || v.path === file);

export function settleRecord(record: GadgetRecord, live: readonly LiveLun[]): { record: GadgetRecord; release: LunVolume[] } {
  let spare = [...(record.spareVolumes ?? [])];
  const luns = record.luns.map((l) => {
    const now = live.find((x) => x.index === l.index);
    if (!now) return l;
    let volume = l.volume;
    if (volume && !serves(volume, now.file)) {
      spare.push(volume);
      volume = undefined;
    }
    if (!volume) {
      const found = spare.find((v) => serves(v, now.file));
      if (found) {
        spare = spare.filter((v) => v !== found);
        volume = found;
      }
    }
    const { volume: _old, ...rest } = l;
    return { ...rest, image: now.file, readonly: now.ro, cdrom: now.cdrom, ...(volume ? { volume } : {}) };
  });
  const { media: _intent, spareVolumes: _spare, ...rest } = record;
  return { record: { ...rest, luns, ...(spare.length > 0 ? { spareVolumes: spare } : {}) }, release: spare };
}
