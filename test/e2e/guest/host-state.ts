/** Runs INSIDE the test VM: what the hook left on the host, for assertions on the test side. */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';

const read = (p: string) => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
};
const list = (p: string) => {
  try {
    return readdirSync(p).sort();
  } catch {
    return [];
  }
};

export interface HostState {
  gadgets: string[];
  quirks: string;
  stateFiles: string[];
  modules: Record<'dummy_hcd' | 'libcomposite' | 'usb_f_mass_storage', boolean>;
  udcs: string[];
  /** bound UDCs: gadget → udc */
  bound: Record<string, string>;
}

export function hostState(): HostState {
  const g = '/sys/kernel/config/usb_gadget';
  const gadgets = list(g);
  return {
    gadgets,
    quirks: read('/sys/module/usb_storage/parameters/quirks') ?? '',
    stateFiles: list('/run/pve-usb-gadget').filter((f) => f.endsWith('.json')),
    modules: {
      dummy_hcd: existsSync('/sys/module/dummy_hcd'),
      libcomposite: existsSync('/sys/module/libcomposite'),
      usb_f_mass_storage: existsSync('/sys/module/usb_f_mass_storage'),
    },
    udcs: list('/sys/class/udc'),
    bound: Object.fromEntries(gadgets.map((x) => [x, read(`${g}/${x}/UDC`) ?? ''])),
  };
}

/** The identity of the device on a USB bus-port as the host (or a guest's firmware) reads it. */
export function usbIdentity(busPort: string): Record<string, string | undefined> {
  const d = `/sys/bus/usb/devices/${busPort}`;
  const out: Record<string, string | undefined> = {};
  for (const f of ['idVendor', 'idProduct', 'serial', 'manufacturer', 'product', 'bcdDevice', 'speed']) out[f] = read(`${d}/${f}`);
  return out;
}

/** SCSI disks (sdX, srX) that sit on a given USB bus-port, with their INQUIRY vendor/model/rev. */
export function scsiDisksOn(busPort: string): { name: string; lun: number; vendor?: string; model?: string; rev?: string; ro?: string }[] {
  const disks = [];
  for (const name of list('/sys/block')) {
    let real: string;
    try {
      real = realpathSync(`/sys/block/${name}`);
    } catch {
      continue;
    }
    if (!real.includes(`/${busPort}/${busPort}:1.0/`)) continue;
    const m = /\/\d+:\d+:\d+:(\d+)\/block\//.exec(real);
    disks.push({
      name,
      lun: m ? Number(m[1]) : -1,
      vendor: read(`/sys/block/${name}/device/vendor`),
      model: read(`/sys/block/${name}/device/model`),
      rev: read(`/sys/block/${name}/device/rev`),
      ro: read(`/sys/block/${name}/ro`),
    });
  }
  return disks.sort((a, b) => a.lun - b.lun);
}
