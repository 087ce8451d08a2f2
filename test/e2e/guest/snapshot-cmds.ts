/**
 * The test VM's `qm snapshot | rollback | delsnapshot`, on the fake API's config and its `[name]`
 * sections, doing what qemu-server does to the config file, with its checks in its order and its
 * messages (the VMs of the tests have no disks, so no volume is snapshotted):
 *  - the name: pve-common src/PVE/JSONSchema.pm 'pve-snapshot-name' (format pve-configid =
 *    /^[a-z][a-z0-9_-]+$/i, maxLength 40), checked by the CLI's schema before anything else;
 *  - snapshot: qemu-server src/PVE/API2/Qemu.pm 'snapshot' ('current', 'pending' reserved), then
 *    pve-guest-common src/PVE/AbstractConfig.pm __snapshot_prepare (template, check_lock, "already
 *    used", parent cycle cleanup, __snapshot_copy_config, snaptime, description = the comment,
 *    vmstate only when running) and __snapshot_commit (`parent:` of the config = the new snapshot);
 *  - rollback: AbstractConfig snapshot_rollback ("does not exist", template, incomplete snapstate,
 *    check_lock; a running VM is stopped first by qemu-server, which these tests do not model: refused
 *    loudly), __snapshot_apply_config (the snapshot's options, the current description and unusedN
 *    kept, [PENDING] gone), `parent:`, and with a vmstate the VM started (QemuConfig
 *    __snapshot_rollback_vm_start);
 *  - delsnapshot: AbstractConfig snapshot_delete ("does not exist", set_lock's check_lock, template,
 *    parent links moved to the deleted one's parent, the section removed); --force only skips what
 *    these VMs do not have (replication, disk snapshots).
 */
import type { ConfigValue } from '../../fake-pve/cluster.js';

export interface SnapshotReply {
  code: number;
  stdout: string;
  stderr: string;
}

type Conf = Record<string, ConfigValue>;

export interface SnapshotVmState {
  vmid: number;
  /** the current config (hookscript included) */
  config(): Conf;
  running(): boolean;
  snapshots(): Record<string, Conf>;
  setSnapshot(name: string, conf: Conf | undefined): void;
  /** replace the current config (hookscript included), pending dropped: what a rollback writes */
  setConfig(conf: Conf): void;
  /** set or remove `parent:` of the current config, [PENDING] kept */
  setParent(name: string | undefined): void;
  start?: (vmid: number) => Promise<void>;
}

const ok = (stdout = ''): SnapshotReply => ({ code: 0, stdout, stderr: '' });
const die = (msg: string): SnapshotReply => ({ code: 255, stdout: '', stderr: `${msg}\n` });

/** AbstractConfig __snapshot_copy_config: every key but these */
const NOT_COPIED = new Set(['snapshots', 'snapstate', 'snaptime', 'vmstate', 'lock', 'digest', 'description']);
const copyConfig = (from: Conf): Conf => Object.fromEntries(Object.entries(from).filter(([k]) => !NOT_COPIED.has(k) && !/^unused\d+$/.test(k)));

function options(args: readonly string[]): { name: string; opt: Map<string, string> } {
  const opt = new Map<string, string>();
  let name = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--')) opt.set(a.slice(2), args[++i] ?? '');
    else if (!name) name = a;
  }
  return { name, opt };
}

const truthy = (v: string | undefined) => v !== undefined && /^(?:1|yes|on|true)$/i.test(v);

export async function qmSnapshotCommand(vm: SnapshotVmState, cmd: 'snapshot' | 'rollback' | 'delsnapshot', args: readonly string[]): Promise<SnapshotReply> {
  const { name, opt } = options(args);
  if (name.length > 40) return die('400 Parameter verification failed.\nsnapname: value may only be 40 characters long');
  if (!/^[a-z][a-z0-9_-]+$/i.test(name)) return die(`400 Parameter verification failed.\nsnapname: invalid format - invalid configuration ID '${name}'`);
  const conf = vm.config();
  const snaps = vm.snapshots();
  if (cmd === 'snapshot') {
    if (name === 'current') return die("unable to use snapshot name 'current' (reserved name)");
    if (name.toLowerCase() === 'pending') return die("unable to use snapshot name 'pending' (reserved name)");
    if (conf.template !== undefined && String(conf.template) === '1') return die("you can't take a snapshot if it's a template");
    if (conf.lock !== undefined) return die(`VM is locked (${conf.lock})`);
    if (snaps[name]) return die(`snapshot name '${name}' already used`);
    let warn = '';
    for (const [other, s] of Object.entries(snaps)) {
      if (s.parent !== name) continue;
      warn += `deleting parent '${name}' reference from '${other}' to avoid bogus snapshot cycle.\n`;
      const { parent: _gone, ...rest } = s;
      vm.setSnapshot(other, rest);
    }
    const snap: Conf = { ...copyConfig(conf), snaptime: Math.floor(Date.now() / 1000) };
    const comment = opt.get('description');
    if (comment) snap.description = comment;
    if (truthy(opt.get('vmstate')) && vm.running()) snap.vmstate = `local:${vm.vmid}/vm-${vm.vmid}-state-${name}.raw`;
    vm.setSnapshot(name, snap);
    vm.setParent(name);
    return { ...ok(), stderr: warn };
  }
  const snap = snaps[name];
  if (!snap) return die(`snapshot '${name}' does not exist`);
  if (cmd === 'rollback') {
    if (conf.template !== undefined && String(conf.template) === '1') return die("you can't rollback if vm is a template");
    if (snap.snapstate !== undefined) return die(`unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`);
    if (conf.lock !== undefined) return die(`VM is locked (${conf.lock})`);
    if (vm.running()) return die('qm stand-in: rolling back a running VM (qemu-server stops it first) is not modelled');
    if (snap.vmstate !== undefined && !vm.start) return die('qm stand-in: no `start` to start the VM from the snapshot RAM');
    const kept = Object.fromEntries(Object.entries(conf).filter(([k]) => k === 'description' || /^unused\d+$/.test(k)));
    vm.setConfig({ ...kept, ...copyConfig(snap), parent: name });
    if (snap.vmstate !== undefined) await vm.start?.(vm.vmid);
    return ok();
  }
  if (conf.lock !== undefined) return die(`VM is locked (${conf.lock})`);
  if (conf.template !== undefined && String(conf.template) === '1') return die("you can't delete a snapshot if vm is a template");
  const newParent = snap.parent;
  const relink = (c: Conf): Conf => {
    if (c.parent !== name) return c;
    const { parent: _old, ...rest } = c;
    return newParent === undefined ? rest : { ...rest, parent: newParent };
  };
  for (const [other, s] of Object.entries(snaps)) if (other !== name && s.parent === name) vm.setSnapshot(other, relink(s));
  vm.setSnapshot(name, undefined);
  if (conf.parent === name) vm.setParent(newParent === undefined ? undefined : String(newParent));
  void opt.get('force');
  return ok();
}
