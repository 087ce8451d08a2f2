// The pre-start decision (src/hook/decide.ts) from facts gathered once (src/hook/facts.ts) over a
// temporary host root: a plan with the UDC, the record and the bind op, or the same typed refusals as
// before. Gathering changes nothing on the host; deciding is pure.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, ImagePolicyError } from '../../src/errors.js';
import { decidePreStart } from '../../src/hook/decide.js';
import { gatherPreStartFacts, type PreStartFacts } from '../../src/hook/facts.js';
import { recordWriter } from '../../src/hook/record-writer.js';
import { parseSettings } from '../../src/settings/parse.js';
import type { GadgetSpec } from '../../src/spec/types.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.remove();
});

const spec = (image = '/images/stick.img'): GadgetSpec => ({
  vendorId: 0x0781,
  productId: 0x5571,
  bcdDevice: 0x0100,
  manufacturer: 'SanDisk',
  product: 'Cruzer',
  serial: '4C530001230101112345',
  serialSource: 'notes',
  speed: 'high',
  luns: [{ index: 0, image, readonly: false, removable: true, cdrom: false, inquiry: 'SanDisk Cruzer'.padEnd(28) }],
});

function host() {
  const t = tmpRoot('pvug-decide-');
  roots.push(t);
  t.put('/images/stick.img', Buffer.alloc(4096).toString());
  for (const n of [0, 1, 2]) mkdirSync(join(t.root, `sys/class/udc/dummy_udc.${n}`), { recursive: true });
  // a foreign gadget bound to dummy_udc.0, with its own id
  t.put('/sys/kernel/config/usb_gadget/foreign/idVendor', '0x1d6b\n');
  t.put('/sys/kernel/config/usb_gadget/foreign/idProduct', '0x0104\n');
  t.put('/sys/kernel/config/usb_gadget/foreign/UDC', 'dummy_udc.0\n');
  const settings = parseSettings(`[images]\nallowed_dirs = /images\n[paths]\nroot = ${t.root}\nstate_dir = /run/pvug\n`, 'test', 'pve');
  const state = new StateStore(t.fs, settings.paths.stateDir);
  const deps = { fs: t.fs, settings, state, clock: { now: () => Date.parse('2026-12-07T01:00:00Z') } };
  return { t, settings, state, deps };
}

const snapshot = (root: string): string[] => readdirSync(root, { recursive: true }).map(String).sort();

describe('decidePreStart', () => {
  it('plans the gadget: the free UDC past bound and reserved ones, the record, the configfs ops and the bind last', () => {
    const { t, settings, state, deps } = host();
    // VM 300's pre-start is between its record and its bind: dummy_udc.1 is reserved
    state.write({ version: 1, vmid: 300, phase: 'building', node: 'pve', gadgetDir: '/x', udc: 'dummy_udc.1', usbId: '0781:0001', serial: 's', speed: 'high', luns: [], createdAt: '', pid: 1 });
    const before = snapshot(t.root);
    const facts = gatherPreStartFacts(deps, 100, spec(), {}, { udcs: true });
    expect(snapshot(t.root)).toEqual(before);

    const plan = decidePreStart(100, spec(), facts, settings);
    expect(plan.build?.udc).toBe('dummy_udc.2');
    expect(plan.build?.record).toMatchObject({ vmid: 100, phase: 'building', udc: 'dummy_udc.2', usbId: '0781:5571', createdAt: '2026-12-07T01:00:00.000Z', luns: [{ index: 0, image: '/images/stick.img' }] });
    expect(plan.build?.ops).toContainEqual({ kind: 'write', path: '/sys/kernel/config/usb_gadget/pvug-100/functions/mass_storage.0/lun.0/file', value: '/images/stick.img' });
    expect(plan.build?.ops.some((o) => o.path.endsWith('/UDC'))).toBe(false);
    expect(plan.build?.bind).toEqual({ kind: 'write', path: '/sys/kernel/config/usb_gadget/pvug-100/UDC', value: 'dummy_udc.2' });
    // the same facts, the same plan
    expect(decidePreStart(100, spec(), facts, settings)).toEqual(plan);
  });

  it('without the controllers (the decision before the lock) it checks everything but builds nothing', () => {
    const { settings, deps } = host();
    const plan = decidePreStart(100, spec(), gatherPreStartFacts(deps, 100, spec(), {}, { udcs: false }), settings);
    expect(plan.spec.luns[0]?.image).toBe('/images/stick.img');
    expect(plan.build).toBeUndefined();
  });

  it('refuses a USB id another gadget shows, a path outside the allowed dirs, and a full host, as before', () => {
    const { t, settings, deps } = host();
    const facts = gatherPreStartFacts(deps, 100, spec(), {}, { udcs: true });
    const taken: PreStartFacts = { ...facts, gadgets: [...facts.gadgets, { gadget: 'pvug-200', usbId: '0781:5571' }] };
    expect(() => decidePreStart(100, spec(), taken, settings)).toThrow(ConflictError);
    expect(() => decidePreStart(100, spec(), taken, settings)).toThrow('USB id 0781:5571 is already used by VM 200 on this host');
    // its own leftover hides whether the id is free: decided after the locked cleanup
    expect(decidePreStart(100, spec(), { ...taken, ownGadget: true }, settings).kind).toBe('plan');

    const full: PreStartFacts = { ...facts, reservedUdcs: ['dummy_udc.1', 'dummy_udc.2'] };
    expect(() => decidePreStart(100, spec(), full, settings)).toThrow(/no free USB device controller: all 3 dummy_udc controllers are in use/);

    t.put('/etc/stick.img', Buffer.alloc(4096).toString());
    const outside = gatherPreStartFacts(deps, 100, spec('/etc/stick.img'), {}, { udcs: true });
    expect(() => decidePreStart(100, spec('/etc/stick.img'), outside, settings)).toThrow(ImagePolicyError);
    expect(() => decidePreStart(100, spec('/etc/stick.img'), outside, settings)).toThrow(/not inside an allowed directory/);
  });
});

describe('recordWriter', () => {
  it('writes the first record at once and each change as a new record, never changing the one it was given', () => {
    const { state } = host();
    const first: GadgetRecord = { version: 1, vmid: 100, phase: 'building', node: 'pve', gadgetDir: '/g', udc: 'dummy_udc.0', usbId: '0781:5571', serial: 's', speed: 'high', luns: [], quirk: '0781:5571:i', createdAt: '', pid: 1 };
    const w = recordWriter(state, first);
    expect(state.read(100)).toEqual(first);
    w.update({ quirk: undefined });
    w.update((r) => ({ ...r, phase: 'live', busPort: '3-1' }));
    expect(state.read(100)).toMatchObject({ phase: 'live', busPort: '3-1' });
    expect(state.read(100)?.quirk).toBeUndefined();
    expect(w.current).toEqual(state.read(100));
    expect(first).toMatchObject({ phase: 'building', quirk: '0781:5571:i' });
  });
});
