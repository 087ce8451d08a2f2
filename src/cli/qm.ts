/**
 * The root-only side of enable/disable: `qm` on this node, as root@pam. Only for what Proxmox VE keeps
 * from API tokens (the hookscript) or what would need a broad privilege (the boot order needs
 * VM.Config.Disk). `qm config` prints the notes percent-encoded on one line (qemu-server CLI/qm.pm), so
 * notes text cannot forge a `hookscript:` line in its output. The snapshot commands (src/snapshot/)
 * run qm's own snapshot, rollback, delsnapshot, suspend, resume and status: qemu-server does the VM's
 * part with its locks and storage rules, and the token is never given VM.Snapshot or VM.PowerMgmt.
 */
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { parseOptionLine } from '../proxmox/local-config.js';
import type { SnapshotVm, VmRunState } from '../snapshot/deps.js';
import { parseSnapshotName } from '../values/snapshot-name.js';

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

/** A value after a qm option: refused when qm could take it for an option, or it holds a line break. */
function optionValue(key: string, v: string): string {
  if (/[\r\n]/.test(v) || v.startsWith('-')) throw new RangeError(`refusing qm --${key} value: it may not start with "-" or hold a line break`);
  return v;
}

/** `qm snapshot|rollback|delsnapshot <vmid> <name>`: the name by Proxmox's rule (values/snapshot-name.ts). */
function snapshotBase(cmd: 'snapshot' | 'rollback' | 'delsnapshot', vmid: number, name: string): string[] {
  if (!parseSnapshotName(name).ok) throw new RangeError(`refusing snapshot name ${JSON.stringify(name).slice(0, 60)}`);
  return [cmd, String(vmid), name];
}

export function qmSnapshotArgs(vmid: number, name: string, opts: { description?: string; vmstate?: boolean } = {}): string[] {
  const args = snapshotBase('snapshot', vmid, name);
  if (opts.description !== undefined) args.push('--description', optionValue('description', opts.description));
  if (opts.vmstate) args.push('--vmstate', '1');
  return args;
}

export const qmRollbackArgs = (vmid: number, name: string): string[] => snapshotBase('rollback', vmid, name);

export function qmDelsnapshotArgs(vmid: number, name: string, opts: { force?: boolean } = {}): string[] {
  return [...snapshotBase('delsnapshot', vmid, name), ...(opts.force ? ['--force', '1'] : [])];
}

/** `qm status <vmid> --verbose`: `status: running|stopped`, and `qmpstatus: ...` for a running guest. */
export function parseQmStatus(text: string): VmRunState {
  const status = /^status: (\S+)$/m.exec(text)?.[1];
  if (status === undefined) throw new CommandError(`qm status printed no status line: ${text.trim().split('\n')[0]?.slice(0, 80) ?? ''}`, { fix: 'run pve-usb-gadget as root on the node the VM is on' });
  const qmp = /^qmpstatus: (\S+)$/m.exec(text)?.[1];
  return status === 'stopped' ? { running: false } : { running: true, ...(qmp ? { qmpStatus: qmp } : {}) };
}

const ROOT_FIX = 'run pve-usb-gadget as root on the node the VM is on; see the qm message';
/** qm snapshot with RAM and big disks, rollback and delsnapshot can take long: killing qm mid-way is worse */
const LONG_MS = 4 * 3600_000;

/** The node's qm: enable/disable's part (RootVmTool) and the snapshot commands' (SnapshotVm). */
export function qmTool(exec: Exec, qm = 'qm'): RootVmTool & SnapshotVm {
  const run = async (args: string[], fix: string, timeoutMs = 60_000) => {
    const r = await exec(qm, args, { timeoutMs });
    if (r.exitCode !== 0) {
      const said = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ');
      const shown = ['snapshot', 'rollback', 'delsnapshot'].includes(args[0] ?? '') ? 3 : 2;
      throw new CommandError(`qm ${args.slice(0, shown).join(' ')} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`, { fix });
    }
    return r.stdout;
  };
  return {
    status: async (vmid) => parseQmStatus(await run(['status', String(vmid), '--verbose'], ROOT_FIX)),
    suspend: async (vmid) => void (await run(['suspend', String(vmid)], ROOT_FIX)),
    resume: async (vmid) => void (await run(['resume', String(vmid)], `${ROOT_FIX}; the guest may still be paused: qm resume ${vmid}`)),
    snapshot: async (vmid, name, opts) => void (await run(qmSnapshotArgs(vmid, name, opts), ROOT_FIX, LONG_MS)),
    rollback: async (vmid, name) => void (await run(qmRollbackArgs(vmid, name), ROOT_FIX, LONG_MS)),
    delsnapshot: async (vmid, name, opts) => void (await run(qmDelsnapshotArgs(vmid, name, opts), ROOT_FIX, LONG_MS)),
    async config(vmid) {
      return parseQmConfig(await run(['config', String(vmid)], 'run pve-usb-gadget as root on the node the VM is on'));
    },
    async set(vmid, set, del = []) {
      await run(qmSetArgs(vmid, set, del), 'run pve-usb-gadget as root on the node the VM is on; see the qm message');
    },
  };
}
