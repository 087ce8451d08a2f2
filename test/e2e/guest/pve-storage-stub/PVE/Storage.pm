package PVE::Storage;

# A stand-in for Proxmox's PVE::Storage, for tests only: just the calls src/storage/pve-lib.ts makes
# (config, parse_volume_id, storage_check_enabled, parse_volname, activate_volumes, path, map_volume,
# deactivate_volumes), for `dir` and `lvm` storages, in plain perl-base. Put its folder on PERL5LIB.
#
# An `lvm` volume is a backing file $PVUG_STUB_LVM_DIR/<vg>/<lv>.img; with PVUG_STUB_LOOP=1, activation
# attaches it to a loop device and links /dev/<vg>/<lv> to it, as LVM links /dev/<vg>/<lv> to
# /dev/dm-N; deactivation undoes both. Every call is appended to $PVUG_STUB_LOG (tab-separated).

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
    if ($scfg->{type} eq 'lvm') {
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
    return "/dev/$scfg->{vgname}/$name" if $scfg->{type} eq 'lvm';
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
        if ($scfg->{type} eq 'lvm') {
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
        next if $scfg->{type} ne 'lvm';
        my $path = path($cfg, $volid);
        next if !-l $path;
        my $loop = readlink($path);
        unlink($path);
        _run('losetup', '-d', $loop) if $ENV{PVUG_STUB_LOOP};
    }
}

sub map_volume {
    my ($cfg, $volid) = @_;
    _log('map', $volid);
    die "stub: no Ceph cluster here\n";
}

1;
