// npm run bench, guest section, the boot sources: the nested QEMU's boot devices, the loader's times from
// the serial lines, the summary's ratios and the report's table.
import { describe, expect, it } from 'vitest';
import { summarize, summarizeBoot, type GuestRaw } from '../../bench/summary.js';
import { bootSection, renderMarkdown } from '../../bench/markdown.js';
import { BOOT_SOURCES, bootDeviceArgs, bootTimeoutMs } from '../e2e/guest/bench-boot-devices.js';
import { LOADER_DONE, LOADER_FAIL, LOADER_START } from '../e2e/guest/bench-loader.js';
import { loaderTimes } from '../e2e/guest/bench-nested.js';
import type { BootSample } from '../e2e/guest/bench-sources.js';

describe('bootDeviceArgs', () => {
  it('stick: exactly the qemu-xhci + usb-host pair the guest section always passed (as qemu-server does)', () => {
    expect(bootDeviceArgs('stick', '/ignored.img')).toEqual([
      '-device', 'qemu-xhci,p2=15,p3=15,id=xhci',
      '-device', 'usb-host,bus=xhci.0,port=1,vendorid=0x1d6b,productid=0x0105,id=usb0,bootindex=100',
    ]);
  });
  it("qemu-usb-storage: QEMU's own stick on the same controller and port, serving the image read-only", () => {
    const a = bootDeviceArgs('qemu-usb-storage', '/img/boot.img');
    expect(a).toEqual([
      '-device', 'qemu-xhci,p2=15,p3=15,id=xhci',
      '-drive', 'if=none,id=stick,format=raw,readonly=on,file=/img/boot.img',
      '-device', 'usb-storage,bus=xhci.0,port=1,drive=stick,removable=on,id=usb0,bootindex=100',
    ]);
    expect(a.join(' ')).not.toContain('usb-host');
  });
  it('sata: an ide-hd on AHCI, writable (ide-hd refuses a read-only drive), no USB at all', () => {
    const a = bootDeviceArgs('sata', '/img/boot.img');
    expect(a).toEqual([
      '-device', 'ahci,id=ahci0',
      '-drive', 'if=none,id=drive-sata0,format=raw,file=/img/boot.img',
      '-device', 'ide-hd,bus=ahci0.0,drive=drive-sata0,id=sata0,bootindex=100',
    ]);
    expect(a.join(' ')).not.toMatch(/xhci|usb|readonly/);
  });
  it('every source boots from bootindex 100 and the drive its device names exists', () => {
    for (const s of BOOT_SOURCES) {
      const a = bootDeviceArgs(s, '/x.img');
      expect(a.filter((x) => x.includes('bootindex=100'))).toHaveLength(1);
      const drive = /drive=([\w-]+)/.exec(a.join(' '))?.[1];
      if (drive) expect(a).toContainEqual(expect.stringContaining(`id=${drive},`));
    }
  });
  it('gives a 400 MiB boot 11 minutes (the stick read ~2.7 MB/s under nested TCG)', () => {
    expect(bootTimeoutMs(400)).toBe(660_000);
  });
});

describe('loaderTimes', () => {
  const w = (lines: [number, string][]) => ({ lines: lines.map(([at, text]) => ({ at, text })), serial: lines.map(([, t]) => t).join('\n'), qemuStderr: '' });
  it('load = START..DONE, boot = QEMU start..START, MB/s over the load', () => {
    const t = loaderTimes(w([[1200, 'SeaBIOS'], [4500, LOADER_START], [154_500, LOADER_DONE]]), 419_469_824);
    expect(t).toEqual({ loadMs: 150_000, bootMs: 4500, mbps: 419_469_824 / 150 / 1e6 });
  });
  it('says why there are no times: a BIOS read error, no DONE, no START', () => {
    expect(loaderTimes(w([[10, LOADER_START], [20, LOADER_FAIL]]), 1)).toMatchObject({ failure: expect.stringMatching(/^INT 13h read failed; serial /) });
    expect(loaderTimes(w([[10, LOADER_START]]), 1)).toMatchObject({ failure: expect.stringMatching(/^no DONE; /) });
    expect(loaderTimes(w([[10, 'Booting from Hard Disk...']]), 1)).toMatchObject({ failure: expect.stringContaining('Booting from Hard Disk') });
  });
});

const BYTES = 6451 * 65_024;
const sample = (source: BootSample['source'], run: number, loadS: number, bootS = 5): BootSample => ({
  source,
  ...(source === 'stick' ? { speed: 'super' as const } : {}),
  run,
  bytes: BYTES,
  loadMs: loadS * 1000,
  bootMs: bootS * 1000,
  mbps: BYTES / loadS / 1e6,
});
const guest = (boot: BootSample[], runs: number, failures: string[] = []): GuestRaw => ({
  options: { speeds: ['super'], loadMib: 32, loadRuns: 1, linux: false, linuxMib: 16, linuxRuns: 1, linuxTimeoutMs: 1, bootMib: 400, bootRuns: runs, bootSources: [...BOOT_SOURCES] },
  loads: [],
  linux: [],
  linuxBoots: [],
  boot,
  failures,
});
const machine = { date: '2026-01-01', cpu: 'cpu', cores: 2, memGiB: 4, hostKernel: 'k', qemu: 'q', vmCpus: 2, vmMemMb: 3072, loadBefore: [0, 0, 0], loadAfter: [0, 0, 0], durationS: 60, notes: [] };

describe('summarizeBoot', () => {
  const three = guest([sample('stick', 1, 150), sample('qemu-usb-storage', 1, 100), sample('sata', 1, 40), sample('stick', 2, 170), sample('qemu-usb-storage', 2, 90), sample('sata', 2, 50), sample('stick', 3, 160), sample('qemu-usb-storage', 3, 100), sample('sata', 3, 40)], 3);
  it("the stick's median load time over each other source's", () => {
    const b = summarizeBoot(three)!;
    expect(b.sources.map((x) => [x.source, x.loadS.median, x.loadS.min, x.loadS.max])).toEqual([
      ['stick', 160, 150, 170],
      ['qemu-usb-storage', 100, 90, 100],
      ['sata', 40, 40, 50],
    ]);
    expect(b.stickVsUsbStorage).toBeCloseTo(1.6);
    expect(b.stickVsSata).toBeCloseTo(4);
    expect(b.sources.map((x) => x.stickTimes)).toEqual([1, 1.6, 4]);
    expect(b.sources[0]!.speed).toBe('super');
    expect(b.sources[2]!.speed).toBeUndefined();
    expect(b.mib).toBeCloseTo(400.04, 2);
    expect(b.sources[1]!.mbps.median).toBeCloseTo(BYTES / 100 / 1e6);
  });
  it('a source without a run has no ratio, not a wrong one', () => {
    const b = summarizeBoot(guest([sample('stick', 1, 150), sample('qemu-usb-storage', 1, 100)], 1, ['boot sata run 1: no DONE; serial ""']))!;
    expect(b.sources[2]!.loadS.n).toBe(0);
    expect(b.stickVsSata).toBeNaN();
    expect(b.stickVsUsbStorage).toBeCloseTo(1.5);
  });
  it('nothing when the run did not compare sources (--boot-mib=0, or an older raw file)', () => {
    expect(summarizeBoot({ ...three, options: { ...three.options, bootMib: 0 } })).toBeUndefined();
    const old = { ...three, options: { ...three.options, bootMib: undefined, bootSources: undefined }, boot: undefined } as unknown as GuestRaw;
    expect(summarizeBoot(old)).toBeUndefined();
    expect(summarize({ guest: old }).guest?.boot).toBeUndefined();
  });
});

describe('the boot sources in the report', () => {
  it('one row per source with its time, MB/s, firmware time and the stick as a multiple of it', () => {
    const md = renderMarkdown(summarize({ guest: guest([sample('stick', 1, 150, 4.4), sample('qemu-usb-storage', 1, 100, 3), sample('sata', 1, 30, 2)], 1) }), machine);
    expect(md).toContain('## 2b. Boot sources (unRAID-sized payload, 400 MiB)');
    expect(md).toContain('| source | what the nested guest boots from | runs | load time | MB/s | firmware to loader | stick takes |');
    expect(md).toContain(`| stick (super) | our gadget, usb-host on qemu-xhci (as qemu-server passes it through) | 1/1 | 150.0 (150.0-150.0) s | ${(BYTES / 150 / 1e6).toFixed(1)} (${(BYTES / 150 / 1e6).toFixed(1)}-${(BYTES / 150 / 1e6).toFixed(1)}) | 4.4 (4.4-4.4) s | 1.00 x |`);
    expect(md).toContain("| qemu-usb-storage | QEMU's own usb-storage on qemu-xhci, no gadget | 1/1 | 100.0 (100.0-100.0) s | 4.2 (4.2-4.2) | 3.0 (3.0-3.0) s | 1.50 x |");
    expect(md).toContain('| sata | ');
    expect(md).toContain('| 30.0 (30.0-30.0) s | 14.0 (14.0-14.0) | 2.0 (2.0-2.0) s | 5.00 x |');
    expect(md).toContain("Loading the payload, the stick takes 1.50 x the time of QEMU's usb-storage and 5.00 x the time of the SATA disk.");
    expect(md).toContain("One boot per source (the stick's load took 150 s here under nested TCG), so no spread");
    expect(md).toContain('0x46f4:0x0001');
    expect(md.indexOf('## 2. Guest-visible')).toBeLessThan(md.indexOf('## 2b. Boot sources'));
  });
  it('a failed source shows as failed, its ratio n/a, and its failure is listed', () => {
    const raw = guest([sample('stick', 1, 150), sample('qemu-usb-storage', 1, 100)], 1, ['boot sata run 1: no DONE; serial ""']);
    const lines = bootSection(summarizeBoot(raw)!);
    expect(lines).toContainEqual(expect.stringMatching(/^\| sata \| .* \| 0\/1 \| \*\*failed\*\* \| n\/a \| n\/a \| n\/a x \|$/));
    expect(lines).toContainEqual(expect.stringContaining('n/a against the SATA disk (a side has no run)'));
    expect(renderMarkdown(summarize({ guest: raw }), machine)).toContain('Failure: boot sata run 1: no DONE');
  });
  it('more than one run: no one-boot sentence', () => {
    const lines = bootSection(summarizeBoot(guest([sample('stick', 1, 150), sample('stick', 2, 160)], 2))!);
    expect(lines.join('\n')).not.toContain('One boot per source');
    expect(lines).toContainEqual(expect.stringMatching(/^\| stick \(super\) \| .* \| 2\/2 \| 155\.0 \(150\.0-160\.0\) s \|/));
  });
});
