// The notes side of media insert and the live LUN status: pure parts, with a fake API answering config reads.
import { describe, expect, it } from 'vitest';
import { parseMediaArgs, prepareNotes, type NotesApi } from '../../src/cli/media.js';
import { setLunKeys } from '../../src/cli/notes-edit.js';
import { MediaError, NotesError } from '../../src/errors.js';
import { lunStatuses } from '../../src/media/lun-status.js';
import type { GadgetRecord } from '../../src/state/record.js';

const NOTES = 'my VM\n\n```\n[usb-gadget]\nimage = /images/disk.img\n\n[usb-gadget.lun1]\nimage = /images/a.iso ; tools\ncdrom = true\n```\nafter\n';

describe('setLunKeys', () => {
  it('replaces the image of [usb-gadget.lun1] and nothing else', () => {
    const out = setLunKeys(NOTES, 1, new Map([['image', '/images/b.iso']]));
    expect(out).toBe(NOTES.replace('image = /images/a.iso ; tools', 'image = /images/b.iso'));
  });
  it('adds a missing key at the end of the LUN section and edits the main section for lun 0', () => {
    expect(setLunKeys(NOTES, 1, new Map([['readonly', 'true']]))).toContain('cdrom = true\nreadonly = true\n```');
    expect(setLunKeys(NOTES, 0, new Map([['image', '/images/other.img']]))).toContain('[usb-gadget]\nimage = /images/other.img\n');
  });
  it('is undefined for a LUN the notes have no section for', () => {
    expect(setLunKeys(NOTES, 2, new Map([['image', '/x']]))).toBeUndefined();
    expect(setLunKeys('no gadget', 0, new Map([['image', '/x']]))).toBeUndefined();
  });
});

const api = (description: string): NotesApi & { puts: unknown[] } => ({
  puts: [],
  getVmConfig: async () => ({ config: { description }, digest: 'd1' }),
  updateVmConfig: async function (this: { puts: unknown[] }, ...a: unknown[]) {
    this.puts.push(a);
  },
});

describe('prepareNotes', () => {
  it('gives the edited notes and the digest to write them with', async () => {
    const p = await prepareNotes(api(NOTES), 'pve', 100, { action: 'insert', lun: 1, image: '/images/b.iso', force: false }, 'super');
    expect(p.digest).toBe('d1');
    expect(p.edited).toContain('image = /images/b.iso');
  });
  it('refuses before any change when the notes have no section for the LUN, or would become invalid', async () => {
    await expect(prepareNotes(api(NOTES), 'pve', 100, { action: 'insert', lun: 3, image: '/images/b.iso', force: false }, 'super')).rejects.toThrow(MediaError);
    await expect(prepareNotes(api(NOTES), 'pve', 100, { action: 'insert', lun: 1, image: '/images/../etc/b.iso', force: false }, 'super')).rejects.toThrow(NotesError);
  });
});

describe('lunStatuses', () => {
  const record = { luns: [{ index: 0, image: '/images/a.iso', readonly: true, cdrom: true }] } as unknown as GadgetRecord;
  const live = [{ index: 0, file: '', ro: true, cdrom: true, removable: true, forcedEject: true }];
  it('says when the guest ejected the medium, and that the notes still name it', () => {
    const [s] = lunStatuses(record, live, [{ index: 0, image: '/images/a.iso', readonly: true, cdrom: true, removable: true, inquiry: '' }], (p) => p);
    expect(s?.medium).toBe(false);
    expect(s?.differs.join('; ')).toMatch(/no medium, the record says \/images\/a.iso.*the notes name \/images\/a.iso/);
  });
  it('reports no difference when configfs, record and notes agree', () => {
    const [s] = lunStatuses(record, [{ ...live[0]!, file: '/images/a.iso' }], [{ index: 0, image: '/images/a.iso', readonly: true, cdrom: true, removable: true, inquiry: '' }], (p) => p);
    expect(s?.differs).toEqual([]);
  });
});

describe('parseMediaArgs', () => {
  it('reads insert, eject and show with their options', () => {
    expect(parseMediaArgs('insert', '/images/b.iso', { lun: '1', cdrom: false })).toEqual({ action: 'insert', lun: 1, image: '/images/b.iso', cdrom: false, readonly: undefined, force: false, once: false });
    expect(parseMediaArgs('eject', undefined, { force: true })).toEqual({ action: 'eject', lun: 0, force: true, once: true });
    expect(parseMediaArgs('show', undefined, { json: true })).toEqual({ action: 'show', lun: undefined, json: true });
  });
  it.each([
    ['eject', undefined, { once: true }, /eject takes only/],
    ['eject', '/x', {}, /eject takes only/],
    ['insert', undefined, {}, /insert <image>/],
    ['swap', '/x', {}, /give show, eject or insert/],
    ['eject', undefined, { lun: '16' }, /not a LUN: '16'/],
    ['show', undefined, { force: true }, /show takes only/],
  ] as const)('refuses %s %s %o as a usage error', (action, image, o, msg) => {
    expect(() => parseMediaArgs(action, image, o)).toThrow(msg);
  });
});
