/**
 * Storage snapshots of a volume, through Proxmox's own storage library (like pve-lib.ts: a fixed Perl
 * program run as root with execa, no shell; volume id and snapshot name are arguments). What qemu-server
 * calls for a VM's disks when it snapshots the VM (pve-storage src/PVE/Storage.pm):
 *   feature   volume_has_feature($cfg, 'snapshot', $volid, undef, $running): the plugin's own answer
 *             (LVM-thin, ZFS, RBD, qcow2 on a directory: yes; thick LVM, raw on a directory: no)
 *   snapshot  volume_snapshot (LVM-thin `lvcreate -s` as snap_<vol>_<name>, `zfs snapshot`, `rbd snap create`)
 *   rollback  volume_snapshot_rollback (it asks volume_rollback_is_possible first: ZFS refuses when a
 *             newer snapshot exists; LVM-thin removes the volume and recreates it from the snapshot)
 *   delete    volume_snapshot_delete($cfg, $volid, $snap, $running)
 *   list      volume_snapshot_info where the storage's plugin defines it itself (ZFS); "unlisted" otherwise:
 *             LvmThinPlugin inherits LVMPlugin's (which knows only qcow2 volume chains and answers {} for
 *             thin snapshots), RBDPlugin Plugin.pm's (qemu-img on a file path), older PVE has none
 */
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';
import { PERL, PVE_LIB_TIMEOUT_MS } from './pve-lib.js';

const PROGRAM = String.raw`
use strict;
use warnings;
use PVE::Storage;
$| = 1;
my ($op, $volid, $snap, $running) = @ARGV;
die "usage: feature|snapshot|rollback|delete|list <volid> [<snap> [<running>]]\n"
    if !defined($volid) || $op !~ m/^(?:feature|snapshot|rollback|delete|list)$/;
die "a snapshot name is needed\n" if $op =~ m/^(?:snapshot|rollback|delete)$/ && !defined($snap);
my $cfg = PVE::Storage::config();
my ($storeid) = PVE::Storage::parse_volume_id($volid);
my $scfg = PVE::Storage::storage_check_enabled($cfg, $storeid);
print "PVUG\ttype\t$scfg->{type}\n";
if ($op eq 'feature') {
    my $yes = PVE::Storage::volume_has_feature($cfg, 'snapshot', $volid, undef, $running ? 1 : 0);
    print "PVUG\tsnapshot\t", ($yes ? 1 : 0), "\n";
} elsif ($op eq 'snapshot') {
    PVE::Storage::volume_snapshot($cfg, $volid, $snap);
} elsif ($op eq 'rollback') {
    PVE::Storage::volume_snapshot_rollback($cfg, $volid, $snap);
} elsif ($op eq 'delete') {
    PVE::Storage::volume_snapshot_delete($cfg, $volid, $snap, $running ? 1 : 0);
} else {
    # only a plugin's own volume_snapshot_info knows its snapshots (ZFSPoolPlugin): LvmThinPlugin inherits
    # LVMPlugin's, which answers {} without snapshot-as-volume-chain; RBDPlugin inherits Plugin.pm's
    my $plugin = PVE::Storage::Plugin->lookup($scfg->{type});
    my $own = do { no strict 'refs'; defined(&{$plugin . '::volume_snapshot_info'}) };
    my $info = $own ? eval { PVE::Storage::volume_snapshot_info($cfg, $volid) } : undef;
    if (ref($info) ne 'HASH') {
        print "PVUG\tunlisted\n";
    } else {
        for my $name (sort keys %$info) {
            print "PVUG\tsnap\t$name\n" if $name ne 'current';
        }
    }
}
print "PVUG\tdone\n";
`;

export type SnapshotOp = 'feature' | 'snapshot' | 'rollback' | 'delete' | 'list';

export interface PveSnapshotAnswer {
  type?: string;
  /** feature: the plugin's answer */
  snapshot?: boolean;
  /** list: the volume's snapshots, or undefined when the storage cannot list them */
  snapshots?: string[];
  done: boolean;
}

export function parsePveSnapshotOutput(stdout: string): PveSnapshotAnswer {
  const out: PveSnapshotAnswer = { done: false };
  let unlisted = false;
  const snaps: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^PVUG\t([a-z]+)(?:\t(.*))?$/.exec(line.replace(/\r$/, ''));
    if (!m) continue;
    const [, key, value = ''] = m;
    if (key === 'type') out.type = value;
    else if (key === 'snapshot') out.snapshot = value === '1';
    else if (key === 'snap') snaps.push(value);
    else if (key === 'unlisted') unlisted = true;
    else if (key === 'done') out.done = true;
  }
  if (!unlisted) out.snapshots = snaps;
  return out;
}

export function pveSnapshotArgs(op: SnapshotOp, volid: string, snap?: string, running?: boolean): string[] {
  const rest = op === 'feature' ? ['', running ? '1' : '0'] : op === 'list' ? [] : [snap ?? '', running ? '1' : '0'];
  return ['-e', PROGRAM, '--', op, volid, ...rest];
}

const WHAT: Record<SnapshotOp, string> = {
  feature: 'ask whether Proxmox can snapshot volume',
  snapshot: 'take a storage snapshot of volume',
  rollback: 'roll back volume',
  delete: 'delete the storage snapshot of volume',
  list: 'list the storage snapshots of volume',
};

/** One call of the program; a failure is a CommandError naming the volume, the snapshot and Proxmox's words. */
export async function runPveSnapshot(exec: Exec, op: SnapshotOp, volid: string, snap?: string, running?: boolean): Promise<PveSnapshotAnswer> {
  const r = await exec(PERL, pveSnapshotArgs(op, volid, snap, running), { timeoutMs: PVE_LIB_TIMEOUT_MS });
  const a = r.exitCode === 0 ? parsePveSnapshotOutput(r.stdout) : undefined;
  if (!a?.done) {
    const said = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
    const missingLib = /Can't locate PVE\/Storage\.pm/.test(r.stderr);
    throw new CommandError(`could not ${WHAT[op]} ${volid}${snap && op !== 'feature' ? ` (snapshot ${snap})` : ''}${said ? `: ${said}` : ` (perl exit ${r.exitCode})`}`, {
      fix: missingLib ? 'volume ids need a Proxmox VE node (PVE::Storage)' : `check the storage on this node: pvesm status; pvesm list ${volid.split(':')[0]}`,
    });
  }
  return a;
}

/** The SnapshotDeps.volumes port (snapshot/deps.ts VolumeSnapshots) on a Proxmox node. */
export function pveVolumeSnapshots(exec: Exec) {
  return {
    async capability(volid: string, running: boolean): Promise<{ type: string; snapshot: boolean }> {
      const a = await runPveSnapshot(exec, 'feature', volid, undefined, running);
      return { type: a.type ?? '?', snapshot: a.snapshot === true };
    },
    snapshot: async (volid: string, snap: string): Promise<void> => void (await runPveSnapshot(exec, 'snapshot', volid, snap)),
    rollback: async (volid: string, snap: string): Promise<void> => void (await runPveSnapshot(exec, 'rollback', volid, snap)),
    remove: async (volid: string, snap: string, running: boolean): Promise<void> => void (await runPveSnapshot(exec, 'delete', volid, snap, running)),
    list: async (volid: string): Promise<string[] | undefined> => (await runPveSnapshot(exec, 'list', volid)).snapshots,
  };
}
