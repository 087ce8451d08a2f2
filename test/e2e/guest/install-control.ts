/**
 * Runs INSIDE the test VM: the root side of a one-node "Proxmox VE" for install.sh and the CLI. The
 * stand-ins for `pveum` and `qm` (pve-standins/call) send their argv here over TCP on 127.0.0.1 (port in
 * /run/pve-standins.port); this process holds the fake API and acts on it:
 *  - pveum: roles, users, privilege-separated tokens and ACLs as pve-access-control keeps them; after
 *    each change every token's effective privileges (token ACLs ∩ its user's, propagated to sub-paths)
 *    are handed to the fake API, which then checks them on every request like PVE does;
 *  - qm config/set: as root@pam, through an all-privileges token, except `hookscript`, which the fake
 *    refuses to every token (as PVE does): kept here and shown in `qm config` and <vmid>.conf;
 *  - qm status --verbose / suspend / resume (what the vzdump hook's pause uses): handed to `guests`, the
 *    scenario's running QEMUs (the qemu-server stand-in's QMP), when a scenario sets it; without it
 *    `qm status` answers from the fake API's run state;
 *  - qm snapshot / rollback / delsnapshot (pve-usb-gadget's snapshot commands): the config's `[name]`
 *    sections as qemu-server writes them (snapshot-cmds.ts); no disk is snapshotted (the test VMs have
 *    none), a vmstate is only named, and rolling back to one asks `start` to start the VM.
 * Only the subcommands install.sh and the CLI call exist; anything else fails loudly.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { FakePve } from '../../fake-pve/index.js';
import { ProxmoxClient } from '../../../src/proxmox/client.js';
import { encodeText } from '../../../src/proxmox/local-config.js';
import { rolePrivileges, ROLES } from '../../../src/cli/privileges.js';
import { qmSnapshotCommand, type SnapshotVmState } from './snapshot-cmds.js';

export const CONTROL_PORT_FILE = '/run/pve-standins.port';
export const NODE = 'pve';

interface Reply {
  code: number;
  stdout: string;
  stderr: string;
}
interface Acl {
  path: string;
  kind: 'user' | 'token';
  id: string;
  role: string;
}

/** qm's view of a running guest: QMP query-status, stop, cont (qemu-server vm_suspend/vm_resume) */
export interface GuestPower {
  /** QMP status ("running", "paused", "prelaunch"), or undefined when QEMU does not run */
  qmpStatus(vmid: number): Promise<string | undefined>;
  suspend(vmid: number): Promise<void>;
  resume(vmid: number): Promise<void>;
}

const ok = (stdout = ''): Reply => ({ code: 0, stdout, stderr: '' });
const err = (stderr: string, code = 255): Reply => ({ code, stdout: '', stderr: `${stderr}\n` });

/** `--name value` options and positional arguments */
function parse(args: readonly string[]): { pos: string[]; opt: Map<string, string> } {
  const pos: string[] = [];
  const opt = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--')) opt.set(a.slice(2), args[++i] ?? '');
    else pos.push(a);
  }
  return { pos, opt };
}

const under = (path: string, acl: string) => acl === '/' || path === acl || path.startsWith(`${acl}/`);

export class PveControl {
  readonly roles = new Map<string, string[]>();
  readonly users = new Map<string, { tokens: Map<string, { secret: string; privsep: boolean }> }>();
  readonly acls: Acl[] = [];
  readonly hookscripts = new Map<number, string>();
  /** the running guests, for qm status/suspend/resume */
  guests?: GuestPower;
  /** what qm rollback to a snapshot with RAM does at its end: start the VM (qemu-server's vm_start) */
  start?: (vmid: number) => Promise<void>;
  private server?: Server;

  private constructor(
    readonly api: FakePve,
    private readonly root: ProxmoxClient,
  ) {}

  static async start(api: FakePve): Promise<PveControl> {
    const secret = randomUUID();
    api.addToken('root@pam!standin', secret, {
      '/': ['VM.Audit', 'VM.Config.Disk', 'VM.Config.CDROM', 'VM.Config.HWType', 'VM.Config.Options', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Network', 'Mapping.Use'],
    });
    const root = new ProxmoxClient({ url: api.url, tokenId: 'root@pam!standin', secret, caPem: api.caPem });
    const c = new PveControl(api, root);
    c.server = createServer((sock) => c.serve(sock));
    await new Promise<void>((done) => c.server?.listen(0, '127.0.0.1', done));
    writeFileSync(CONTROL_PORT_FILE, `${(c.server.address() as AddressInfo).port}\n`);
    return c;
  }

  /**
   * The roles as install.sh's `setup api` leaves them, for scenarios that run `enable` on a node without
   * running install.sh (their token's ACLs are the PveNode's own; install.test.ts proves the real ones).
   */
  rolesAsInstalled(): this {
    for (const which of ['main', 'use'] as const) this.roles.set(ROLES[which], rolePrivileges(which));
    return this;
  }

  async close(): Promise<void> {
    await this.root.close();
    await new Promise<void>((done) => (this.server ? this.server.close(() => done()) : done()));
  }

  /** one request per connection: "<argc>\\0<arg>\\0..." in, "<code>\\n<n>\\n<n stderr lines><stdout>" out */
  private serve(sock: Socket): void {
    let buf = Buffer.alloc(0);
    let handled = false;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const fields = buf.toString('utf8').split('\0');
      const argc = Number(fields[0]);
      if (handled || !(fields.length > argc + 1)) return;
      handled = true;
      const [tool = '', ...args] = fields.slice(1, argc + 1);
      this.handle(tool, args)
        .catch((e: unknown) => err(e instanceof Error ? e.message : String(e)))
        .then((r) => {
          const lines = r.stderr === '' ? [] : r.stderr.replace(/\n$/, '').split('\n');
          sock.end(`${r.code}\n${lines.length}\n${lines.map((l) => `${l}\n`).join('')}${r.stdout}`);
        });
    });
    sock.on('error', () => undefined);
  }

  /** /etc/pve/qemu-server/<vmid>.conf as pmxcfs shows it, with the root-only hookscript in it */
  syncConfigFile(vmid: number): void {
    const file = this.api.vmConfigFile(vmid);
    const h = this.hookscripts.get(vmid);
    const cut = file.search(/^\[/m);
    const main = cut < 0 ? file : file.slice(0, cut);
    const rest = cut < 0 ? '' : file.slice(cut);
    writeFileSync(`/etc/pve/qemu-server/${vmid}.conf`, `${main}${h ? `hookscript: ${h}\n` : ''}${rest}`);
  }

  async handle(tool: string, args: string[]): Promise<Reply> {
    if (tool === 'pveum') return this.pveum(args);
    if (tool === 'qm') return this.qm(args);
    return err(`standin: unknown tool ${tool}`);
  }

  private pveum(args: string[]): Reply {
    const { pos, opt } = parse(args);
    const json = (v: unknown) => ok(`${JSON.stringify(v)}\n`);
    const cmd = pos.slice(0, pos[0] === 'user' && pos[1] === 'token' ? 3 : 2).join(' ');
    const [a, b] = pos.slice(cmd.split(' ').length);
    switch (cmd) {
      case 'role list':
        return json([...this.roles].map(([roleid, privs]) => ({ roleid, privs: privs.join(','), special: 0 })));
      case 'role add':
        if (!a || /^PVE/i.test(a)) return err(`400 Parameter verification failed.\nroleid: cannot use role ID starting with the (case-insensitive) 'PVE' namespace`);
        if (this.roles.has(a)) return err(`create role failed: role '${a}' already exists`);
        this.roles.set(a, (opt.get('privs') ?? '').split(',').filter(Boolean));
        break;
      case 'role modify':
        if (!a || !this.roles.has(a)) return err(`update role failed: role '${a}' does not exist`);
        this.roles.set(a, (opt.get('privs') ?? '').split(',').filter(Boolean));
        break;
      case 'role delete':
        if (!a || !this.roles.delete(a)) return err(`delete role failed: role '${a}' does not exist`);
        this.drop((x) => x.role === a);
        break;
      case 'user list':
        return json([...this.users.keys()].map((userid) => ({ userid, enable: 1 })));
      case 'user add':
        if (!a || !/^[^\s@]+@pve$/.test(a)) return err(`user add: bad user id '${a}'`);
        if (this.users.has(a)) return err(`create user failed: user '${a}' already exists`);
        this.users.set(a, { tokens: new Map() });
        break;
      case 'user delete':
        if (!a || !this.users.has(a)) return err(`delete user failed: user '${a}' does not exist`);
        for (const t of this.users.get(a)?.tokens.keys() ?? []) this.api.removeToken(`${a}!${t}`);
        this.users.delete(a);
        this.drop((x) => x.id === a || x.id.startsWith(`${a}!`));
        break;
      case 'user token list':
        return json([...(this.users.get(a ?? '')?.tokens ?? new Map()).entries()].map(([tokenid, t]) => ({ tokenid, privsep: t.privsep ? 1 : 0 })));
      case 'user token add': {
        const user = this.users.get(a ?? '');
        if (!user || !b) return err(`no such user '${a}'`);
        if (user.tokens.has(b)) return err(`400 Parameter verification failed.\ntokenid: Token already exists.`);
        const secret = randomUUID();
        user.tokens.set(b, { secret, privsep: opt.get('privsep') !== '0' });
        this.sync();
        return json({ 'full-tokenid': `${a}!${b}`, info: { privsep: opt.get('privsep') !== '0' ? 1 : 0 }, value: secret });
      }
      case 'user token remove':
        if (!this.users.get(a ?? '')?.tokens.delete(b ?? '')) return err(`no such token '${b}' for user '${a}'`);
        this.api.removeToken(`${a}!${b}`);
        this.drop((x) => x.id === `${a}!${b}`);
        break;
      case 'acl list':
        // API2/ACL.pm read_acl: one row per path, kind, id and role
        return json(this.acls.map((x) => ({ path: x.path, type: x.kind, ugid: x.id, roleid: x.role, propagate: 1 })));
      case 'acl modify':
      case 'acl delete': {
        const role = opt.get('roles') ?? '';
        if (!a || !this.roles.has(role)) return err(`acl: role '${role}' does not exist`);
        const targets = [...(opt.get('users') ?? '').split(',').filter(Boolean).map((id) => ({ kind: 'user' as const, id })), ...(opt.get('tokens') ?? '').split(',').filter(Boolean).map((id) => ({ kind: 'token' as const, id }))];
        for (const t of targets) {
          this.drop((x) => x.path === a && x.kind === t.kind && x.id === t.id && x.role === role);
          if (cmd === 'acl modify') this.acls.push({ path: a, role, ...t });
        }
        break;
      }
      default:
        return err(`pveum stand-in: unsupported command: pveum ${args.join(' ')}`);
    }
    this.sync();
    return ok();
  }

  private drop(match: (a: Acl) => boolean): void {
    for (let i = this.acls.length - 1; i >= 0; i--) if (match(this.acls[i] as Acl)) this.acls.splice(i, 1);
  }

  /** privileges of a user or token on `path`, from ACLs on the path and its parents */
  private privs(kind: Acl['kind'], id: string, path: string): Set<string> {
    const out = new Set<string>();
    for (const x of this.acls) if (x.kind === kind && x.id === id && under(path, x.path)) for (const p of this.roles.get(x.role) ?? []) out.add(p);
    return out;
  }

  /** hand every token's effective privileges to the fake API (privsep: token's ∩ user's) */
  private sync(): void {
    for (const [userid, user] of this.users) {
      for (const [name, t] of user.tokens) {
        const id = `${userid}!${name}`;
        const paths = new Set(this.acls.filter((x) => (t.privsep ? x.kind === 'token' && x.id === id : x.kind === 'user' && x.id === userid)).map((x) => x.path));
        const acl: Record<string, string[]> = {};
        for (const p of paths) {
          const own = t.privsep ? this.privs('token', id, p) : this.privs('user', userid, p);
          const user = this.privs('user', userid, p);
          acl[p] = [...own].filter((x) => user.has(x));
        }
        this.api.addToken(id, t.secret, acl);
      }
    }
  }

  private async qm(args: string[]): Promise<Reply> {
    const [cmd, vmidArg, ...rest] = args;
    const vmid = Number(vmidArg);
    if (!Number.isInteger(vmid) || vmid < 100) return err(`qm: bad vmid '${vmidArg}'`, 2);
    if (cmd === 'config') {
      const conf: Record<string, string> = Object.fromEntries(Object.entries(this.api.vmEffectiveConfig(vmid)).map(([k, v]) => [k, String(v)]));
      const h = this.hookscripts.get(vmid);
      if (h) conf.hookscript = h;
      return ok(Object.keys(conf).sort().map((k) => `${k}: ${k === 'description' ? encodeText(conf[k] ?? '') : conf[k]}\n`).join(''));
    }
    if ((cmd === 'status' || cmd === 'suspend' || cmd === 'resume') && this.guests) return this.power(cmd, vmid, rest);
    if (cmd === 'status') {
      const running = this.api.vm(vmid).status === 'running';
      return ok(`status: ${running ? 'running' : 'stopped'}\n${running && rest.includes('--verbose') ? 'qmpstatus: running\n' : ''}`);
    }
    if (cmd === 'snapshot' || cmd === 'rollback' || cmd === 'delsnapshot') {
      const r = await qmSnapshotCommand(this.snapshotVm(vmid), cmd, rest);
      this.syncConfigFile(vmid);
      return r;
    }
    if (cmd !== 'set') return err(`qm stand-in: unsupported command: qm ${args.join(' ')}`);
    const { opt } = parse(rest);
    const del = (opt.get('delete') ?? '').split(',').filter(Boolean);
    opt.delete('delete');
    const hook = opt.get('hookscript');
    opt.delete('hookscript');
    if (hook !== undefined) {
      if (!/^[a-z][a-z0-9_-]*:snippets\/[^/]+$/i.test(hook)) return err(`400 Parameter verification failed.\nhookscript: invalid format`);
      this.hookscripts.set(vmid, hook);
    }
    if (del.includes('hookscript')) this.hookscripts.delete(vmid);
    const otherDel = del.filter((k) => k !== 'hookscript');
    if (opt.size > 0 || otherDel.length > 0) await this.root.updateVmConfig(NODE, vmid, Object.fromEntries(opt), { delete: otherDel });
    this.syncConfigFile(vmid);
    return ok();
  }

  /** one VM as the snapshot commands see it: the fake API's config and sections, and the root-only hookscript */
  private snapshotVm(vmid: number): SnapshotVmState {
    return {
      vmid,
      config: () => {
        const h = this.hookscripts.get(vmid);
        return { ...this.api.vmConfig(vmid), ...(h ? { hookscript: h } : {}) };
      },
      running: () => this.api.vm(vmid).status === 'running',
      snapshots: () => this.api.vmSnapshots(vmid),
      setSnapshot: (name, conf) => this.api.setVmSnapshot(vmid, name, conf),
      setConfig: (conf) => {
        const { hookscript, ...rest } = conf;
        if (hookscript === undefined) this.hookscripts.delete(vmid);
        else this.hookscripts.set(vmid, String(hookscript));
        this.api.replaceVmConfig(vmid, rest);
      },
      setParent: (name) => (name === undefined ? this.api.deleteVmOption(vmid, 'parent') : this.api.setVmOption(vmid, 'parent', name)),
      start: this.start,
    };
  }

  /** qm status/suspend/resume (qemu-server PVE/CLI/qm.pm, API status/suspend, status/resume) */
  private async power(cmd: 'status' | 'suspend' | 'resume', vmid: number, rest: string[]): Promise<Reply> {
    const guests = this.guests as GuestPower;
    const qmp = await guests.qmpStatus(vmid);
    const locked = this.api.vmConfig(vmid).lock;
    if (cmd === 'status') return ok(`status: ${qmp === undefined ? 'stopped' : 'running'}\n${rest.includes('--verbose') && qmp ? `qmpstatus: ${qmp}\n` : ''}`);
    if (qmp === undefined) return err(`VM ${vmid} not running`);
    // check_lock: a config lock (vzdump's `lock: backup`) refuses unless --skiplock (root only)
    if (locked !== undefined && !rest.includes('--skiplock')) return err(`VM is locked (${String(locked)})`);
    if (cmd === 'suspend') await guests.suspend(vmid);
    else await guests.resume(vmid);
    return ok();
  }
}
