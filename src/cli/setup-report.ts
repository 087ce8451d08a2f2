/**
 * What the `setup` commands tell, in lines install.sh reads (setup_cli there): a change it lists in its
 * summary, a note it passes on, a value it needs (the snippets directory), and warnings on stderr. One
 * line each, `<kind>: <text>`, so an admin running a setup command by hand reads the same.
 */
import type { Exec } from '../ports/exec.js';
import type { HostFs } from '../ports/host-fs.js';

export interface SetupReport {
  /** something was changed (install.sh: "installed on <node>:" summary) */
  changed(line: string): void;
  /** nothing to change, or something left as it is */
  ok(line: string): void;
  /** a value for install.sh, printed as `<name>: <value>` */
  value(name: string, value: string): void;
  warn(line: string): void;
  /** a line printed as it is, which install.sh passes on unchanged (the token secret, when asked for) */
  plain(line: string): void;
}

/** What every setup step acts through: the host's files, its programs, and where it tells. */
export interface SetupDeps {
  fs: HostFs;
  exec: Exec;
  report: SetupReport;
  /** this node's name, as install.sh names it (hostname -s) */
  node: string;
}

export function printReport(out: (s: string) => void, err: (s: string) => void): SetupReport {
  return {
    changed: (line) => out(`changed: ${line}\n`),
    ok: (line) => out(`ok: ${line}\n`),
    value: (name, value) => out(`${name}: ${value}\n`),
    warn: (line) => err(`pve-usb-gadget: WARNING: ${line}\n`),
    plain: (line) => out(`${line}\n`),
  };
}
