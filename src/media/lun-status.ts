/**
 * Each LUN's live state (configfs) next to what the record and the notes say it should serve. Pure but
 * for `resolve`, which maps a notes path to its realpath (configfs shows the opened file's real path).
 */
import type { LunSpec } from '../spec/types.js';
import type { GadgetRecord } from '../state/record.js';
import type { LiveLun } from './live-lun.js';

export interface LunStatus {
  index: number;
  /** a medium is present (the LUN has a file open) */
  medium: boolean;
  /** the file it serves, '' without a medium */
  file: string;
  ro: boolean;
  cdrom: boolean;
  removable: boolean;
  /** the Proxmox volume id behind `file`, from the record */
  volid?: string;
  /** what the record says the LUN serves ('' = ejected by a media change) */
  recorded?: string;
  /** the notes' image for this LUN (as written there), if the notes could be read and are valid */
  notes?: string;
  /** how the live state differs from the record / the notes, e.g. "no medium (the guest ejected it?)" */
  differs: string[];
}

export function lunStatuses(
  record: GadgetRecord | undefined,
  live: readonly LiveLun[],
  notesLuns: readonly LunSpec[] | undefined,
  resolve: (image: string) => string | undefined,
): LunStatus[] {
  return live.map((l) => {
    const rec = record?.luns.find((r) => r.index === l.index);
    const note = notesLuns?.find((n) => n.index === l.index);
    const differs: string[] = [];
    if (rec) {
      if (rec.image !== l.file) differs.push(l.file === '' ? `no medium, the record says ${rec.image} (ejected by the guest?)` : `serves ${l.file}, the record says ${rec.image || 'no medium'}`);
      else if (rec.cdrom !== l.cdrom || rec.readonly !== l.ro) differs.push('ro/cdrom differ from the record');
    } else if (record) {
      differs.push('not in the record');
    }
    if (note) {
      const wanted = rec?.volume?.volid === note.image ? rec.volume.device : resolve(note.image);
      if (wanted !== l.file) differs.push(`the notes name ${note.image}: the next start serves that`);
      else if (note.cdrom !== l.cdrom || note.readonly !== l.ro) differs.push(`the notes say ${note.cdrom ? 'cdrom' : note.readonly ? 'read-only' : 'read-write'}`);
    } else if (notesLuns) {
      differs.push('the notes have no section for this LUN');
    }
    return {
      index: l.index,
      medium: l.file !== '',
      file: l.file,
      ro: l.ro,
      cdrom: l.cdrom,
      removable: l.removable,
      volid: rec?.volume && rec.image === l.file ? rec.volume.volid : undefined,
      recorded: rec?.image,
      notes: note?.image,
      differs,
    };
  });
}

export function formatLunStatus(s: LunStatus): string {
  const mode = [s.cdrom ? 'cdrom' : 'disk', s.ro ? 'read-only' : 'read-write', s.removable ? 'removable' : 'fixed'].join(', ');
  const medium = s.medium ? `${s.volid ? `${s.volid} -> ` : ''}${s.file}` : 'no medium';
  return `  lun${s.index}: ${medium} (${mode})${s.differs.length > 0 ? `; differs: ${s.differs.join('; ')}` : ''}`;
}
