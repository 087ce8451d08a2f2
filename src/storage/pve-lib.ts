/**
 * Activating a volume the way Proxmox activates a VM's disks at start: through its own storage library.
 * `pvesm` has no activate command and the API has no endpoint for it (pve-storage PVE/API2/Storage/*),
 * but every node has PVE::Storage, whose activate_volumes / path / map_volume / deactivate_volumes are
 * what qemu-server (vm_start, vm_stop_cleanup) and pve-container call. So the hook runs a fixed Perl
 * program as root with execa (no shell); the volume id is an argument, never part of the program.
 *
 * - LVM: activate_volumes runs `lvchange -aey` (and --refresh); deactivate `lvchange -aln`.
 * - LVM-thin: `lvchange -ay -K`; deactivation keeps it active (Proxmox keeps thin volumes active).
 * - ZFS: waits for the /dev/zvol link; nothing to deactivate.
 * - dir/NFS/CIFS/CephFS/BTRFS: mounts the storage if needed; the path is the image file.
 * - RBD: map_volume maps it with the kernel client (`rbd map`, whatever the storage's krbd setting:
 *   what containers use) and returns /dev/rbd-pve/<fsid>/<pool>/<image>. PVE also adjusts the image
 *   features the kernel client needs. Unmapping is done through sysfs (rbd-sysfs.ts).
 * The program checks the format once more (parse_volname) and refuses anything but raw before it
 * activates: the TypeScript checks mirror Proxmox's grammar, this makes Proxmox's own word final.
 */
import { CommandError } from '../errors.js';
import type { Exec } from '../ports/exec.js';

export const PERL = '/usr/bin/perl';
/** activation may mount NFS or talk to Ceph monitors */
export const PVE_LIB_TIMEOUT_MS = 120_000;

const PROGRAM = String.raw`
use strict;
use warnings;
use PVE::Storage;
$| = 1;
my ($op, $volid) = @ARGV;
die "usage: activate|deactivate <volid>\n" if !defined($volid) || $op !~ m/^(?:activate|deactivate)$/;
my $cfg = PVE::Storage::config();
my ($storeid) = PVE::Storage::parse_volume_id($volid);
my $scfg = PVE::Storage::storage_check_enabled($cfg, $storeid);
my (undef, undef, undef, undef, undef, undef, $format) = PVE::Storage::parse_volname($cfg, $volid);
print "PVUG\ttype\t$scfg->{type}\n";
print "PVUG\tformat\t$format\n";
if ($op eq 'activate') {
    die "volume $volid is $format, only raw volumes can back a USB stick\n" if $format ne 'raw';
    my $path;
    if ($scfg->{type} eq 'rbd') {
        $path = PVE::Storage::map_volume($cfg, $volid);
    } else {
        PVE::Storage::activate_volumes($cfg, [$volid]);
        $path = PVE::Storage::path($cfg, $volid);
    }
    print "PVUG\tpath\t$path\n";
} else {
    PVE::Storage::deactivate_volumes($cfg, [$volid]);
    print "PVUG\tdeactivated\n";
}
`;

export interface PveLibAnswer {
  /** storage type as PVE::Storage sees it */
  type?: string;
  format?: string;
  /** activate: what PVE::Storage::path / map_volume returned */
  path?: string;
  deactivated: boolean;
}

/** The `PVUG<TAB>key<TAB>value` lines of the program; anything else (PVE's own chatter) is ignored. */
export function parsePveLibOutput(stdout: string): PveLibAnswer {
  const out: PveLibAnswer = { deactivated: false };
  for (const line of stdout.split('\n')) {
    const m = /^PVUG\t([a-z]+)(?:\t(.*))?$/.exec(line.replace(/\r$/, ''));
    if (!m) continue;
    const [, key, value = ''] = m;
    if (key === 'type') out.type = value;
    else if (key === 'format') out.format = value;
    else if (key === 'path') out.path = value;
    else if (key === 'deactivated') out.deactivated = true;
  }
  return out;
}

export function pveLibArgs(op: 'activate' | 'deactivate', volid: string): string[] {
  // "--": perl would take a following "-..." word as its own switch
  return ['-e', PROGRAM, '--', op, volid];
}

async function runPveLib(exec: Exec, op: 'activate' | 'deactivate', volid: string): Promise<PveLibAnswer> {
  const r = await exec(PERL, pveLibArgs(op, volid), { timeoutMs: PVE_LIB_TIMEOUT_MS });
  if (r.exitCode !== 0) {
    const said = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
    const missingLib = /Can't locate PVE\/Storage\.pm/.test(r.stderr);
    throw new CommandError(`could not ${op} volume ${volid}${said ? `: ${said}` : ` (perl exit ${r.exitCode})`}`, {
      fix: missingLib
        ? 'volume ids need a Proxmox VE node (PVE::Storage); use an absolute image path elsewhere'
        : op === 'activate'
          ? `check the storage and volume on this node: pvesm status; pvesm list ${volid.split(':')[0]}`
          : `retry with pve-usb-gadget down <vmid>, or deactivate it by hand`,
    });
  }
  return parsePveLibOutput(r.stdout);
}

/** Activates (or for RBD maps) the volume and returns the path PVE::Storage gives for it. */
export async function activateVolume(exec: Exec, volid: string): Promise<{ path: string; type?: string; format?: string }> {
  const a = await runPveLib(exec, 'activate', volid);
  if (!a.path) throw new CommandError(`activating volume ${volid} gave no path`, { fix: 'run pvesm path ' + volid + ' to see what Proxmox says' });
  return { path: a.path, type: a.type, format: a.format };
}

/** PVE::Storage::deactivate_volumes (LVM: lvchange -aln; RBD: unmap; most others: nothing). */
export async function deactivateVolume(exec: Exec, volid: string): Promise<void> {
  await runPveLib(exec, 'deactivate', volid);
}
