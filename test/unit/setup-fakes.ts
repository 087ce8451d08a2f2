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
    plain: (l) => lines.push(l),
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

/**
 * `pveum` as pve-access-control keeps roles, users, tokens and ACLs, for the commands `setup api` and
 * the per-mapping grants run (the e2e stand-in is test/e2e/guest/install-control.ts); every call is
 * recorded as one string. `failOn` makes the call starting with it exit 255.
 */
export class FakePveum {
  readonly calls: string[] = [];
  readonly roles = new Map<string, string>();
  readonly users = new Map<string, Set<string>>();
  readonly acls: string[] = [];
  readonly secrets: string[] = [];
  failOn?: string;
  /** what `user token add` prints instead of its JSON */
  tokenAddOutput?: string;

  readonly exec: Exec = async (file, args) => {
    const line = [file, ...args].join(' ');
    this.calls.push(line);
    if (file !== 'pveum' || (this.failOn && line.startsWith(this.failOn))) return { exitCode: 255, stdout: '', stderr: `failed: ${line}` };
    const out = (v: unknown) => ({ exitCode: 0, stdout: `${JSON.stringify(v)}\n`, stderr: '' });
    const done = { exitCode: 0, stdout: '', stderr: '' };
    const bad = (why: string) => ({ exitCode: 255, stdout: '', stderr: `${why}\n` });
    const opt = (name: string) => args[args.indexOf(`--${name}`) + 1] ?? '';
    const [a0, a1, a2, a3, a4] = args;
    const cmd = a0 === 'user' && a1 === 'token' ? `${a0} ${a1} ${a2}` : `${a0} ${a1}`;
    const [x, y] = a0 === 'user' && a1 === 'token' ? [a3, a4] : [a2, a3];
    switch (cmd) {
      case 'role list':
        return out([...this.roles].map(([roleid, privs]) => ({ roleid, privs, special: 0 })));
      case 'role add':
        if (this.roles.has(x ?? '')) return bad(`role '${x}' already exists`);
        this.roles.set(x ?? '', opt('privs'));
        return done;
      case 'role modify':
        this.roles.set(x ?? '', opt('privs'));
        return done;
      case 'role delete':
        this.roles.delete(x ?? '');
        return done;
      case 'user list':
        return out([...this.users.keys()].map((userid) => ({ userid, enable: 1 })));
      case 'user add':
        this.users.set(x ?? '', new Set());
        return done;
      case 'user delete':
        this.users.delete(x ?? '');
        return done;
      case 'user token list': {
        const tokens = this.users.get(x ?? '');
        return tokens ? out([...tokens].map((tokenid) => ({ tokenid, privsep: 1 }))) : bad(`no such user ('${x}')`);
      }
      case 'user token add': {
        this.users.get(x ?? '')?.add(y ?? '');
        const value = `0123abcd-0000-4000-8000-${String(this.secrets.length + 1).padStart(12, '0')}`;
        this.secrets.push(value);
        return this.tokenAddOutput !== undefined ? { exitCode: 0, stdout: this.tokenAddOutput, stderr: '' } : out({ 'full-tokenid': `${x}!${y}`, info: { privsep: 1 }, value });
      }
      case 'user token remove':
        this.users.get(x ?? '')?.delete(y ?? '');
        return done;
      case 'acl list':
        return out(this.acls.map((l) => l.split(' ')).map(([path, type, ugid, roleid]) => ({ path, type, ugid, roleid, propagate: 1 })));
      case 'acl modify':
      case 'acl delete': {
        for (const [flag, type] of [['--users', 'user'], ['--tokens', 'token']] as const) {
          if (!args.includes(flag)) continue;
          const acl = `${x} ${type} ${opt(flag.slice(2))} ${opt('roles')}`;
          const i = this.acls.indexOf(acl);
          if (i >= 0) this.acls.splice(i, 1);
          if (a1 === 'modify') this.acls.push(acl);
        }
        return done;
      }
      default:
        return bad(`unsupported: ${line}`);
    }
  };
}
