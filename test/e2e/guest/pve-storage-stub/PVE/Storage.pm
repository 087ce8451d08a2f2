package PVE::Storage;

# A stand-in for Proxmox's PVE::Storage, for tests only: just the calls src/storage/pve-lib.ts makes
# (config, parse_volume_id, storage_check_enabled, parse_volname, activate_volumes, path, map_volume,
# deactivate_volumes; src/storage/pve-snapshot.ts: volume_has_feature, volume_snapshot,
# volume_snapshot_rollback, volume_snapshot_delete, Plugin->lookup), for `dir`, `lvm` and
# `lvmthin` storages, in plain perl-base. Put its folder on PERL5LIB.
#
# An `lvm` volume is a backing file $PVUG_STUB_LVM_DIR/<vg>/<lv>.img; with PVUG_STUB_LOOP=1, activation
# attaches it to a loop device and links /dev/<vg>/<lv> to it, as LVM links /dev/<vg>/<lv> to
# /dev/dm-N; deactivation undoes both. An `lvmthin` volume is the same (vgname is its VG), and can be
# snapshotted: see the snapshot section below. Every call is appended to $PVUG_STUB_LOG (tab-separated).

use strict;
use warnings;

sub _log {
    my $file = $ENV{PVUG_STUB_LOG} or return;
    open(my $fh, '>>', $file) or die "stub: cannot write $file: $!\n";
    print $fh join("\t", @_), "\n";
    close($fh);
}

sub _run {
    my @cmd = @_;
    my $out = `@cmd 2>&1`;
    die "stub: '@cmd' failed: $out" if $? != 0;
    chomp($out);
    return $out;
}

sub config {
    my $file = $ENV{PVUG_STUB_STORAGE_CFG} // '/etc/pve/storage.cfg';
    my $ids = {};
    my $current;
    open(my $fh, '<', $file) or die "stub: cannot read $file: $!\n";
    while (my $line = <$fh>) {
        chomp($line);
        if ($line =~ m/^(\S+):\s*(\S+)\s*$/) {
            $current = $ids->{$2} = { type => $1 };
        } elsif ($current && $line =~ m/^\s+(\S+)(?:\s+(.*\S))?\s*$/) {
            $current->{$1} = $2 // 1;
        } elsif ($line eq '') {
            undef $current;
        }
    }
    close($fh);
    return { ids => $ids };
}

sub parse_volume_id {
    my ($volid) = @_;
    die "unable to parse volume ID '$volid'\n" if $volid !~ m/^([a-z][a-z0-9\-\_\.]*[a-z0-9]):(.+)$/i;
    return ($1, $2);
}

sub storage_check_enabled {
    my ($cfg, $sid) = @_;
    my $scfg = $cfg->{ids}->{$sid} or die "storage '$sid' does not exist\n";
    die "storage '$sid' is disabled\n" if $scfg->{disable};
    return $scfg;
}

sub parse_volname {
    my ($cfg, $volid) = @_;
    my ($sid, $volname) = parse_volume_id($volid);
    my $scfg = storage_check_enabled($cfg, $sid);
    if ($scfg->{type} eq 'dir') {
        return ('images', $2, $1, undef, undef, undef, $3) if $volname =~ m!^(\d+)/(\S+\.(raw|qcow2|vmdk))$!;
        return ('iso', $1, undef, undef, undef, undef, 'raw') if $volname =~ m!^iso/([^/]+\.(?:iso|img))$!i;
        die "unable to parse directory volume name '$volname'\n";
    }
    if ($scfg->{type} eq 'lvm' || $scfg->{type} eq 'lvmthin') {
        return ('images', $1, $2, undef, undef, undef, ($volname =~ m/\.qcow2$/ ? 'qcow2' : 'raw'))
            if $volname =~ m/^(vm-(\d+)-\S+)$/;
        die "unable to parse lvm volume name '$volname'\n";
    }
    if ($scfg->{type} eq 'rbd') {
        return ('images', $1, $2, undef, undef, undef, 'raw') if $volname =~ m/^((?:base|vm)?-(\d+)-\S+)$/;
        die "unable to parse rbd volume name '$volname'\n";
    }
    die "stub: storage type '$scfg->{type}' is not simulated\n";
}

sub path {
    my ($cfg, $volid) = @_;
    my ($sid, $volname) = parse_volume_id($volid);
    my $scfg = storage_check_enabled($cfg, $sid);
    my ($vtype, $name, $vmid) = parse_volname($cfg, $volid);
    return "/dev/$scfg->{vgname}/$name" if _lvm_like($scfg);
    return "$scfg->{path}/template/iso/$name" if $vtype eq 'iso';
    return "$scfg->{path}/images/$vmid/$name";
}

sub activate_volumes {
    my ($cfg, $vollist) = @_;
    for my $volid (@$vollist) {
        _log('activate', $volid);
        my ($sid) = parse_volume_id($volid);
        my $scfg = storage_check_enabled($cfg, $sid);
        my $path = path($cfg, $volid);
        if (_lvm_like($scfg)) {
            next if -b $path || !$ENV{PVUG_STUB_LOOP};
            my (undef, $name) = parse_volname($cfg, $volid);
            my $backing = "$ENV{PVUG_STUB_LVM_DIR}/$scfg->{vgname}/$name.img";
            die "volume '$volid' does not exist\n" if !-f $backing;
            my $loop = _run('losetup', '--find', '--show', $backing);
            mkdir("/dev/$scfg->{vgname}");
            symlink($loop, $path) or die "stub: cannot link $path: $!\n";
        } else {
            die "volume '$volid' does not exist\n" if !-e $path;
        }
    }
}

sub deactivate_volumes {
    my ($cfg, $vollist) = @_;
    for my $volid (@$vollist) {
        _log('deactivate', $volid);
        my ($sid) = parse_volume_id($volid);
        my $scfg = storage_check_enabled($cfg, $sid);
        # (LvmThinPlugin deactivate_volume keeps thin volumes active; the stub detaches them all the
        # same, so a test leaves no loop device behind)
        next if !_lvm_like($scfg);
        _detach(path($cfg, $volid));
    }
}

sub _lvm_like {
    my ($scfg) = @_;
    return $scfg->{type} eq 'lvm' || $scfg->{type} eq 'lvmthin';
}

sub _detach {
    my ($path) = @_;
    return if !-l $path;
    my $loop = readlink($path);
    unlink($path);
    _run('losetup', '-d', $loop) if $ENV{PVUG_STUB_LOOP};
}

# Snapshots, as pve-storage's plugins answer and do them (src/PVE/Storage/LvmThinPlugin.pm, LVMPlugin.pm,
# Plugin.pm). Only `lvmthin` can snapshot a raw volume (LvmThinPlugin volume_has_feature: snapshot
# => { current => 1 }); thick `lvm` and `dir` only qcow2 (LVMPlugin / Plugin volume_has_feature), never
# a raw stick. An lvmthin snapshot is the LV snap_<volname>_<snap> (LvmThinPlugin volume_snapshot:
# lvcreate -n snap_<vol>_<snap> -pr -s <vg>/<vol>); the stub copies the backing file to
# <vg>/snap_<name>_<snap>.img. Rollback (LvmThinPlugin volume_snapshot_rollback: lvremove -f the volume,
# then lvcreate -s from the snapshot under the volume's name) removes the volume, active or not (the
# stub detaches its loop device: the old device is gone), and recreates it from a copy of the
# snapshot, inactive; delete (volume_snapshot_delete: lvremove -f snap_<vol>_<snap>) removes the copy.

sub _snap_files {
    my ($cfg, $volid, $snap) = @_;
    my ($sid) = parse_volume_id($volid);
    my $scfg = storage_check_enabled($cfg, $sid);
    my (undef, $name) = parse_volname($cfg, $volid);
    die "stub: no snapshots on storage type '$scfg->{type}'\n" if $scfg->{type} ne 'lvmthin';
    my $dir = "$ENV{PVUG_STUB_LVM_DIR}/$scfg->{vgname}";
    die "volume '$volid' does not exist\n" if !-f "$dir/$name.img";
    return ($scfg, "$dir/$name.img", defined($snap) ? "$dir/snap_${name}_$snap.img" : undef);
}

sub volume_has_feature {
    my ($cfg, $feature, $volid, $snap, $running) = @_;
    _log('has_feature', $feature, $volid, $running ? 1 : 0);
    my ($sid) = parse_volume_id($volid);
    my $scfg = storage_check_enabled($cfg, $sid);
    my (undef, undef, undef, undef, undef, undef, $format) = parse_volname($cfg, $volid);
    return undef if $feature ne 'snapshot' || defined($snap);
    return 1 if $scfg->{type} eq 'lvmthin';
    return $format eq 'qcow2' ? 1 : undef;
}

sub volume_snapshot {
    my ($cfg, $volid, $snap) = @_;
    _log('snapshot', $volid, $snap);
    my (undef, $file, $snapfile) = _snap_files($cfg, $volid, $snap);
    die "lvcreate snapshot error: snapshot '$snap' of '$volid' already exists\n" if -e $snapfile;
    _run('cp', '--sparse=always', $file, $snapfile);
}

sub volume_snapshot_rollback {
    my ($cfg, $volid, $snap) = @_;
    _log('rollback', $volid, $snap);
    my ($scfg, $file, $snapfile) = _snap_files($cfg, $volid, $snap);
    die "lvm rollback error: no snapshot '$snap' of '$volid'\n" if !-f $snapfile;
    _detach(path($cfg, $volid));
    _run('cp', '--sparse=always', $snapfile, "$file.rollback");
    rename("$file.rollback", $file) or die "stub: cannot rename over $file: $!\n";
}

sub volume_snapshot_delete {
    my ($cfg, $volid, $snap, $running) = @_;
    _log('snapshot_delete', $volid, $snap, $running ? 1 : 0);
    my (undef, undef, $snapfile) = _snap_files($cfg, $volid, $snap);
    die "lvremove snapshot error: no snapshot '$snap' of '$volid'\n" if !-f $snapfile;
    unlink($snapfile) or die "stub: cannot remove $snapfile: $!\n";
}


sub map_volume {
    my ($cfg, $volid) = @_;
    _log('map', $volid);
    die "stub: no Ceph cluster here\n";
}

# PVE::Storage::Plugin->lookup gives the plugin class of a storage type; pve-snapshot.ts asks whether
# that class defines volume_snapshot_info itself. None of the stub's types do (LvmThinPlugin inherits
# LVMPlugin's, DirPlugin Plugin.pm's), so their snapshots are "unlisted", as on a real node.
package PVE::Storage::Plugin;

my %CLASSES = (dir => 'DirPlugin', lvm => 'LVMPlugin', lvmthin => 'LvmThinPlugin', rbd => 'RBDPlugin', zfspool => 'ZFSPoolPlugin');

sub lookup {
    my ($class, $type) = @_;
    my $name = $CLASSES{$type} or die "unknown section type '$type'\n";
    return "PVE::Storage::$name";
}

1;
