/**
 * The record of one VM's stick copy during a backup: `<stateDir>/backup-<vmid>.json` (tmpfs, like the
 * gadget records; the name never matches StateStore's `<vmid>.json`). vzdump's hook writes it at
 * backup-start in stop mode ("awaiting": take the copy while QEMU is not up), our guest pre-start takes
 * the copy when it sees `lock: backup` and marks it done or failed, and backup-end reports and removes
 * it. In snapshot/suspend mode pre-stop writes the outcome, for backup-end to repeat.
 */
import type { HostFs } from '../ports/host-fs.js';
import type { CopyMethod } from './manifest.js';
import type { Mode } from './phases.js';

export interface PendingCopy {
  version: 1;
  vmid: number;
  mode: Mode;
  dumpDir: string;
  base: string;
  state: 'awaiting' | 'done' | 'failed' | 'nothing';
  method?: CopyMethod;
  pausedMs?: number;
  /** what failed, one line */
  error?: string;
  /** LUN files written */
  files?: string[];
}

export class PendingStore {
  constructor(
    private readonly fs: HostFs,
    private readonly dir: string,
  ) {}

  path(vmid: number): string {
    return `${this.dir}/backup-${vmid}.json`;
  }

  write(p: PendingCopy): void {
    this.fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.fs.writeAtomic(this.path(p.vmid), `${JSON.stringify(p)}\n`);
  }

  read(vmid: number): PendingCopy | undefined {
    const text = this.fs.readTextIfExists(this.path(vmid));
    if (text === undefined) return undefined;
    try {
      const p = JSON.parse(text) as PendingCopy;
      return p && p.version === 1 && p.vmid === vmid && typeof p.base === 'string' && typeof p.dumpDir === 'string' ? p : undefined;
    } catch {
      return undefined;
    }
  }

  remove(vmid: number): void {
    if (this.fs.exists(this.path(vmid))) this.fs.unlink(this.path(vmid));
  }

  /** the outcome of the VM's last backup, kept for doctor until the next one (or a reboot: tmpfs) */
  writeLast(p: PendingCopy): void {
    this.fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.fs.writeAtomic(`${this.dir}/backup-last-${p.vmid}.json`, `${JSON.stringify(p)}\n`);
  }

  /** every last outcome recorded, for doctor */
  lastOutcomes(): PendingCopy[] {
    const out: PendingCopy[] = [];
    for (const n of this.fs.list(this.dir)) {
      const m = /^backup-last-([1-9][0-9]*)\.json$/.exec(n);
      if (!m) continue;
      try {
        const p = JSON.parse(this.fs.readText(`${this.dir}/${n}`)) as PendingCopy;
        if (p?.version === 1 && p.vmid === Number(m[1])) out.push(p);
      } catch {
        // a torn write: no outcome to report
      }
    }
    return out.sort((a, b) => a.vmid - b.vmid);
  }

  /** base names of copies some backup is working on now (prune leaves their files alone) */
  activeBases(): Set<string> {
    const out = new Set<string>();
    for (const n of this.fs.list(this.dir)) {
      const m = /^backup-([1-9][0-9]*)\.json$/.exec(n);
      const p = m ? this.read(Number(m[1])) : undefined;
      if (p) out.add(p.base);
    }
    return out;
  }
}
