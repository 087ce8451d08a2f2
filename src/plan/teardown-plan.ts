import type { Op } from './ops.js';

/** What is actually in a gadget's configfs directory, read at teardown time. */
export interface ObservedGadget {
  /** absolute path of the gadget directory */
  dir: string;
  /** content of the UDC file ("" when unbound) */
  udc: string;
  configs: { name: string; links: string[]; strings: string[] }[];
  functions: { name: string; extraLuns: string[] }[];
  strings: string[];
  osDescLinks: string[];
}

/**
 * Removal in the order the kernel requires (Documentation/usb/gadget_configfs.rst, "Cleaning up"; each
 * step proven on a real kernel in test/e2e): unbind → os_desc links → function links →
 * config strings → configs → extra LUNs → functions → gadget strings → the gadget. It works from what is
 * observed, not from what was planned, so it also removes a gadget half-built by a killed pre-start.
 */
export function planTeardown(g: ObservedGadget): Op[] {
  const ops: Op[] = [];
  if (g.udc.trim() !== '') ops.push({ kind: 'unbind', path: `${g.dir}/UDC` });
  for (const link of g.osDescLinks) ops.push({ kind: 'unlink', path: `${g.dir}/os_desc/${link}` });
  for (const c of g.configs) {
    const cdir = `${g.dir}/configs/${c.name}`;
    for (const link of c.links) ops.push({ kind: 'unlink', path: `${cdir}/${link}` });
    for (const s of c.strings) ops.push({ kind: 'rmdir', path: `${cdir}/strings/${s}` });
    ops.push({ kind: 'rmdir', path: cdir });
  }
  for (const f of g.functions) {
    const fdir = `${g.dir}/functions/${f.name}`;
    for (const lun of f.extraLuns) ops.push({ kind: 'rmdir', path: `${fdir}/${lun}` });
    ops.push({ kind: 'rmdir', path: fdir });
  }
  for (const s of g.strings) ops.push({ kind: 'rmdir', path: `${g.dir}/strings/${s}` });
  ops.push({ kind: 'rmdir', path: g.dir });
  return ops;
}
