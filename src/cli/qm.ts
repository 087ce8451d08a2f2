/**
 * The root-only side of enable/disable: `qm` on this node, as root@pam. Only for what Proxmox VE keeps
 * from API tokens (the hookscript) or what would need a broad privilege (the boot order needs
 * VM.Config.Disk). `qm config` prints the notes percent-encoded on one line (qemu-server CLI/qm.pm), so
 * notes text cannot forge a `hookscript:` line in its output.
 */
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { parseOptionLine } from '../proxmox/local-config.js';

export interface RootVmTool {
  /** `qm config <vmid>`: options as strings (pending values applied, like the API's default) */
  config(vmid: number): Promise<Record<string, string>>;
  /** `qm set <vmid> --key value ... [--delete a,b]` */
  set(vmid: number, set: Readonly<Record<string, string>>, del?: readonly string[]): Promise<void>;
}

const OPTION = /^[a-z][a-z0-9_-]*$/;

/** `qm config` output: option lines (the config file's grammar, local-config.ts); the first of a key wins. */
export function parseQmConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const opt = parseOptionLine(line);
    if (opt && !Object.prototype.hasOwnProperty.call(out, opt.key)) out[opt.key] = opt.value;
  }
  return out;
}

/** qm set arguments; refuses option names and values that are not what enable/disable write. */
export function qmSetArgs(vmid: number, set: Readonly<Record<string, string>>, del: readonly string[] = []): string[] {
  const args = ['set', String(vmid)];
  for (const [k, v] of Object.entries(set)) {
    if (!OPTION.test(k) || /[\r\n]/.test(v) || v.startsWith('-')) throw new RangeError(`refusing qm option ${k}`);
    args.push(`--${k}`, v);
  }
  if (del.length > 0) {
    if (!del.every((k) => OPTION.test(k))) throw new RangeError('refusing qm --delete');
    args.push('--delete', del.join(','));
  }
  return args;
}

export function qmTool(exec: Exec, qm = 'qm'): RootVmTool {
  const run = async (args: string[], fix: string) => {
    const r = await exec(qm, args, { timeoutMs: 60_000 });
    if (r.exitCode !== 0) {
      const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
      throw new CommandError(`qm ${args.slice(0, 2).join(' ')} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`, { fix });
    }
    return r.stdout;
  };
  return {
    async config(vmid) {
      return parseQmConfig(await run(['config', String(vmid)], 'run pve-usb-gadget as root on the node the VM is on'));
    },
    async set(vmid, set, del = []) {
      await run(qmSetArgs(vmid, set, del), 'run pve-usb-gadget as root on the node the VM is on; see the qm message');
    },
  };
}
