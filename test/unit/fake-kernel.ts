// A host tree in a temporary folder that answers like the kernel for one happy-path pre-start: modules
// loaded, configfs mounted, dummy_udc.0 free; default groups appear by themselves (strings/, lun.0, ...)
// and binding the gadget makes the host "enumerate" a device with the ids and serial written to
// configfs. Enough to run preStart to the end in a unit test; the real kernel is test/e2e's.
import type { HostFs } from '../../src/ports/host-fs.js';
import type { TmpRoot } from './tmp-root.js';

const GADGETS = '/sys/kernel/config/usb_gadget';

export function fakeKernelFs(t: TmpRoot): HostFs {
  for (const m of ['configfs', 'libcomposite', 'usb_f_mass_storage', 'usb_storage', 'dummy_hcd']) t.fs.mkdir(`/sys/module/${m}`, { recursive: true });
  t.put('/sys/module/usb_storage/parameters/quirks', '\n');
  t.fs.mkdir(GADGETS, { recursive: true });
  t.put('/sys/class/udc/dummy_udc.0/state', 'not attached\n');
  const base = t.fs;
  return {
    ...base,
    mkdir(p, opts) {
      // configfs makes default groups itself (a gadget's strings/, configs/, functions/; a config's strings/)
      base.mkdir(p, { ...opts, recursive: true });
      if (/\/functions\/mass_storage\.\d+$/.test(p)) base.mkdir(`${p}/lun.0`);
    },
    write(p, value) {
      base.write(p, value);
      const m = /^\/sys\/kernel\/config\/usb_gadget\/([^/]+)\/UDC$/.exec(p);
      if (!m || value.trim() !== 'dummy_udc.0') return;
      const g = `${GADGETS}/${m[1]}`;
      const hex = (f: string) => Number.parseInt(base.readText(`${g}/${f}`), 16).toString(16).padStart(4, '0');
      const dev = '/sys/devices/platform/dummy_hcd.0/usb1/1-1';
      t.put(`${dev}/idVendor`, `${hex('idVendor')}\n`);
      t.put(`${dev}/idProduct`, `${hex('idProduct')}\n`);
      t.put(`${dev}/serial`, `${base.readText(`${g}/strings/0x409/serialnumber`)}\n`);
      t.put('/sys/class/udc/dummy_udc.0/state', 'configured\n');
    },
  };
}
