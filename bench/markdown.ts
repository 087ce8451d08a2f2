/** Pure: the bench summary → the Markdown report (bench/results/<date>.md). */
import { SHARE_NAMES, stat, type PreStartShares, type Stat } from './stats.js';
import type { Summary } from './summary.js';

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memGiB: number;
  hostKernel: string;
  qemu: string;
  testKernel?: string;
  /** the harness flavour (bookworm: PVE 8-like, trixie: PVE 9-like) */
  flavour?: string;
  /** the transfer scheduler of the test kernel's dummy_hcd (hrtimer or jiffies) */
  scheduler?: string;
  node?: string;
  vmCpus: number;
  vmMemMb: number;
  loadBefore: number[];
  loadAfter: number[];
  durationS: number;
  /** node on this machine itself, outside the VM: ms per run */
  nativeFloor?: { nodeEmpty: number[]; bundleLoad: number[]; node: string };
  /** what this run left out or changed (--quick, --only, ...) */
  notes: string[];
}

const f = (n: number | undefined, d = 1) => (n !== undefined && Number.isFinite(n) ? n.toFixed(d) : 'n/a');
/** "median (min-max)" */
const s = (x: Stat | undefined, d = 1) => (x && x.n > 0 ? `${f(x.median, d)} (${f(x.min, d)}-${f(x.max, d)})` : 'n/a');
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const head = (cells: string[]) => [row(cells), row(cells.map(() => '---'))];

type Boot = NonNullable<NonNullable<Summary['guest']>['boot']>;

const SOURCE_WHAT: Record<string, string> = {
  stick: 'our gadget, usb-host on qemu-xhci (as qemu-server passes it through)',
  'qemu-usb-storage': "QEMU's own usb-storage on qemu-xhci, no gadget",
  sata: "ide-hd on QEMU's AHCI (as Proxmox's sataN), no gadget",
};

/** Section 2b: the same payload from the stick, QEMU's usb-storage and a SATA disk. */
export function bootSection(b: Boot): string[] {
  const out = [`## 2b. Boot sources (unRAID-sized payload, ${f(b.mib, 0)} MiB)`, ''];
  out.push(
    'The payload loader reads the payload through SeaBIOS\'s INT 13h (127 sectors a call, as syslinux loads bzimage, bzroot, ' +
      'bzmodules and bzfirmware) in the same nested guest from three sources serving the same image file, taking turns within each run. ' +
      'Last column: the stick\'s load time as a multiple of that source\'s.',
    '',
  );
  out.push(...head(['source', 'what the nested guest boots from', 'runs', 'load time', 'MB/s', 'firmware to loader', 'stick takes']));
  for (const x of b.sources) {
    const name = x.source === 'stick' && x.speed ? `stick (${x.speed})` : x.source;
    const load = x.loadS.n > 0 ? `${s(x.loadS)} s` : '**failed**';
    out.push(row([name, SOURCE_WHAT[x.source] ?? x.source, `${x.loadS.n}/${b.runs}`, load, s(x.mbps), x.bootS.n > 0 ? `${s(x.bootS)} s` : 'n/a', `${f(x.stickTimes, 2)} x`]));
  }
  out.push('');
  const times = (r: number, what: string) => (Number.isFinite(r) ? `${f(r, 2)} x the time of ${what}` : `n/a against ${what} (a side has no run)`);
  out.push(`Loading the payload, the stick takes ${times(b.stickVsUsbStorage, "QEMU's usb-storage")} and ${times(b.stickVsSata, 'the SATA disk')}.`);
  const stick = b.sources.find((x) => x.source === 'stick');
  if (b.runs === 1) {
    const took = stick && stick.loadS.n > 0 ? ` (the stick's load took ${f(stick.loadS.median, 0)} s here under nested TCG)` : '';
    out.push(`One boot per source${took}, so no spread: min = median = max.`);
  }
  out.push(
    '',
    'What it means: only the stick carries an unRAID licence GUID, made of the USB vendor id, product id and serial the notes set. ' +
      "QEMU's usb-storage needs no gadget, but its vendor and product ids are fixed (0x46f4:0x0001, hw/usb/dev-storage.c) and only its serial can be set (serial=), " +
      "so it cannot present a licensed stick's GUID: it is what a user could boot from without a licence GUID. " +
      "The SATA disk is unRAID 7.3+'s internal boot: the payload comes from a VM disk and a stick is only read for the licence. " +
      'All three run under the same nested TCG emulation: the ratios compare the three paths, the absolute times are not those of hardware.',
    '',
  );
  return out;
}

export function renderMarkdown(sum: Summary, m: Machine): string {
  const out: string[] = [];
  out.push(`# pve-usb-gadget benchmark, ${m.date}`, '');
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, host kernel ${m.hostKernel}, QEMU ${m.qemu}. ` +
      `Everything runs in the real-kernel test VM (${m.flavour ? `${m.flavour} flavour, ` : ''}Debian ${m.testKernel ?? '?'} kernel` +
      `${m.scheduler ? ` whose dummy_hcd has the ${m.scheduler} scheduler` : ''}, node ${m.node ?? '?'}, ${m.vmCpus} vCPUs, ${m.vmMemMb} MiB) ` +
      `under QEMU **TCG, without KVM**; the nested guest is TCG inside TCG. Absolute figures are for comparison within this run only.`,
    `Load average on the host: ${m.loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${m.loadAfter.map((x) => x.toFixed(2)).join(' ')} after; the run took ${f(m.durationS / 60, 1)} min.`,
    'Every figure: median (min-max) of the runs; MB/s = 10^6 bytes per second.',
    '',
  );
  for (const n of m.notes) out.push(`- ${n}`);
  if (m.notes.length > 0) out.push('');

  out.push('## Targets', '', ...head(['target', 'measured', 'met']));
  for (const t of sum.targets) out.push(row([t.name, t.measured, t.met === undefined ? 'n/a' : t.met ? 'yes' : '**no**']));
  out.push('');

  if (sum.disk) {
    out.push('## 1. Host-side throughput (O_DIRECT, through the host\'s usb-storage, isolation off)', '');
    out.push(...head(['speed', 'size', 'link', 'hook read', 'baseline read', 'ratio', 'hook write', 'baseline write', 'ratio']));
    for (const x of sum.disk.speeds) {
      out.push(row([x.speed, `${x.mib} MiB`, `${x.hook.linkMbps ?? '?'} Mbit/s`, s(x.hook.read), s(x.baseline.read), f(x.readRatio, 2), s(x.hook.write), s(x.baseline.write), f(x.writeRatio, 2)]));
    }
    out.push('', `Backing file read directly (page cache, the image is on the VM's tmpfs root): ${s(sum.disk.backing, 0)} MB/s.`, '');
  }

  if (sum.guest) {
    out.push('## 2. Guest-visible throughput (nested guest, passthrough as qemu-server does it)', '');
    out.push(...head(['speed', 'BIOS load (INT 13h)', 'load time', 'firmware to loader', 'Linux dd O_DIRECT', 'Linux dd buffered']));
    for (const x of sum.guest.speeds) {
      out.push(row([x.speed, `${s(x.bios.mbps)} MB/s`, `${s(x.bios.loadS)} s for ${f(x.bios.mib, 0)} MiB`, `${s(x.bios.bootS)} s`, x.linux.direct.n ? `${s(x.linux.direct)} MB/s` : 'not run', x.linux.buffered.n ? `${s(x.linux.buffered)} MB/s` : 'not run']));
    }
    for (const fail of sum.guest.failures) out.push('', `Failure: ${fail}`);
    out.push('');
    if (sum.guest.boot) out.push(...bootSection(sum.guest.boot));
  }

  if (sum.latency) {
    out.push('## 3. Hook latency (wall time, spawn to exit, as Proxmox waits for it)', '');
    out.push(...head(['', 'hook pre-start', 'baseline up', 'hook w/o enum. wait', 'baseline w/o enum. wait', 'enum. wait (hook / baseline)', 'host lock held', 'hook post-stop', 'baseline down']));
    for (const x of sum.latency.modes) {
      out.push(row([x.mode, s(x.pre, 0), s(x.baselineUp, 0), s(x.preWithoutEnumeration, 0), s(x.baselineUpWithoutEnumeration, 0), `${f(x.enumeration.median, 0)} / ${f(x.baselineEnumeration.median, 0)}`, s(x.lockHeld, 0), s(x.post, 0), s(x.baselineDown, 0)]));
    }
    out.push('', "Host lock held: from the pre-start's lock-acquired to its lock-released mark (PVE_USB_GADGET_TIMING=1), the time other VMs' starts wait.");
    out.push('', `Floor in the test VM: \`node -e 0\` ${s(sum.latency.floor.nodeEmpty, 0)} ms; node loading the hook bundle only (usage error) ${s(sum.latency.floor.bundleLoad, 0)} ms.`);
    if (m.nativeFloor) {
      const n = m.nativeFloor;
      out.push(`The same on this machine without emulation (node ${n.node}): ${s(stat(n.nodeEmpty), 0)} ms and ${s(stat(n.bundleLoad), 0)} ms, i.e. TCG makes start-up about ${f(sum.latency.floor.bundleLoad.median / stat(n.bundleLoad).median, 0)} x slower.`);
    }
    out.push('');
    out.push('Where a pre-start goes (median ms per step, from PVE_USB_GADGET_TIMING=1):', '');
    out.push(...head(['step', ...sum.latency.modes.map((x) => x.mode)]));
    for (const k of Object.keys(SHARE_NAMES) as (keyof PreStartShares)[]) {
      out.push(row([SHARE_NAMES[k], ...sum.latency.modes.map((x) => (x.shares ? `${f(x.shares[k], 0)} (${f((x.shares[k] / x.pre.median) * 100, 0)} %)` : 'n/a'))]));
    }
    out.push('');
    if (sum.latency.variants.length > 0) {
      out.push('Other builds of the hook, warm, interleaved with the shipped one (ms):', '', ...head(['build', 'pre-start', 'start-up (to main)', 'host lock held', 'post-stop']));
      for (const v of sum.latency.variants) out.push(row([v.name, s(v.pre, 0), s(v.startup, 0), s(v.lockHeld, 0), s(v.post, 0)]));
      out.push('');
    }
  }

  if (sum.scale) {
    out.push('## 4. Scale: N VMs\' pre-starts at once (warm, isolation on)', '');
    out.push(...head(['N', 'all pre-starts', 'x one', 'each pre-start', 'host lock held (each)', 'all post-stops', 'all enumerated', 'quirk list full (fallback)']));
    for (const c of sum.scale.counts) {
      out.push(row([c.n, `${s(c.preTotal, 0)} ms`, f(c.vsSingle, 2), `${s(c.perHookPre, 0)} ms`, `${s(c.perHookLockHeld, 0)} ms`, `${s(c.postTotal, 0)} ms`, c.allEnumerated ? 'yes' : '**no**', c.quirkFallbacks]));
    }
    for (const fail of sum.scale.counts.flatMap((c) => c.failed)) out.push('', `Failed pre-start: ${fail}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
