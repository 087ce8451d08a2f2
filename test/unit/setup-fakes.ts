// What the `setup` commands act through, for the unit tests: a host root in a temp folder, a recording
// report and an Exec that answers `pvesm set` by editing that root's storage.cfg as pvesm would.
import type { Exec } from '../../src/ports/exec.js';
import type { SetupDeps, SetupReport } from '../../src/cli/setup-report.js';
import type { TmpRoot } from './tmp-root.js';

export interface Recorded extends SetupReport {
  lines: string[];
}

export function recordingReport(): Recorded {
  const lines: string[] = [];
  return {
    lines,
    changed: (l) => lines.push(`changed: ${l}`),
    ok: (l) => lines.push(`ok: ${l}`),
    value: (n, v) => lines.push(`${n}: ${v}`),
    warn: (l) => lines.push(`WARNING: ${l}`),
  };
}

/** `pvesm set <id> --content <list>` on the root's /etc/pve/storage.cfg; `fail` makes it exit 255. */
export function fakePvesm(t: TmpRoot, calls: string[], fail = false): Exec {
  return async (file, args) => {
    calls.push([file, ...args].join(' '));
    const [cmd, id, flag, list] = args;
    if (file !== 'pvesm' || cmd !== 'set' || flag !== '--content' || fail) return { exitCode: 255, stdout: '', stderr: `storage '${id}' is locked` };
    const cfg = t.fs.readText('/etc/pve/storage.cfg');
    let cur = false;
    const out = cfg.split('\n').map((l) => {
      if (/^\S+: /.test(l)) cur = l.endsWith(`: ${id}`);
      return cur && /^\s+content /.test(l) ? `\tcontent ${list}` : l;
    });
    t.put('/etc/pve/storage.cfg', out.join('\n'));
    return { exitCode: 0, stdout: '', stderr: '' };
  };
}

export function setupDeps(t: TmpRoot, exec: Exec, report: SetupReport): SetupDeps {
  return { fs: t.fs, exec, report, node: 'pve1' };
}
