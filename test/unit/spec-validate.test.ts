import { describe, expect, it } from 'vitest';
import { NotesError } from '../../src/errors.js';
import { deriveSerial } from '../../src/spec/serial.js';
import type { GadgetSpec, VmContext } from '../../src/spec/types.js';
import { gadgetSpecFromNotes, validateNotes } from '../../src/spec/validate.js';

const UUID = '3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a';
const ctx: VmContext = { vmid: 100, smbiosUuid: UUID, defaultSpeed: 'high' };

function spec(notes: string, c: VmContext = ctx): GadgetSpec {
  const r = validateNotes(notes, c);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.spec;
}

function problems(notes: string) {
  const r = validateNotes(notes, ctx);
  if (r.kind !== 'invalid') throw new Error(`expected invalid, got ${JSON.stringify(r)}`);
  return r.problems;
}

/** The one problem for `key`; fails when there is none or more than one. */
function problemFor(notes: string, key: string): string {
  const found = problems(notes).filter((p) => p.key === key);
  expect(found, JSON.stringify(problems(notes))).toHaveLength(1);
  return found[0]?.message ?? '';
}

const base = '[usb-gadget]\nimage = /var/lib/vz/usb-gadget/a.img\n';

describe('validateNotes: documented example', () => {
  it('resolves the README example in a fence after free text', () => {
    const notes = [
      'My unRAID server.',
      '```',
      '[usb-gadget]',
      'image = /var/lib/vz/usb/unraid.img',
      'vendor_id = 0x0781',
      'product_id = 5571',
      'serial = 4C530001230101111111',
      'manufacturer = SanDisk',
      'product = Cruzer Fit',
      'inquiry = SanDisk Cruzer Fit      1.00',
      'speed = super            ; super | high | full',
      'removable = true',
      'readonly = false',
      '',
      '[usb-gadget.lun1]',
      'image = /var/lib/vz/template/iso/tools.iso',
      'cdrom = true',
      '```',
      '[not part of it]',
    ].join('\n');
    const r = validateNotes(notes, ctx);
    expect(r).toEqual({
      kind: 'ok',
      warnings: [],
      spec: {
        vendorId: 0x0781,
        productId: 0x5571,
        bcdDevice: 0x0100,
        serial: '4C530001230101111111',
        serialSource: 'notes',
        serialBasis: 'notes',
        vendorIdSource: 'notes',
        productIdSource: 'notes',
        manufacturer: 'SanDisk',
        product: 'Cruzer Fit',
        speed: 'super',
        luns: [
          {
            index: 0,
            image: '/var/lib/vz/usb/unraid.img',
            readonly: false,
            cdrom: false,
            removable: true,
            inquiry: 'SanDisk Cruzer Fit      1.00',
          },
          {
            index: 1,
            image: '/var/lib/vz/template/iso/tools.iso',
            readonly: true,
            cdrom: true,
            removable: true,
            inquiry: 'SanDisk Cruzer Fit      1.00',
          },
        ],
      },
    });
  });

  it('returns none without a [usb-gadget] section', () => {
    expect(validateNotes('plain notes\nimage = /x', ctx)).toEqual({ kind: 'none' });
  });
});

describe('validateNotes: defaults', () => {
  it('fills every default from a minimal section', () => {
    const s = spec(base);
    expect(s.vendorId).toBe(0x1d6b);
    expect(s.productId).toBe(0x8000 + 100);
    expect(s.bcdDevice).toBe(0x0100);
    expect(s.manufacturer).toBe('pve-usb-gadget');
    expect(s.product).toBe('Virtual USB Stick');
    expect(s.speed).toBe('high');
    expect(s.serial).toBe(deriveSerial(ctx).serial);
    expect(s.serialSource).toBe('derived');
    expect(s.serialBasis).toBe('smbios-uuid');
    expect(s.luns).toEqual([
      {
        index: 0,
        image: '/var/lib/vz/usb-gadget/a.img',
        readonly: false,
        cdrom: false,
        removable: true,
        inquiry: 'pve-usb-Virtual USB Stic1.00',
      },
    ]);
  });

  it('derives product ids that differ per VM and stay within 0x8000..0xffff', () => {
    expect(spec(base, { ...ctx, vmid: 101 }).productId).toBe(0x8065);
    expect(spec(base, { ...ctx, vmid: 0x8000 + 5 }).productId).toBe(0x8005);
    expect(spec(base, { ...ctx, vmid: 999_999_999 }).productId).toBeLessThanOrEqual(0xffff);
  });

  it('builds the inquiry from manufacturer and product, cut and padded to 8 + 16 + "1.00"', () => {
    const s = spec(`${base}manufacturer = Kingston Technology\nproduct = DT\n`);
    expect(s.luns[0]?.inquiry).toBe('KingstonDT              1.00');
    const u = spec(`${base}manufacturer = Sänger\nproduct = Stick\n`);
    expect(u.luns[0]?.inquiry).toBe('S?nger  Stick           1.00');
  });

  it('pads an explicit short inquiry to 28 characters and passes it on to LUNs without one', () => {
    const s = spec(`${base}inquiry = ACME\n[usb-gadget.lun1]\nimage = /b\n[usb-gadget.lun2]\nimage = /c\ninquiry = X`);
    expect(s.luns.map((l) => l.inquiry)).toEqual(['ACME'.padEnd(28), 'ACME'.padEnd(28), 'X'.padEnd(28)]);
  });

  it('warns and falls back to the vmid without an smbios1 uuid', () => {
    const r = validateNotes(base, { vmid: 100, defaultSpeed: 'super' });
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.spec.serialBasis).toBe('vmid');
    expect(r.warnings.join('\n')).toContain(`serial = ${r.spec.serial}`);
  });
});

describe('validateNotes: keys', () => {
  it('treats key and section names case-insensitively, values keep their case', () => {
    const s = spec('[USB-Gadget]\nIMAGE = /A/B.img\nVendor_ID = 0X0AbC\nSpeed = FULL\nCDROM = Yes\n[Usb-Gadget.LUN1]\nImage = /c');
    expect(s.luns[0]?.image).toBe('/A/B.img');
    expect(s.vendorId).toBe(0x0abc);
    expect(s.speed).toBe('full');
    expect(s.luns[0]?.cdrom).toBe(true);
    expect(s.luns[1]?.image).toBe('/c');
  });

  it('accepts every boolean spelling', () => {
    for (const [word, value] of [
      ['true', true], ['YES', true], ['1', true], ['False', false], ['no', false], ['0', false],
    ] as const) {
      expect(spec(`${base}removable = ${word}`).luns[0]?.removable).toBe(value);
    }
    expect(problemFor(`${base}removable = on`, 'usb-gadget.removable')).toContain('must be true or false');
  });

  it('names an unknown key and the closest known key', () => {
    const m = problemFor(`${base}vendorid = 0x1234`, 'usb-gadget.vendorid');
    expect(m).toContain('unknown key "vendorid"');
    expect(m).toContain('closest known key: vendor_id');
    expect(m).toContain('line 3');
  });

  it('sends device-wide keys in a LUN section back to [usb-gadget]', () => {
    const m = problemFor(`${base}[usb-gadget.lun1]\nimage = /b\nserial = X1`, 'usb-gadget.lun1.serial');
    expect(m).toContain('device-wide key');
    expect(m).toContain('image, cdrom, readonly, removable, inquiry');
  });

  it('reports duplicate keys, also when they differ only in case', () => {
    expect(problemFor(`${base}Image = /b`, 'usb-gadget.image')).toContain('set twice (first on line 2)');
  });

  it('requires image for LUN 0 and every LUN section', () => {
    const p = problems('[usb-gadget]\nspeed = high\n[usb-gadget.lun1]\ncdrom = true');
    expect(p.map((x) => x.key)).toEqual(['usb-gadget.image', 'usb-gadget.lun1.image']);
    expect(p[0]?.message).toContain('is required');
  });

  it('checks image paths without touching the filesystem', () => {
    const cases: [string, string][] = [
      ['images/a.img', 'absolute path'],
      ['/var/../etc/x', '".." path segments'],
      ['/var/./x', '"." or ".." path segments'],
      ['/var//x', 'empty path segments'],
      ['/var/x/', 'empty path segments'],
      ['/var/x\u0001y', 'control characters'],
      ['/var/\u202Egpj.img', 'control characters'],
      [`/${'a'.repeat(4096)}`, 'at most 4096'],
    ];
    for (const [value, expected] of cases) {
      expect(problemFor(`[usb-gadget]\nimage = ${value}`, 'usb-gadget.image')).toContain(expected);
    }
    expect(problemFor('[usb-gadget]\nimage =', 'usb-gadget.image')).toContain('is empty');
    expect(spec('[usb-gadget]\nimage = /dev/zvol/rpool/data/vm-100-disk-9').luns[0]?.image).toBe(
      '/dev/zvol/rpool/data/vm-100-disk-9',
    );
  });

  it('checks vendor and product ids as 16-bit hex, refusing 0', () => {
    expect(spec(`${base}vendor_id = ffff\nproduct_id = 0x1`).vendorId).toBe(0xffff);
    for (const bad of ['0x10000', '12345', 'xyz', '0x', '-1', '0x 12']) {
      expect(problemFor(`${base}vendor_id = ${bad}`, 'usb-gadget.vendor_id')).toContain('16-bit hex');
    }
    expect(problemFor(`${base}product_id = 0x0000`, 'usb-gadget.product_id')).toContain('0x0000 is not allowed');
  });

  it('checks serial characters and length', () => {
    expect(spec(`${base}serial = AB-12_x.9`).serial).toBe('AB-12_x.9');
    for (const bad of ['has space', 'ünï', 'a/b']) {
      expect(problemFor(`${base}serial = ${bad}`, 'usb-gadget.serial')).toContain('may only contain');
    }
    expect(problemFor(`${base}serial = ${'A'.repeat(127)}`, 'usb-gadget.serial')).toContain('at most 126');
    expect(spec(`${base}serial = ${'A'.repeat(126)}`).serial).toHaveLength(126);
  });

  it('checks USB strings: no control characters, at most 126 UTF-8 bytes', () => {
    expect(spec(`${base}product = Ünïcode Stick ✓`).product).toBe('Ünïcode Stick ✓');
    expect(problemFor(`${base}product = a\u0007b`, 'usb-gadget.product')).toContain('control characters');
    expect(problemFor(`${base}manufacturer = ${'é'.repeat(64)}`, 'usb-gadget.manufacturer')).toContain('126 bytes');
    expect(spec(`${base}manufacturer = ${'e'.repeat(126)}`).manufacturer).toHaveLength(126);
  });

  it('checks inquiry: printable ASCII, at most 28', () => {
    expect(problemFor(`${base}inquiry = ${'x'.repeat(29)}`, 'usb-gadget.inquiry')).toContain('at most 28');
    expect(problemFor(`${base}inquiry = Stick ✓`, 'usb-gadget.inquiry')).toContain('printable ASCII');
    expect(spec(`${base}inquiry = ${'x'.repeat(28)}`).luns[0]?.inquiry).toBe('x'.repeat(28));
  });

  it('checks speed', () => {
    const m = problemFor(`${base}speed = ultra`, 'usb-gadget.speed');
    expect(m).toContain('super, high, full');
    expect(m).toContain('got "ultra"');
  });

  it('makes a cdrom read-only and refuses an explicit readonly = false with it', () => {
    expect(spec(`${base}cdrom = true`).luns[0]?.readonly).toBe(true);
    expect(problemFor(`${base}cdrom = true\nreadonly = false`, 'usb-gadget.readonly')).toContain('contradicts');
  });

  it('shows hostile values escaped', () => {
    expect(problemFor(`${base}speed = a\u0000b`, 'usb-gadget.speed')).toContain('"a\\u{0}b"');
  });
});

describe('validateNotes: sections', () => {
  it('orders LUNs by index and warns about gaps', () => {
    const r = validateNotes(`${base}[usb-gadget.lun3]\nimage = /c\n[usb-gadget.lun1]\nimage = /b`, ctx);
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.spec.luns.map((l) => l.index)).toEqual([0, 1, 3]);
    expect(r.warnings).toEqual([expect.stringContaining('LUN 2 not configured')]);
  });

  it('accepts lun15 and refuses lun0, lun16, lun01, other names and duplicates', () => {
    expect(spec(`${base}[usb-gadget.lun15]\nimage = /b`).luns[1]?.index).toBe(15);
    expect(problemFor(`${base}[usb-gadget.lun0]\nimage = /b`, 'usb-gadget.lun0')).toContain('[usb-gadget] itself');
    expect(problemFor(`${base}[usb-gadget.lun16]\nimage = /b`, 'usb-gadget.lun16')).toContain('at most 16 LUNs');
    expect(problemFor(`${base}[usb-gadget.lun01]\nimage = /b`, 'usb-gadget.lun01')).toContain('no leading zeros');
    expect(problemFor(`${base}[usb-gadget.disk]\nimage = /b`, 'usb-gadget.disk')).toContain('lun1] to');
    expect(problemFor(`${base}[other]\nx = 1`, 'usb-gadget')).toContain('section [other] is not allowed');
    expect(problemFor(`${base}[usb-gadget.lun1]\nimage = /b\n[usb-gadget.lun1]\nimage = /c`, 'usb-gadget.lun1'))
      .toContain('appears twice');
    expect(problemFor(`${base}[usb-gadget]\nspeed = full`, 'usb-gadget')).toContain('appears twice');
  });

  it('collects every problem, in line order', () => {
    const p = problems('[usb-gadget]\nimage = rel\nvendor_id = 0x10000\nspeed = ultra\n[usb-gadget.lun1]\ncdrom = maybe');
    expect(p.map((x) => x.key)).toEqual([
      'usb-gadget.image',
      'usb-gadget.vendor_id',
      'usb-gadget.speed',
      'usb-gadget.lun1.image',
      'usb-gadget.lun1.cdrom',
    ]);
  });

  it('does not let __proto__ or constructor pollute anything', () => {
    const p = problems(`${base}__proto__ = x\nconstructor = y\n[__proto__]\npolluted = 1\n[usb-gadget.__proto__]\nimage = /z`);
    expect(p.map((x) => x.key)).toEqual([
      'usb-gadget.__proto__',
      'usb-gadget.constructor',
      'usb-gadget',
      'usb-gadget.__proto__',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('image');
  });

  it('refuses notes over 8192 characters, counting characters, not UTF-16 units', () => {
    expect(spec(base + '#'.repeat(8192 - base.length)).luns).toHaveLength(1);
    const emoji = `${base}#${'😀'.repeat(8191 - base.length)}`;
    expect(emoji.length).toBeGreaterThan(8192);
    expect(spec(emoji).luns).toHaveLength(1);
    const p = problems(base + '#'.repeat(8193 - base.length));
    expect(p).toEqual([{ key: 'usb-gadget', message: expect.stringContaining('8193 characters') }]);
    const huge = problems(`${base}speed = ultra\n${'x'.repeat(1_000_000)}`);
    expect(huge).toHaveLength(1);
  });

  it('caps the number of problems reported', () => {
    const p = problems(`${base}${'bad line\n'.repeat(500)}`);
    expect(p).toHaveLength(51);
    expect(p[50]?.message).toContain('450 more problems');
  });
});

describe('gadgetSpecFromNotes', () => {
  it('returns undefined, the spec, or throws NotesError with every problem', () => {
    expect(gadgetSpecFromNotes('nothing', ctx)).toBeUndefined();
    expect(gadgetSpecFromNotes(base, ctx)?.spec.luns[0]?.image).toBe('/var/lib/vz/usb-gadget/a.img');
    let caught: unknown;
    try {
      gadgetSpecFromNotes('[usb-gadget]\nspeed = ultra', ctx);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NotesError);
    expect((caught as NotesError).problems.map((p) => p.key)).toEqual(['usb-gadget.image', 'usb-gadget.speed']);
  });
});
