/**
 * Runs INSIDE the test VM: a stand-in for qemu-server's VM start and stop, after its own logic
 * (PVE::QemuServer::vm_start_nolock and PVE::QemuServer::USB):
 *  - the config is loaded once, BEFORE pre-start, and the VM's config lock is held while hooks run;
 *  - a non-zero pre-start exit aborts the start;
 *  - usbN lines are resolved AFTER pre-start: mapping=<id> → this node's entry → VID:PID, and the device
 *    must be present (PVE::Mapping::USB::assert_valid), host=VID:PID is taken as is;
 *  - QEMU gets `-nodefaults -device qemu-xhci -device usb-host,vendorid=..,productid=..` like qemu-server;
 *  - stop: pre-stop, QEMU ends, post-stop (qm cleanup).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE, SETTINGS, type PveNode } from './pve-node.js';

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

export class QemuServerStandIn {
  private readonly qemus = new Map<number, ChildProcess>();

  constructor(
    private readonly node: PveNode,
    private readonly hookEnv: Record<string, string> = {},
  ) {}

  serialLog(vmid: number): string {
    return `/tmp/vm-${vmid}-serial.log`;
  }

  async start(vmid: number, env: Record<string, string> = {}): Promise<StartResult> {
    const api = this.node.api;
    api.lockVm(vmid);
    const hooks: HookRun[] = [];
    try {
      // pending changes applied, then loaded once, before pre-start, and never reloaded (vm_start_nolock)
      api.applyPending(vmid);
      const conf = api.vmConfig(vmid);
      this.node.syncConfigFile(vmid);
      const pre = await runHook(vmid, 'pre-start', { ...this.hookEnv, ...env });
      hooks.push(pre);
      if (pre.code !== 0) return { started: false, error: `hookscript error for ${vmid} on pre-start: exit ${pre.code ?? pre.signal}`, hooks, usbDevices: [] };

      const usbDevices: string[] = [];
      const bootOrder = String(conf.boot ?? '').replace(/^order=/, '').split(';').filter(Boolean);
      // memory from the config as qemu-server does; 64 MiB when unset (a boot sector needs no more)
      const memMb = /^\d+$/.test(String(conf.memory ?? '')) ? String(conf.memory) : '64';
      const args = ['-accel', 'tcg', '-nodefaults', '-display', 'none', '-m', memMb, '-serial', `file:${this.serialLog(vmid)}`, '-device', 'qemu-xhci,p2=15,p3=15,id=xhci'];
      for (const key of Object.keys(conf).filter((k) => /^usb\d+$/.test(k)).sort()) {
        const value = String(conf[key]);
        let id: string | undefined;
        const mapping = /(?:^|,)mapping=([^,]+)/.exec(value)?.[1];
        if (mapping) {
          // resolved now, after pre-start: the hook may have just created or updated the entry
          const entry = api.usbMapping(mapping)?.map.find((e) => e.split(',').includes(`node=${NODE}`));
          id = entry?.split(',').find((p) => p.startsWith('id='))?.slice(3);
          if (!id) return { started: false, error: `no entry for node '${NODE}' in USB mapping '${mapping}'`, hooks, usbDevices };
          if (!usbIdsPresent().includes(id)) return { started: false, error: `usb device '${id}' not found`, hooks, usbDevices };
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

  async stop(vmid: number): Promise<HookRun[]> {
    const api = this.node.api;
    api.lockVm(vmid);
    try {
      const pre = await runHook(vmid, 'pre-stop', this.hookEnv);
      await this.kill(vmid);
      const post = await runHook(vmid, 'post-stop', this.hookEnv);
      return [pre, post];
    } finally {
      api.unlockVm(vmid);
    }
  }
}
