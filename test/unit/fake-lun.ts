// configfs mass-storage LUN attributes in a temporary folder, answering writes like the kernel does
// (drivers/usb/gadget/function/storage_common.c, 6.1..7.3):
//   _fsg_store_ro / fsg_store_ro: EBUSY while a file is open
//   fsg_store_cdrom: cdrom=1 goes through _fsg_store_ro (EBUSY while open, sets ro); cdrom=0 always works
//   fsg_store_file: EBUSY when prevent_medium_removal && open; a path opens (replacing an open one), "" closes
//   fsg_store_forced_eject: clears prevent_medium_removal, then fsg_store_file("")
// `lock(dir)` stands for the guest's PREVENT ALLOW MEDIUM REMOVAL; a missing path fails ENOENT like filp_open.
import type { HostFs } from '../../src/ports/host-fs.js';
import type { TmpRoot } from './tmp-root.js';

const busy = (p: string) => Object.assign(new Error(`EBUSY: resource busy, write '${p}'`), { code: 'EBUSY' });

export interface FakeLuns {
  fs: HostFs;
  lock(lunDir: string): void;
  writes: string[];
}

export function fakeLunFs(t: TmpRoot): FakeLuns {
  const base = t.fs;
  const locked = new Set<string>();
  const writes: string[] = [];
  const read = (p: string) => base.readTextIfExists(p)?.trim() ?? '';
  const fs: HostFs = {
    ...base,
    write(p, value) {
      const m = /^(.*\/lun\.\d+)\/(ro|cdrom|file|forced_eject)$/.exec(p);
      if (!m) return base.write(p, value);
      const [, dir = '', attr] = m;
      // write(2) of zero bytes: configfs never calls the attribute's store (writeFileSync of '' writes nothing)
      if (value === '') return;
      const open = read(`${dir}/file`) !== '';
      writes.push(`${attr}=${value}`);
      if (attr === 'ro') {
        if (open) throw busy(p);
        return base.write(p, `${value === '1' ? 1 : 0}\n`);
      }
      if (attr === 'cdrom') {
        if (value === '1') {
          if (open) throw busy(p);
          base.write(`${dir}/ro`, '1\n');
        }
        return base.write(p, `${value === '1' ? 1 : 0}\n`);
      }
      if (attr === 'forced_eject') locked.delete(dir);
      if (locked.has(dir) && open) throw busy(p);
      const path = attr === 'forced_eject' ? '' : value.trim();
      if (path !== '' && !base.exists(path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      if (path === '') locked.delete(dir);
      base.write(`${dir}/file`, `${path}\n`);
    },
  };
  return { fs, lock: (d) => void locked.add(d), writes };
}

/** A live gadget of `vmid` with these LUNs, each open on its file ('' = no medium). */
export function putLuns(t: TmpRoot, vmid: number, luns: { file: string; ro?: boolean; cdrom?: boolean; removable?: boolean; forcedEject?: boolean }[]): void {
  luns.forEach((l, i) => {
    const dir = `/sys/kernel/config/usb_gadget/pvug-${vmid}/functions/mass_storage.0/lun.${i}`;
    t.put(`${dir}/file`, `${l.file}\n`);
    t.put(`${dir}/ro`, `${l.ro || l.cdrom ? 1 : 0}\n`);
    t.put(`${dir}/cdrom`, `${l.cdrom ? 1 : 0}\n`);
    t.put(`${dir}/removable`, `${l.removable === false ? 0 : 1}\n`);
    if (l.forcedEject !== false) t.put(`${dir}/forced_eject`, '');
  });
}
