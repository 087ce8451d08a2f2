// A host for the snapshot tests: a temp root with an image, this node's VM config file and the state
// directory; the real snapshot code and the real qm argument builders (cli/qm.ts qmTool), with `exec`
// faked by a small qm that records every argv and does to the config file what qemu-server does
// (a [name] section, parent:, removal), so a snapshot can be rolled back and deleted in one test.
import { closeSync, openSync, readFileSync, readdirSync, writeSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Exec, ExecResult } from '../../src/ports/exec.js';
import { qmTool } from '../../src/cli/qm.js';
import { encodeText } from '../../src/proxmox/local-config.js';
import { parseSettings } from '../../src/settings/parse.js';
import type { SnapshotDeps } from '../../src/snapshot/deps.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';
import { fakeCloner } from './fake-cloner.js';

export const NOTES = '[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = 4C530001230101111111\n';

export interface FakeQm {
  /** every qm call, as `qm <argv joined by spaces>` */
  calls: string[];
  running: boolean;
  /** QMP status while running */
  qmp: 'running' | 'paused';
  /** make `qm <cmd>` fail with this stderr */
  fail: Partial<Record<'snapshot' | 'rollback' | 'delsnapshot' | 'suspend' | 'resume', string>>;
  /** runs inside `qm <cmd>` before it answers (e.g. look at the image at that moment) */
  during: Partial<Record<'snapshot' | 'rollback' | 'status', () => void>>;
}

/** The storage snapshot port (VolumeSnapshots), faked: what PVE::Storage would answer and do. */
export interface FakeVolumes {
  /** every call, as `<op> <volid> [<snap>] [running]` */
  calls: string[];
  /** storage type -> volume_has_feature(snapshot) answer (type from the volid's storage: usb-thin → lvmthin, usb-lvm → lvm) */
  types: Record<string, string>;
  /** volid -> its storage snapshots */
  snaps: Map<string, string[]>;
  /** make `<op>` fail with this message */
  fail: Partial<Record<'snapshot' | 'rollback' | 'remove' | 'capability', string>>;
  /** no volume_snapshot_info for these storages */
  unlisted: Set<string>;
}

const SNAPSHOT_TYPES = new Set(['lvmthin', 'zfspool', 'rbd']);

export const STORAGE_CFG = 'lvmthin: usb-thin\n\tvgname pve\n\tthinpool data\n\tcontent images\n\nlvm: usb-lvm\n\tvgname usbvg\n\tcontent images\n';

export interface SnapshotHost {
  t: TmpRoot;
  deps: SnapshotDeps;
  out: string[];
  qm: FakeQm;
  volumes: FakeVolumes;
  events: string[];
  /** the config file's text */
  config(): string;
  setConfig(text: string): void;
  /** the guest writes `text` at offset 0 of an image (refused while it is paused) */
  guestWrite(text: string, image?: string): void;
  imageText(image?: string, n?: number): string;
  /** every file and folder below a host-absolute folder, sorted, relative to it */
  tree(dir?: string): string[];
  liveRecord(vmid: number, image?: string): void;
}

export const configText = (notes: string, extra = 'memory: 2048\nname: unraid\nostype: l26\n', sections = ''): string =>
  `${notes
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `#${encodeText(l)}\n`)
    .join('')}${extra}${sections}`;

/** qemu-server's write of the config: main section, then each snapshot section (QemuServer.pm write_vm_config) */
function splitConfig(text: string): { main: string; sections: Map<string, string> } {
  const cut = text.search(/^\[/m);
  const main = cut < 0 ? text : text.slice(0, cut);
  const sections = new Map<string, string>();
  for (const block of (cut < 0 ? '' : text.slice(cut)).split(/^(?=\[)/m)) {
    const m = /^\[([^\]]+)\]\n/.exec(block);
    if (m?.[1]) sections.set(m[1], block.slice(m[0].length).replace(/\n+$/, '\n'));
  }
  return { main, sections };
}

function joinConfig(main: string, sections: Map<string, string>): string {
  return `${main.replace(/\n+$/, '\n')}${[...sections].map(([n, body]) => `\n[${n}]\n${body}`).join('')}`;
}

export function snapshotHost(opts: { reflink?: boolean; notes?: string; configExtra?: string } = {}): SnapshotHost {
  const volumes: FakeVolumes = { calls: [], types: { 'usb-thin': 'lvmthin', 'usb-lvm': 'lvm' }, snaps: new Map(), fail: {}, unlisted: new Set() };
  const t = tmpRoot('pvug-snap-');
  t.put('/images/stick.img', '');
  const img = join(t.root, 'images/stick.img');
  writeSyncAt(img, Buffer.alloc(4 << 20), 0);
  t.put('/qemu-server/100.conf', configText(opts.notes ?? NOTES, opts.configExtra));
  t.put('/run/.keep', '');
  t.put('/etc/pve/storage.cfg', STORAGE_CFG);
  const settings = parseSettings(`[images]\nallowed_dirs = /images\nallowed_storages = usb-thin, usb-lvm\n[paths]\nroot = ${t.root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`, 'test', 'pve');
  const cfgPath = join(t.root, 'qemu-server/100.conf');
  const events: string[] = [];
  const qm: FakeQm = { calls: [], running: false, qmp: 'running', fail: {}, during: {} };
  const answer = (code: number, stdout = '', stderr = ''): ExecResult => ({ exitCode: code, stdout, stderr });
  const exec: Exec = async (file, args) => {
    qm.calls.push(`${file} ${args.join(' ')}`);
    const [cmd, , name] = args;
    const failure = qm.fail[cmd as keyof FakeQm['fail']];
    if (failure) return answer(255, '', `${failure}\n`);
    const { main, sections } = splitConfig(readFileSync(cfgPath, 'utf8'));
    const write = (m: string, s: Map<string, string>) => t.put('/qemu-server/100.conf', joinConfig(m, s));
    switch (cmd) {
      case 'status':
        qm.during.status?.();
        return answer(0, qm.running ? `status: running\nqmpstatus: ${qm.qmp}\nname: unraid\n` : 'status: stopped\nname: unraid\n');
      case 'suspend':
        events.push('suspend');
        qm.qmp = 'paused';
        return answer(0);
      case 'resume':
        events.push('resume');
        qm.qmp = 'running';
        return answer(0);
      case 'snapshot': {
        events.push(`snapshot (guest ${qm.running ? qm.qmp : 'stopped'})`);
        qm.during.snapshot?.();
        // AbstractConfig __snapshot_copy_config: the main options without the notes and lock (parent too: the tree link); then parent: name
        const body = main.split('\n').filter((l) => l && !l.startsWith('#') && !/^lock:/.test(l));
        const vmstate = args.includes('--vmstate') && qm.running ? [`vmstate: local:100/vm-100-state-${name}.raw`] : [];
        const descr = args.includes('--description') ? [`#${encodeText(args[args.indexOf('--description') + 1] ?? '')}`] : [];
        sections.set(name as string, `${[...descr, ...body, 'snaptime: 1765000000', ...vmstate].join('\n')}\n`);
        write(`${main.replace(/^parent: .*\n/m, '')}parent: ${name}\n`, sections);
        return answer(0);
      }
      case 'rollback':
        events.push('rollback');
        qm.during.rollback?.();
        write(`${main.replace(/^parent: .*\n/m, '')}parent: ${name}\n`, sections);
        return answer(0);
      case 'delsnapshot':
        sections.delete(name as string);
        write(main.replace(/^parent: .*\n/m, ''), sections);
        return answer(0);
      default:
        return answer(2, '', `fake qm: ${args.join(' ')}\n`);
    }
  };
  const out: string[] = [];
  const state = new StateStore(t.fs, '/run');
  const deps: SnapshotDeps = {
    fs: t.fs,
    settings,
    qm: qmTool(exec),
    volumes: fakeVolumes(volumes, events),
    state,
    cloner: fakeCloner(events, opts.reflink),
    clock: { now: (() => { let n = 1_765_000_000_000; return () => (n += 25); })(), sleep: async () => undefined },
    print: (l) => void out.push(l),
    pid: 4242,
  };
  const real = (p: string) => join(t.root, p);
  return {
    t,
    deps,
    out,
    qm,
    volumes,
    events,
    config: () => readFileSync(cfgPath, 'utf8'),
    setConfig: (text) => t.put('/qemu-server/100.conf', text),
    guestWrite: (text, image = '/images/stick.img') => {
      if (qm.running && qm.qmp === 'paused') throw new Error('the guest wrote while paused');
      writeSyncAt(real(image), Buffer.from(text), 0);
    },
    imageText: (image = '/images/stick.img', n = 16) => readFileSync(real(image)).subarray(0, n).toString('latin1').replace(/\0+$/, ''),
    tree: (dir = '/images') => walk(real(dir)).map((p) => relative(real(dir), p)).sort(),
    liveRecord: (vmid, image = '/images/stick.img') => {
      const r: GadgetRecord = { version: 1, vmid, phase: 'live', node: 'pve', gadgetDir: `/sys/kernel/config/usb_gadget/pvug-${vmid}`, udc: 'dummy_udc.0', usbId: '0781:5571', serial: 's', speed: 'high', luns: [{ index: 0, image, readonly: false, cdrom: false }], createdAt: '', pid: 1 };
      state.write(r);
    },
  };
}

function fakeVolumes(v: FakeVolumes, events: string[]): SnapshotDeps['volumes'] {
  const type = (volid: string) => v.types[volid.split(':')[0] ?? ''] ?? 'dir';
  const step = (op: keyof FakeVolumes['fail'], line: string) => {
    v.calls.push(line);
    if (op !== 'capability') events.push(line);
    if (v.fail[op]) throw new Error(v.fail[op]);
  };
  const has = (volid: string) => v.snaps.get(volid) ?? [];
  return {
    capability: async (volid, running) => {
      step('capability', `feature ${volid}${running ? ' running' : ''}`);
      return { type: type(volid), snapshot: SNAPSHOT_TYPES.has(type(volid)) };
    },
    snapshot: async (volid, snap) => {
      step('snapshot', `volume-snapshot ${volid} ${snap}`);
      if (has(volid).includes(snap)) throw new Error(`snapshot ${snap} exists`);
      v.snaps.set(volid, [...has(volid), snap]);
    },
    rollback: async (volid, snap) => {
      step('rollback', `volume-rollback ${volid} ${snap}`);
      if (!has(volid).includes(snap)) throw new Error(`no snapshot ${snap}`);
    },
    remove: async (volid, snap, running) => {
      step('remove', `volume-delete ${volid} ${snap}${running ? ' running' : ''}`);
      v.snaps.set(volid, has(volid).filter((x) => x !== snap));
    },
    list: async (volid) => (v.unlisted.has(volid.split(':')[0] ?? '') ? undefined : has(volid)),
  };
}

function writeSyncAt(file: string, data: Buffer, pos: number): void {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w');
  writeSync(fd, data, 0, data.length, pos);
  closeSync(fd);
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    out.push(p);
    if (statSync(p).isDirectory()) out.push(...walk(p));
  }
  return out;
}

/** the error a promise rejects with (undefined when it resolves) */
export const refused = async (p: Promise<unknown>): Promise<(Error & { toLine?: () => string; fix?: string }) | undefined> =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
