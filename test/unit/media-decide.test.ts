// decideMedia: the kernel's order (ro/cdrom only while closed), force only when asked, and refusals.
import { describe, expect, it } from 'vitest';
import { decideMedia } from '../../src/media/decide.js';
import type { LiveLun } from '../../src/media/live-lun.js';
import type { GadgetRecord } from '../../src/state/record.js';

const record = { version: 1, vmid: 100, phase: 'live', luns: [] } as unknown as GadgetRecord;
const lun = (o: Partial<LiveLun> = {}): LiveLun => ({ index: 0, file: '/img/a.iso', ro: true, cdrom: true, removable: true, forcedEject: true, ...o });
const D = '/sys/kernel/config/usb_gadget/pvug-100/functions/mass_storage.0/lun.0';
const writes = (d: ReturnType<typeof decideMedia>) => (d.kind === 'steps' ? d.steps.map((s) => `${s.op.path.slice(D.length + 1)}=${s.op.value}`) : d.kind);

describe('decideMedia', () => {
  it('swaps an ISO of the same mode with one write to file, which the lock can refuse', () => {
    const d = decideMedia(100, { action: 'insert', lun: 0, image: '/img/b.iso', ro: true, cdrom: true, force: false }, record, [lun()]);
    expect(writes(d)).toEqual(['file=/img/b.iso']);
    expect(d.kind === 'steps' && d.steps[0]?.lockable).toBe(true);
  });

  it('changing cdrom/ro ejects first, then cdrom, ro, then file', () => {
    const d = decideMedia(100, { action: 'insert', lun: 0, image: '/img/disk.img', ro: false, cdrom: false, force: false }, record, [lun()]);
    expect(writes(d)).toEqual(['file=\n', 'cdrom=0', 'ro=0', 'file=/img/disk.img']);
  });

  it('--force uses forced_eject instead of the lockable eject', () => {
    expect(writes(decideMedia(100, { action: 'eject', lun: 0, force: true }, record, [lun()]))).toEqual(['forced_eject=1']);
    expect(writes(decideMedia(100, { action: 'insert', lun: 0, image: '/img/b.iso', ro: true, cdrom: true, force: true }, record, [lun()]))).toEqual(['forced_eject=1', 'file=/img/b.iso']);
  });

  it('an empty LUN gets its mode then the file; cdrom implies ro', () => {
    const d = decideMedia(100, { action: 'insert', lun: 0, image: '/img/b.iso', ro: false, cdrom: true, force: false }, record, [lun({ file: '', ro: false, cdrom: false })]);
    expect(writes(d)).toEqual(['cdrom=1', 'ro=1', 'file=/img/b.iso']);
  });

  it('does nothing for an empty LUN eject or the same medium', () => {
    expect(decideMedia(100, { action: 'eject', lun: 0, force: false }, record, [lun({ file: '' })]).kind).toBe('nothing');
    expect(decideMedia(100, { action: 'insert', lun: 0, image: '/img/a.iso', ro: true, cdrom: true, force: false }, record, [lun()]).kind).toBe('nothing');
  });

  it.each([
    ['no live stick', undefined, [], /no live stick/],
    ['a stick still building', { ...record, phase: 'building' }, [lun()], /still being built/],
    ['an unknown LUN', record, [lun({ index: 1 })], /has no lun0 \(it has lun1\)/],
    ['a non-removable LUN', record, [lun({ removable: false })], /not removable/],
    ['force without forced_eject', record, [lun({ forcedEject: false })], /no .*forced_eject/],
  ] as const)('refuses %s, with a fix', (_name, rec, live, msg) => {
    const d = decideMedia(100, { action: 'eject', lun: 0, force: true }, rec as GadgetRecord | undefined, live as readonly LiveLun[]);
    expect(d.kind).toBe('refused');
    if (d.kind === 'refused') {
      expect(d.error.message).toMatch(msg);
      expect(d.error.fix).toBeTruthy();
    }
  });
});
