import type { ObservedGadget } from '../plan/teardown-plan.js';
import type { HostFs } from '../ports/host-fs.js';

/** Read a gadget's configfs tree into the shape planTeardown needs; undefined if it is not there. */
export function observeGadget(fs: HostFs, dir: string): ObservedGadget | undefined {
  if (!fs.exists(dir)) return undefined;
  const configs = fs.list(`${dir}/configs`).map((name) => {
    const cdir = `${dir}/configs/${name}`;
    return {
      name,
      links: fs.list(cdir).filter((e) => fs.isSymlink(`${cdir}/${e}`)),
      strings: fs.list(`${cdir}/strings`),
    };
  });
  const functions = fs.list(`${dir}/functions`).map((name) => ({
    name,
    // lun.0 is a default group: it goes with its function and cannot be removed on its own
    extraLuns: fs
      .list(`${dir}/functions/${name}`)
      .filter((e) => /^lun\.\d+$/.test(e) && e !== 'lun.0')
      .sort((a, b) => Number(b.slice(4)) - Number(a.slice(4))),
  }));
  return {
    dir,
    udc: fs.readTextIfExists(`${dir}/UDC`) ?? '',
    configs,
    functions,
    strings: fs.list(`${dir}/strings`),
    osDescLinks: fs.list(`${dir}/os_desc`).filter((e) => fs.isSymlink(`${dir}/os_desc/${e}`)),
  };
}
