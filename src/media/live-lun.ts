/**
 * What a LUN of a live gadget serves right now, read from configfs (the kernel's own view; the record
 * says what pre-start or the last media change asked for). The guest can eject a removable medium
 * itself (START STOP UNIT), which closes the file: then `file` reads empty while the record still names
 * the image.
 */
import type { HostFs } from '../ports/host-fs.js';
import { gadgetDir } from '../plan/ops.js';

export const MASS_STORAGE = 'mass_storage.0';

export interface LiveLun {
  index: number;
  /** what `file` shows: the open backing file's path, '' when no medium is present */
  file: string;
  ro: boolean;
  cdrom: boolean;
  removable: boolean;
  /** the kernel has `forced_eject` (Linux >= 6.0) */
  forcedEject: boolean;
}

export const lunDir = (vmid: number, index: number): string => `${gadgetDir(vmid)}/functions/${MASS_STORAGE}/lun.${index}`;

/** The LUNs of VM `vmid`'s gadget as configfs shows them, by index; [] when there is no gadget. */
export function readLiveLuns(fs: HostFs, vmid: number): LiveLun[] {
  const fn = `${gadgetDir(vmid)}/functions/${MASS_STORAGE}`;
  return fs
    .list(fn)
    .map((e) => /^lun\.([0-9]{1,2})$/.exec(e))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b)
    .map((index) => {
      const dir = `${fn}/lun.${index}`;
      const attr = (name: string) => fs.readTextIfExists(`${dir}/${name}`)?.trim() ?? '';
      return {
        index,
        file: attr('file'),
        ro: attr('ro') === '1',
        cdrom: attr('cdrom') === '1',
        removable: attr('removable') === '1',
        forcedEject: fs.exists(`${dir}/forced_eject`),
      };
    });
}
