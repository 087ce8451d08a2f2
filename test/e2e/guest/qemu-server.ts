/**
 * Runs INSIDE the test VM: a stand-in for qemu-server's VM start and stop, after its own logic
 * (src/PVE/QemuServer.pm vm_start_nolock, vmconfig_hotplug_pending; src/PVE/QemuServer/USB.pm
 * parse_usb_device; src/PVE/CLI/qm.pm cleanup; read at e6352be6):
 *  - the config is loaded once, BEFORE pre-start, and the VM's config lock is held while hooks run;
 *  - a non-zero pre-start exit aborts the start;
 *  - usbN lines are resolved AFTER pre-start: mapping=<id> → this node's entry → VID:PID, and the device
 *    must be present (PVE::Mapping::USB::assert_valid), host=VID:PID is taken as is. A start from the
 *    API or GUI (`from: 'api'`) runs in a pvedaemon worker that may have read /etc/pve/mapping/usb.cfg
 *    before (permission checks); pmxcfs reads are cached per process and refreshed only by cfs_update,
 *    which the start calls when it takes the config lock, before pre-start: such a start resolves the
 *    mapping as it was before pre-start ran. `qm start` from a shell (`from: 'shell'`) reads it fresh;
 *  - QEMU gets `-nodefaults -device qemu-xhci -device usb-host,vendorid=..,productid=..` like qemu-server,
 *    and a QMP socket, through which a usbN line PUT on the running VM is hot-plugged (device_add);
 *    the config's `args:` goes last, split like a shell would (config_to_command: split_args, which is
 *    Text::ParseWords::shellwords): how the tests boot their nested Linux guest (guest-shell.ts);
 *  - stop: pre-stop, QEMU ends, then post-stop, one of two ways (`postStop`):
 *    'vm_stop_cleanup' (qemu-server >= 9.1.13): inside the stop, under its lock;
 *    'qmeventd' (PVE 8, and 9 before 9.1.13): later, from the `qm cleanup` qmeventd starts once QEMU has
 *    exited: nothing when the config is no longer on this node, else under the config lock (60 s);
 *    when QEMU runs again (a quick restart) it waits up to 30 s and then aborts without post-stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE, SETTINGS, type PveNode } from './pve-node.js';
import { qmpCommand } from './qmp.js';

export const HOOK = '/project/dist/hook.cjs';
/** Debian's node from the hypervisor root: what Proxmox VE 8 has */
export const NODE_BIN = '/usr/bin/node';

export interface HookRun {
  phase: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface StartResult {
  started: boolean;
  /** why qemu-server would have failed the start */
  error?: string;
  hooks: HookRun[];
  /** vendorid:productid of each usb-host device given to QEMU */
  usbDevices: string[];
}

const outputs: string[] = [];
/** everything every hook run printed in this process, for the secret-leak check */
export function allHookOutput(): string {
  return outputs.join('\n');
}

export function runHook(vmid: number, phase: string, env: Record<string, string> = {}): Promise<HookRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(NODE_BIN, [HOOK, String(vmid), phase], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', PVE_USB_GADGET_SETTINGS: SETTINGS, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // like PVE's run_command: done when the process exited AND both pipes reached EOF
    child.on('close', (code, signal) => {
      outputs.push(stdout, stderr);
      resolve({ phase, code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const usbIdsPresent = () =>
  readdirSync('/sys/bus/usb/devices')
    .filter((n) => /^\d+-[\d.]+$/.test(n))
    .map((n) => {
      const read = (f: string) => {
        try {
          return readFileSync(`/sys/bus/usb/devices/${n}/${f}`, 'utf8').trim();
        } catch {
          return '';
        }
      };
      return `${read('idVendor')}:${read('idProduct')}`;
    });

/** Text::ParseWords::shellwords for what `args:` lines hold: words, "double" and 'single' quotes, backslash. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word = `${word ?? ''}${line[++i] ?? ''}`;
      else word = `${word ?? ''}${c}`;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word ??= '';
      if (c === '"' || c === "'") quote = c;
      else if (c === '\\' && i + 1 < line.length) word += line[++i] ?? '';
      else word += c;
    }
  }
  if (quote) throw new Error(`args: unbalanced ${quote} in ${line}`);
  if (word !== undefined) words.push(word);
  return words;
}

export interface StandInOptions {
  hookEnv?: Record<string, string>;
  /** how post-stop runs (see the header); default 'vm_stop_cleanup' */
  postStop?: 'vm_stop_cleanup' | 'qmeventd';
  /** qmeventd: how long after QEMU's exit `qm cleanup` starts (default 1 s) */
  cleanupDelayMs?: number;
  /** qm cleanup: how long it waits for a running QEMU before it aborts (30 s in qemu-server) */
  cleanupRunningWaitMs?: number;
}

/** What `qm cleanup` did: ran post-stop, or not and why. */
export interface CleanupRun {
  post?: HookRun;
  skipped?: string;
}

export class QemuServerStandIn {
  private readonly qemus = new Map<number, ChildProcess>();
  private readonly hookEnv: Record<string, string>;
  /** `id=usbN vendorid:productid` of every device hot-plugged through QMP, in order */
  readonly hotplugged: string[] = [];
  /** why a hot-plug failed (the fake answers PVE's 400 "hotplug problem" with it) */
  readonly hotplugErrors: string[] = [];
  /** the pending `qm cleanup` of each stopped VM (postStop 'qmeventd') */
  readonly cleanups = new Map<number, Promise<CleanupRun>>();

  constructor(
    private readonly node: PveNode,
    private readonly opts: StandInOptions = {},
  ) {
    this.hookEnv = opts.hookEnv ?? {};
    node.api.setUsbPlugger((vmid, key, value) => this.hotplug(vmid, key, value));
  }

  serialLog(vmid: number): string {
    return `/tmp/vm-${vmid}-serial.log`;
  }

  qmpSocket(vmid: number): string {
    return `/tmp/vm-${vmid}.qmp`;
  }

  /** parse_usb_device for mapping=<id>: this node's entry, and the device must be there (assert_valid). */
  private resolveMapping(mapping: string, entries: string[] | undefined): { id?: string; error?: string } {
    const entry = entries?.find((e) => e.split(',').includes(`node=${NODE}`));
    const id = entry?.split(',').find((p) => p.startsWith('id='))?.slice(3);
    if (!id) return { error: `USB device mapping not found for '${mapping}'` };
    if (!usbIdsPresent().includes(id)) return { error: `USB Mapping invalid (hardware probably changed): device '${id}' not found` };
    return { id };
  }

  /** qemu_usb_hotplug: resolve the line as a start would, then device_add into the running QEMU. */
  private async hotplug(vmid: number, key: string, value: string): Promise<void> {
    try {
      const mapping = /(?:^|,)mapping=([^,]+)/.exec(value)?.[1];
      const id = mapping ? this.resolveMapping(mapping, this.node.api.usbMapping(mapping)?.map) : { id: /(?:^|,)host=([0-9a-fA-F]{4}:[0-9a-fA-F]{4})/.exec(value)?.[1] };
      if (!id.id) throw new Error(id.error ?? `cannot hot-plug '${value}'`);
      const [vid, pid] = id.id.split(':').map((h) => parseInt(h, 16));
      await qmpCommand(this.qmpSocket(vmid), 'device_add', { driver: 'usb-host', bus: 'xhci.0', vendorid: vid, productid: pid, id: key });
      this.hotplugged.push(`id=${key} ${id.id}`);
    } catch (err) {
      this.hotplugErrors.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** `paused`: QEMU starts stopped (-S), as vm_start with paused => 1 does for vzdump (QMP cont resumes it) */
  async start(vmid: number, env: Record<string, string> = {}, from: 'shell' | 'api' = 'shell', opts: { paused?: boolean } = {}): Promise<StartResult> {
    const api = this.node.api;
    api.lockVm(vmid);
    const hooks: HookRun[] = [];
    try {
      // pending changes applied, then loaded once, before pre-start, and never reloaded (vm_start_nolock)
      api.applyPending(vmid);
      const conf = api.vmConfig(vmid);
      this.node.syncConfigFile(vmid);
      // an API worker's pmxcfs cache: usb.cfg as it was before pre-start
      const cached = new Map<string, string[] | undefined>();
      if (from === 'api') for (const id of api.usbMappingIds()) cached.set(id, api.usbMapping(id)?.map);
      const pre = await runHook(vmid, 'pre-start', { ...this.hookEnv, ...env });
      hooks.push(pre);
      if (pre.code !== 0) return { started: false, error: `hookscript error for ${vmid} on pre-start: exit ${pre.code ?? pre.signal}`, hooks, usbDevices: [] };

      const usbDevices: string[] = [];
      const bootOrder = String(conf.boot ?? '').replace(/^order=/, '').split(';').filter(Boolean);
      // memory from the config as qemu-server does; 64 MiB when unset (a boot sector needs no more)
      const memMb = /^\d+$/.test(String(conf.memory ?? '')) ? String(conf.memory) : '64';
      rmSync(this.qmpSocket(vmid), { force: true });
      const args = [
        '-accel', 'tcg', '-nodefaults', '-display', 'none', '-m', memMb, '-serial', `file:${this.serialLog(vmid)}`,
        '-qmp', `unix:${this.qmpSocket(vmid)},server=on,wait=off`, '-device', 'qemu-xhci,p2=15,p3=15,id=xhci',
      ];
      for (const key of Object.keys(conf).filter((k) => /^usb\d+$/.test(k)).sort()) {
        const value = String(conf[key]);
        let id: string | undefined;
        const mapping = /(?:^|,)mapping=([^,]+)/.exec(value)?.[1];
        if (mapping) {
          // resolved now, after pre-start: the hook may have just created or updated the entry
          const r = this.resolveMapping(mapping, from === 'api' ? cached.get(mapping) : api.usbMapping(mapping)?.map);
          if (!r.id) return { started: false, error: r.error, hooks, usbDevices };
          id = r.id;
        } else {
          id = /(?:^|,)host=([0-9a-fA-F]{4}:[0-9a-fA-F]{4})/.exec(value)?.[1];
        }
        if (!id) continue;
        const [vid, pid] = id.split(':');
        const n = Number(key.slice(3));
        const boot = bootOrder.indexOf(key);
        usbDevices.push(id);
        args.push('-device', `usb-host,bus=xhci.0,port=${n + 1},vendorid=0x${vid},productid=0x${pid},id=${key}${boot >= 0 ? `,bootindex=${100 + boot}` : ''}`);
      }
      if (conf.args !== undefined) args.push(...shellWords(String(conf.args)));
      if (opts.paused) args.push('-S');
      rmSync(this.serialLog(vmid), { force: true });
      const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      qemu.stderr?.on('data', () => undefined);
      this.qemus.set(vmid, qemu);
      api.setVmStatus(vmid, 'running');
      hooks.push(await runHook(vmid, 'post-start', this.hookEnv));
      return { started: true, hooks, usbDevices };
    } finally {
      api.unlockVm(vmid);
    }
  }

  /** Wait until the guest wrote `marker` to its serial port. */
  async waitForSerial(vmid: number, marker: string, timeoutMs = 120_000): Promise<{ found: boolean; serial: string; ms: number }> {
    const t0 = Date.now();
    let serial = '';
    while (Date.now() - t0 < timeoutMs) {
      serial = existsSync(this.serialLog(vmid)) ? readFileSync(this.serialLog(vmid), 'latin1') : '';
      if (serial.includes(marker)) return { found: true, serial, ms: Date.now() - t0 };
      await sleep(200);
    }
    return { found: false, serial, ms: Date.now() - t0 };
  }

  /** QMP on the VM's QEMU: query-status → "running", "paused", "prelaunch"; undefined when it does not run */
  async qmpStatus(vmid: number): Promise<string | undefined> {
    if (!this.running(vmid)) return undefined;
    return ((await qmpCommand(this.qmpSocket(vmid), 'query-status')) as { status: string }).status;
  }

  async qmp(vmid: number, execute: 'stop' | 'cont'): Promise<void> {
    await qmpCommand(this.qmpSocket(vmid), execute);
  }

  /** Power the QEMU process off without any hook: a crash, or a post-stop that never came. */
  async kill(vmid: number): Promise<void> {
    const qemu = this.qemus.get(vmid);
    this.qemus.delete(vmid);
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      const gone = new Promise((r) => qemu.once('exit', r));
      qemu.kill('SIGKILL');
      await gone;
    }
    this.node.api.setVmStatus(vmid, 'stopped');
  }

  /** pre-stop, QEMU ends, post-stop as `postStop` says; with 'qmeventd' the result has no post-stop (see cleanups). */
  async stop(vmid: number): Promise<HookRun[]> {
    const api = this.node.api;
    api.lockVm(vmid);
    try {
      const pre = await runHook(vmid, 'pre-stop', this.hookEnv);
      await this.kill(vmid);
      if (this.opts.postStop === 'qmeventd') {
        this.cleanups.set(vmid, this.qmCleanupLater(vmid));
        return [pre];
      }
      const post = await runHook(vmid, 'post-stop', this.hookEnv);
      return [pre, post];
    } finally {
      api.unlockVm(vmid);
    }
  }

  private running(vmid: number): boolean {
    const q = this.qemus.get(vmid);
    return q !== undefined && q.exitCode === null && q.signalCode === null;
  }

  /** qmeventd → `qm cleanup <vmid>` once QEMU has exited (src/PVE/CLI/qm.pm cleanup). */
  private async qmCleanupLater(vmid: number): Promise<CleanupRun> {
    await sleep(this.opts.cleanupDelayMs ?? 1000);
    const api = this.node.api;
    // "return if we do not have the config anymore" (the VM migrated away)
    if (api.vm(vmid).node !== NODE) return { skipped: 'config not on this node' };
    const t0 = Date.now();
    while (api.vm(vmid).locked) {
      if (Date.now() - t0 > 60_000) return { skipped: "can't lock file - got timeout" };
      await sleep(100);
    }
    api.lockVm(vmid);
    try {
      const waitUntil = Date.now() + (this.opts.cleanupRunningWaitMs ?? 30_000);
      while (this.running(vmid) && Date.now() < waitUntil) await sleep(200);
      if (this.running(vmid)) return { skipped: 'aborting cleanup, VM is still running' };
      return { post: await runHook(vmid, 'post-stop', this.hookEnv) };
    } finally {
      api.unlockVm(vmid);
    }
  }
}
