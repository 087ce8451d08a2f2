#!/usr/bin/env bash
# Provision everything the real-kernel e2e tests need, outside the repository, for one flavour of
# "Proxmox VE node" (PVUG_FLAVOUR):
#   trixie   (default, like Proxmox VE 9): Debian trixie's root, nodejs 20.19, dkms 3.2, gcc-14, the
#            6.12 kernel (modules under usr/lib/modules); the upgrade kit brings trixie-backports' 7.x;
#   bookworm (like Proxmox VE 8): Debian bookworm's root, nodejs 18.20, dkms 3.0.10, gcc-12, the 6.1
#            kernel; the upgrade kit brings Debian's 6.12 for bookworm.
# Each flavour has:
#   - its kernel, extracted (modules moved to lib/modules), with depmod run
#   - a small busybox initramfs built from test/e2e/vm/ with that kernel's modules
#   - a Debian "hypervisor root" made with debootstrap (Debian's nodejs, QEMU, ...), with that kernel's
#     headers, gcc, make and dkms (the DKMS root)
#   - the upgrade kit (a newer series' headers for apt, two kernels' dummy_hcd.c)
# plus host packages (QEMU, debootstrap, busybox-static, ...), shared.
# Each part has a stamp file holding the key it was built from; a part is rebuilt only when its key
# changes (bump the *_REV below, change a package list, or edit test/e2e/vm/init or stage2). Safe to run
# again: a fully provisioned cache costs well under a second. Host packages are checked on every run.
# The kernel is the newest of the series when first provisioned and then kept: bump KERNEL_REV for a newer one.
#
# Environment:
#   PVUG_CACHE            cache folder (default ~/.cache/pve-usb-gadget; trixie in its trixie/ folder)
#   PVUG_FLAVOUR          trixie (default, like Proxmox VE 9) or bookworm (like Proxmox VE 8)
#   PVUG_DEBIAN_MIRROR    Debian mirror (default: the one this machine's apt sources name)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "provision.sh: must run as root (debootstrap, chroot and QEMU's 9p shares need it)" >&2
  exit 1
fi

# Bump a revision to rebuild that part (and whatever is built from it) on the next run.
readonly KERNEL_REV=1
readonly INITRAMFS_REV=1
readonly ROOTFS_REV=2
readonly BENCH_GUEST_REV=2
readonly DKMS_ROOT_REV=2
readonly UPGRADE_KIT_REV=4

readonly FLAVOUR=${PVUG_FLAVOUR:-trixie}
readonly CACHE=${PVUG_CACHE:-$HOME/.cache/pve-usb-gadget}
case $FLAVOUR in
  bookworm)
    readonly SUITE=bookworm FC=$CACHE
    # The kernel package series: the newest matching package is taken when the kernel is (re)provisioned.
    readonly KERNEL_PACKAGE_RE='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' KERNEL_SERIES=6.1
    readonly NODE_RE='^v18\.20\.' NODE_WHY="Proxmox VE 8's"
    # the upgrade kit: Debian's 6.12 for bookworm (bookworm-backports, lately also -security)
    readonly UPGRADE_SUITE=bookworm-backports UPGRADE_HEADERS_RE='^linux-headers-6\.12\.[0-9]+\+deb12-amd64$'
    # its dependencies from bookworm itself (-t bookworm-backports would bring backports' systemd too)
    readonly UPGRADE_TARGET=()
    ;;
  trixie)
    readonly SUITE=trixie FC=$CACHE/trixie
    readonly KERNEL_PACKAGE_RE='^linux-image-6\.12\.[0-9]+\+deb13-amd64-unsigned$' KERNEL_SERIES=6.12
    readonly NODE_RE='^v20\.19\.' NODE_WHY="Proxmox VE 9's"
    # the newest API Debian has: trixie-backports' 7.x (only the newest stays in the index)
    readonly UPGRADE_SUITE=trixie-backports UPGRADE_HEADERS_RE='^linux-headers-7\.[0-9]+\.[0-9]+\+deb13-amd64$'
    # the way an admin installs from backports: what 7.x needs from there (a newer linux-base) comes too
    readonly UPGRADE_TARGET=(-t trixie-backports)
    ;;
  *) echo "provision.sh: PVUG_FLAVOUR must be bookworm or trixie, not '$FLAVOUR'" >&2; exit 2 ;;
esac
# The machine's own Debian mirror: the first URI of its apt sources that serves a plain suite (not
# -security), and the one that serves <suite>-security. deb822 .sources files and one-line .list files.
apt_source_uri() { # apt_source_uri security|main
  local files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
  { cat "${files[@]}" 2>/dev/null || true; } | awk -v want="$1" '
    /^[[:space:]]*#/ { next }
    /^deb[[:space:]]/ { uri = ($2 ~ /^\[/) ? $3 : $2; suite = ($2 ~ /^\[/) ? $4 : $3; pick(uri, suite); next }
    /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) pick(uri, $i) }
    function pick(u, s) { if (found) return; sec = (s ~ /-security$/); if ((want == "security") == sec) { print u; found = 1 } }'
}
MIRROR=${PVUG_DEBIAN_MIRROR:-$(apt_source_uri main)}
SECURITY_MIRROR=${PVUG_DEBIAN_SECURITY_MIRROR:-$(apt_source_uri security)}
readonly MIRROR=${MIRROR%/} SECURITY_MIRROR=${SECURITY_MIRROR%/}
readonly VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/vm" && pwd)

# dosfstools..zip: the image module (mkfs.fat, mtools, unzip, syslinux) and its tests (sfdisk, fsck.fat, zip)
readonly HOST_PACKAGES=(qemu-system-x86 qemu-utils busybox-static debootstrap cpio kmod gzip xz-utils
  dosfstools mtools unzip syslinux syslinux-common syslinux-efi syslinux-utils fdisk zip
  ovmf) # ovmf: UEFI boot of a built unRAID image (test/e2e/images.test.ts)
# Modules the initramfs loads itself (with their dependencies): 9p root, overlay, configfs.
readonly INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay configfs)
# The nested Linux guest (npm run bench, and the tests' guest shell): xHCI, usb-storage, sd, sr (cdrom)
# and vfat with the codepage and charset FAT mounts by default, with their dependencies.
readonly BENCH_GUEST_MODULES=(xhci_pci usb_storage sd_mod sr_mod vfat nls_cp437 nls_ascii)
readonly ROOTFS_PACKAGES=(
  nodejs kmod util-linux procps iproute2 qemu-system-x86 seabios dosfstools mtools e2fsprogs fdisk
  bsdutils usbutils openssl ca-certificates psmisc
  # `pve-usb-gadget image create` in the VM (test/e2e/images.test.ts): unzip, Debian's syslinux fallback
  unzip syslinux syslinux-common syslinux-utils
)

log() { printf 'provision: %s\n' "$*"; }
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }
[[ -n $MIRROR ]] || die "no Debian mirror in this machine's apt sources: set PVUG_DEBIAN_MIRROR"
[[ -n $SECURITY_MIRROR ]] || die "no Debian security mirror in this machine's apt sources: set PVUG_DEBIAN_SECURITY_MIRROR"

stamp_ok() { # stamp_ok NAME KEY: true when the part NAME was built from KEY
  [[ -f "$FC/$1.stamp" ]] && [[ "$(cat "$FC/$1.stamp")" == "$2" ]]
}
stamp_write() { printf '%s' "$2" >"$FC/$1.stamp"; }

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq || log "apt-get update reported errors (continuing with the lists it got)"
    APT_UPDATED=1
  fi
}

# Unmount everything below a directory (deepest first), so rm -rf never walks into a bind mount.
unmount_below() {
  local dir=$1 mounts
  mounts=$(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r)
  local m
  for m in $mounts; do umount -l "$m" || true; done
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$CACHE/apt.log" 2>&1
}

# Checked on every run (one dpkg-query call): a cache can outlive the packages, e.g. on a fresh machine
# with a restored home folder.
provision_host_packages() {
  local missing=() p
  mapfile -t missing < <(
    dpkg-query -W -f='${Status} ${Package}\n' "${HOST_PACKAGES[@]}" 2>/dev/null \
      | awk -v want="${HOST_PACKAGES[*]}" '$3 == "installed" { ok[$4] = 1 }
          END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!ok[w[i]]) print w[i] }'
  )
  if ((${#missing[@]})); then
    log "installing host packages: ${missing[*]}"
    for p in "${missing[@]}"; do
      apt-cache show "$p" >/dev/null 2>&1 || { apt_update_once; break; }
    done
    apt_install "${missing[@]}" || { apt_update_once; apt_install "${missing[@]}"; } \
      || { tail -n 30 "$CACHE/apt.log" >&2; die "apt-get install failed (log: $CACHE/apt.log)"; }
  fi
}

newest_kernel_package() {
  apt-cache pkgnames linux-image-$KERNEL_SERIES 2>/dev/null | grep -E "$KERNEL_PACKAGE_RE" | sort -V | tail -n 1
}

download_kernel() { # download_kernel PACKAGE DIR
  log "kernel: downloading $1"
  # apt's _apt sandbox user cannot enter root's home, where the cache usually is
  (cd "$2" && rm -f ./*.deb && apt-get download -qq -o APT::Sandbox::User=root "$1")
}

# An overlay of the flavour's root with apt sources for its suite (+ updates, security, and the suites
# given) and fresh lists: apt for another suite than the host's, without touching the cached root.
apt_overlay_open() { # apt_overlay_open NAME [SUITE...]; sets APT_ROOT
  local name=$1
  shift
  APT_WORK=$FC/$name.tmp
  unmount_below "$APT_WORK"
  rm -rf --one-file-system "$APT_WORK"
  mkdir -p "$APT_WORK"/{upper,wk,root}
  mount -t overlay overlay -o "lowerdir=$FC/rootfs,upperdir=$APT_WORK/upper,workdir=$APT_WORK/wk" "$APT_WORK/root"
  trap 'unmount_below "'"$APT_WORK"'"' EXIT
  APT_ROOT=$APT_WORK/root
  local extra
  {
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE"
    for extra in "$@"; do printf 'deb %s %s main\n' "$MIRROR" "$extra"; done
  } >"$APT_ROOT/etc/apt/sources.list.d/pvug.list"
  cp /etc/resolv.conf "$APT_ROOT/etc/resolv.conf"
  chroot "$APT_ROOT" apt-get update -q >"$FC/$name.log" 2>&1 || { tail -n 20 "$FC/$name.log" >&2; die "apt-get update in the $name root failed"; }
}
apt_overlay_close() {
  unmount_below "$APT_WORK"
  trap - EXIT
  rm -rf --one-file-system "$APT_WORK"
}

provision_kernel() {
  local key="kernel-r$KERNEL_REV $KERNEL_PACKAGE_RE"
  if stamp_ok kernel "$key" && [[ -f "$FC/kernel/version" ]]; then return; fi
  local pkg work=$FC/kernel.tmp
  rm -rf "$work" && mkdir -p "$work/deb" "$work/root"
  if [[ $SUITE == bookworm ]]; then # the host's own suite
    pkg=$(newest_kernel_package)
    # stale lists: no match, or a package the mirror has dropped since (old kernel ABIs go away)
    if [[ -z $pkg ]] || ! download_kernel "$pkg" "$work/deb"; then
      apt_update_once
      pkg=$(newest_kernel_package)
      [[ -n $pkg ]] || die "no package matching $KERNEL_PACKAGE_RE in apt's lists"
      download_kernel "$pkg" "$work/deb" || die "could not download $pkg"
    fi
  else
    apt_overlay_open kernel-apt
    pkg=$(chroot "$APT_ROOT" apt-cache pkgnames "linux-image-$KERNEL_SERIES" | grep -E "$KERNEL_PACKAGE_RE" | sort -V | tail -n 1)
    [[ -n $pkg ]] || die "no package matching $KERNEL_PACKAGE_RE in $SUITE"
    log "kernel: downloading $pkg ($SUITE)"
    mkdir -p "$APT_ROOT/tmp/deb"
    chroot "$APT_ROOT" sh -c "cd /tmp/deb && apt-get download -qq '$pkg'" >>"$FC/kernel-apt.log" 2>&1 || die "could not download $pkg"
    mv "$APT_ROOT"/tmp/deb/*.deb "$work/deb/"
    apt_overlay_close
  fi
  dpkg-deb -x "$work"/deb/*.deb "$work/root"
  # trixie's kernels keep their modules in usr/lib/modules: one layout in the cache for every flavour
  if [[ -d $work/root/usr/lib/modules && ! -e $work/root/lib/modules ]]; then
    mkdir -p "$work/root/lib" && mv "$work/root/usr/lib/modules" "$work/root/lib/modules"
  fi
  local kver
  kver=$(ls "$work/root/lib/modules")
  [[ -f "$work/root/boot/vmlinuz-$kver" ]] || die "no boot/vmlinuz-$kver in $pkg"
  log "kernel: depmod $kver"
  depmod -b "$work/root" "$kver"
  printf '%s\n' "$kver" >"$work/root/version"
  printf '%s=%s\n' "$pkg" "$(dpkg-deb -f "$work"/deb/*.deb Version)" >"$work/root/package"
  rm -rf "$work/deb"
  rm -rf "$FC/kernel"
  mv "$work/root" "$FC/kernel"
  rm -rf "$work"
  stamp_write kernel "$key"
  # the initramfs holds this kernel's modules
  rm -f "$FC/initramfs.stamp"
  log "kernel: $kver ready"
}

# copy_modules DEST MODULE...: the modules with their dependencies, resolved with the test kernel's own
# modules.dep (built-ins need nothing), decompressed, each once, into DEST; DEST/order lists them in load
# order for the initramfs to insmod.
copy_modules() {
  local dest=$1 kver mod line ko base order=()
  shift
  kver=$(cat "$FC/kernel/version")
  for mod in "$@"; do
    while read -r line; do
      case $line in
        insmod\ *)
          ko=${line#insmod }
          ko=${ko%% *}
          base=$(basename "$ko")
          base=${base%.xz}
          [[ -e "$dest/$base" ]] && continue
          case $ko in
            *.ko) cp "$ko" "$dest/$base" ;;
            *.ko.xz) xz -dc "$ko" >"$dest/$base" ;;
            *) die "unexpected module file $ko" ;;
          esac
          order+=("$base")
          ;;
        builtin\ *) ;;
        *) die "modprobe --show-depends $mod: unexpected line: $line" ;;
      esac
    done < <(modprobe -d "$FC/kernel" -S "$kver" --show-depends "$mod")
  done
  printf '%s\n' "${order[@]}" >"$dest/order"
}

provision_initramfs() {
  local kver sources key
  kver=$(cat "$FC/kernel/version")
  sources=$(cd "$VM_DIR" && sha256sum init stage2)
  key="initramfs-r$INITRAMFS_REV $kver ${INITRAMFS_MODULES[*]}
$sources"
  if stamp_ok initramfs "$key" && [[ -f "$FC/initramfs.cpio.gz" ]]; then return; fi
  log "initramfs: building for $kver"
  local work=$FC/initramfs.tmp
  rm -rf "$work" && mkdir -p "$work"/{bin,dev,proc,sys,modules,newroot,lower,rw,run}
  cp /bin/busybox "$work/bin/busybox"
  local applet
  for applet in sh mount umount mkdir insmod switch_root poweroff ip hostname cat cp sync sleep echo \
    tee grep ln rm chmod dmesg sed; do
    ln -s busybox "$work/bin/$applet"
  done
  install -m 0755 "$VM_DIR/init" "$work/init"
  install -m 0755 "$VM_DIR/stage2" "$work/stage2"
  copy_modules "$work/modules" "${INITRAMFS_MODULES[@]}"
  log "initramfs: modules $(tr '\n' ' ' <"$work/modules/order")"
  (cd "$work" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$FC/initramfs.cpio.gz.tmp"
  mv "$FC/initramfs.cpio.gz.tmp" "$FC/initramfs.cpio.gz"
  printf '%s\n' "$sources" >"$FC/initramfs.sources"
  rm -rf "$work"
  stamp_write initramfs "$key"
}

provision_rootfs() {
  local key="rootfs-r$ROOTFS_REV $SUITE $MIRROR ${ROOTFS_PACKAGES[*]}"
  if stamp_ok rootfs "$key" && [[ -d "$FC/rootfs/usr" ]]; then return; fi
  local work=$FC/rootfs.tmp
  unmount_below "$work"
  rm -rf --one-file-system "$work"
  trap 'unmount_below "'"$work"'"' EXIT
  local include
  include=$(IFS=,; echo "${ROOTFS_PACKAGES[*]}")
  log "rootfs: debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
  debootstrap --variant=minbase --include="$include" "$SUITE" "$work" "$MIRROR" >"$FC/debootstrap.log" 2>&1 \
    || { tail -n 30 "$FC/debootstrap.log" >&2; die "debootstrap failed (log: $FC/debootstrap.log)"; }
  unmount_below "$work"
  trap - EXIT
  local node_version
  node_version=$(chroot "$work" /usr/bin/node --version)
  [[ $node_version =~ $NODE_RE ]] || die "rootfs has node $node_version, want ${NODE_RE//\\/} ($NODE_WHY)"
  log "rootfs: node $node_version, trimming"
  printf 'pvug-e2e\n' >"$work/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tpvug-e2e\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$work/etc/hosts"
  mkdir -p "$work/project" "$work/results"
  rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/* \
    "$work"/usr/share/doc/* "$work"/usr/share/man/* "$work"/usr/share/info/* "$work"/usr/share/locale/*
  rm -rf --one-file-system "$FC/rootfs"
  mv "$work" "$FC/rootfs"
  stamp_write rootfs "$key"
  log "rootfs: ready ($(du -sh "$FC/rootfs" | cut -f1))"
}

# The nested Linux guest: the test kernel + a busybox initramfs with two programs: /init
# (test/e2e/vm/bench-guest-init, `npm run bench`: reads the passed-through stick with dd) and /shell-init
# (test/e2e/vm/shell-guest-init, rdinit= in the tests: runs the commands the test VM sends). In
# $FC/bench-guest/, shared into the test VM by the bench and by the scenario groups.
provision_bench_guest() {
  local kver key
  kver=$(cat "$FC/kernel/version")
  key="bench-guest-r$BENCH_GUEST_REV $kver ${BENCH_GUEST_MODULES[*]} $(cd "$VM_DIR" && sha256sum bench-guest-init shell-guest-init)"
  if stamp_ok bench-guest "$key" && [[ -f "$FC/bench-guest/initramfs.cpio.gz" ]]; then return; fi
  log "bench guest: building for $kver"
  local work=$FC/bench-guest.tmp
  rm -rf "$work" && mkdir -p "$work/root"/{bin,dev,proc,sys,tmp,modules}
  cp /bin/busybox "$work/root/bin/busybox"
  local applet
  for applet in sh mount umount insmod cat sed sleep dd sync poweroff echo stty findfs blkid ls head tail grep tr \
    seq test [ printf readlink basename wc od hexdump kill cut; do ln -s busybox "$work/root/bin/$applet"; done
  install -m 0755 "$VM_DIR/bench-guest-init" "$work/root/init"
  install -m 0755 "$VM_DIR/shell-guest-init" "$work/root/shell-init"
  copy_modules "$work/root/modules" "${BENCH_GUEST_MODULES[@]}"
  log "bench guest: modules $(tr '\n' ' ' <"$work/root/modules/order")"
  (cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$work/initramfs.cpio.gz"
  cp "$FC/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
  rm -rf "$work/root" "$FC/bench-guest"
  mv "$work" "$FC/bench-guest"
  stamp_write bench-guest "$key"
}

# extract_udc_source DEB SERIES DEST: the top-level Makefile (it says which upstream version the file is;
# pve-usb-gadget kernel-module reads it) and drivers/usb/gadget/udc/dummy_hcd.c of a linux-source-SERIES
# package, as a small kernel tree at DEST.
extract_udc_source() {
  local deb=$1 series=$2 dest=$3 tmp
  tmp=$(mktemp -d "$FC/src.XXXXXX")
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/linux-source-$series.tar.xz" | xz -dc \
    | tar -x -C "$tmp" "linux-source-$series/Makefile" "linux-source-$series/drivers/usb/gadget/udc/dummy_hcd.c" \
    || die "no dummy_hcd.c in $deb"
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/linux-source-$series" "$dest"
  rm -rf "$tmp"
}

# What install.sh needs to build dummy_hcd with DKMS inside the test VM (test/e2e/install.test.ts): the test
# kernel's headers, gcc, make and dkms installed into the hypervisor root, and dummy_hcd.c from Debian's
# linux-source of exactly the test kernel's version at /usr/src/pvug-kernel-source (a kernel tree layout
# with its top-level Makefile, for install.sh --kernel-source). Redone whenever the root or the kernel is rebuilt.
provision_dkms_root() {
  local kver kpkg version key root=$FC/rootfs
  kver=$(cat "$FC/kernel/version")
  kpkg=$(cat "$FC/kernel/package")
  version=${kpkg#*=}
  key="dkms-root-r$DKMS_ROOT_REV $kver $kpkg $(cat "$FC/rootfs.stamp")"
  local src=$root/usr/src/pvug-kernel-source/drivers/usb/gadget/udc/dummy_hcd.c
  if stamp_ok dkms-root "$key" && [[ -x $root/usr/sbin/dkms && -d $root/usr/src/linux-headers-$kver && -f $src ]]; then
    return
  fi
  log "dkms root: installing linux-headers-$kver, gcc, make, dkms into the root (a few minutes)"
  # the root's own sources list has no security suite, where the current kernel ABI lives
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" >"$root/etc/apt/sources.list.d/pvug-dkms.list"
  cp /etc/resolv.conf "$root/etc/resolv.conf.pvug"
  mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.orig" 2>/dev/null || true
  cp "$root/etc/resolv.conf.pvug" "$root/etc/resolv.conf"
  local ok=1 work=$FC/kernel-source.tmp
  rm -rf "$work" && mkdir -p "$work"
  {
    chroot "$root" apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends \
        "linux-headers-$kver=$version" gcc make dkms \
      && log "dkms root: dummy_hcd.c from linux-source-$KERNEL_SERIES=$version" \
      && chroot "$root" sh -c "mkdir -p /tmp/pvug-src && cd /tmp/pvug-src && apt-get download -qq 'linux-source-$KERNEL_SERIES=$version'" \
      && mv "$root"/tmp/pvug-src/*.deb "$work/"
  } >"$FC/dkms-root.log" 2>&1 || ok=0
  rm -rf "$root/tmp/pvug-src" "$root/etc/apt/sources.list.d/pvug-dkms.list" "$root/etc/resolv.conf" "$root/etc/resolv.conf.pvug"
  mv "$root/etc/resolv.conf.orig" "$root/etc/resolv.conf" 2>/dev/null || true
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
  ((ok)) || { tail -n 30 "$FC/dkms-root.log" >&2; die "installing the DKMS packages failed (log: $FC/dkms-root.log)"; }
  rm -rf "$root/usr/src/pvug-kernel-source"
  extract_udc_source "$work"/*.deb "$KERNEL_SERIES" "$root/usr/src/pvug-kernel-source"
  printf '%s\n' "$version" >"$root/usr/src/pvug-kernel-source/debian-version"
  rm -rf "$work"
  stamp_write dkms-root "$key"
  log "dkms root: ready (gcc $(chroot "$root" gcc -dumpversion), $(chroot "$root" dkms --version))"
}

# The kernel-upgrade scenario (test/e2e/kernel-upgrade.test.ts) on the DKMS root, offline:
#  - upgrade-debs/: the headers of the newest kernel of the newer series (UPGRADE_HEADERS_RE, from
#    UPGRADE_SUITE) and everything apt needs besides the root's packages to install them (its
#    linux-image, kbuild, initramfs-tools, ...); headers-package names the headers package;
#  - kernel-sources/linux-<version>/: Makefile + drivers/usb/gadget/udc/dummy_hcd.c of Debian's
#    linux-source of the test kernel and of that newer kernel, for --kernel-source.
provision_upgrade_kit() {
  local key="upgrade-kit-r$UPGRADE_KIT_REV $UPGRADE_HEADERS_RE $(cat "$FC/dkms-root.stamp")"
  if stamp_ok upgrade-kit "$key" && [[ -d $FC/upgrade-debs && -d $FC/kernel-sources ]]; then return; fi
  log "upgrade kit: the newest $UPGRADE_SUITE headers matching $UPGRADE_HEADERS_RE and two kernels' dummy_hcd.c (a few minutes)"
  apt_overlay_open upgrade-kit "$UPGRADE_SUITE"
  local r=$APT_ROOT work=$APT_WORK headers prefix
  prefix=${UPGRADE_HEADERS_RE#^}
  prefix=${prefix%%\\*}
  headers=$(chroot "$r" apt-cache pkgnames "$prefix" | grep -E "$UPGRADE_HEADERS_RE" | sort -V | tail -n 1)
  [[ -n $headers ]] || die "no package matching $UPGRADE_HEADERS_RE in $UPGRADE_SUITE"
  # and its kernel: bookworm's headers pull it, trixie-backports' split 7.x packages do not
  local image=${headers/linux-headers-/linux-image-}
  DEBIAN_FRONTEND=noninteractive chroot "$r" apt-get install -y -q --download-only --no-install-recommends "${UPGRADE_TARGET[@]}" "$headers" "$image" >>"$FC/upgrade-kit.log" 2>&1 \
    || { tail -n 20 "$FC/upgrade-kit.log" >&2; die "downloading $headers and $image failed"; }
  mkdir -p "$work/debs" "$work/sources"
  cp "$r"/var/cache/apt/archives/*.deb "$work/debs/"
  printf '%s\n' "$headers" >"$work/debs/headers-package"
  # one dummy_hcd.c + Makefile per source package: the test kernel's and the newer kernel's
  local kpkg new_version new_series spec tree
  kpkg=$(cat "$FC/kernel/package")
  new_version=$(chroot "$r" apt-cache show --no-all-versions "$headers" | sed -n 's/^Version: //p' | head -n 1)
  new_series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$new_version")
  for spec in "$KERNEL_SERIES=${kpkg#*=}" "$new_series=$new_version"; do
    mkdir -p "$r/tmp/src" && rm -f "$r"/tmp/src/*.deb
    chroot "$r" sh -c "cd /tmp/src && apt-get download -qq 'linux-source-$spec'" >>"$FC/upgrade-kit.log" 2>&1 || die "could not download linux-source-$spec"
    extract_udc_source "$r"/tmp/src/*.deb "${spec%%=*}" "$work/sources/new"
    tree=$(awk '/^VERSION =/ { v = $3 } /^PATCHLEVEL =/ { p = $3 } /^SUBLEVEL =/ { s = $3 } END { print "linux-" v "." p "." s }' "$work/sources/new/Makefile")
    mv "$work/sources/new" "$work/sources/$tree"
    rm -f "$r"/tmp/src/*.deb
    log "upgrade kit: $tree from linux-source-$spec"
  done
  rm -rf "$FC/upgrade-debs" "$FC/kernel-sources"
  mv "$work/debs" "$FC/upgrade-debs"
  mv "$work/sources" "$FC/kernel-sources"
  apt_overlay_close
  stamp_write upgrade-kit "$key"
  log "upgrade kit: ready ($headers, $(du -sh "$FC/upgrade-debs" | cut -f1))"
}

main() {
  local started=$SECONDS
  mkdir -p "$CACHE" "$FC"
  # one provisioner at a time
  exec 9>"$CACHE/.lock"
  flock 9
  provision_host_packages
  provision_rootfs # first: a suite other than the host's gets its kernel through the root's apt
  provision_kernel
  provision_initramfs
  provision_bench_guest
  provision_dkms_root
  provision_upgrade_kit
  log "cache $FC ($FLAVOUR) ready: kernel $(cat "$FC/kernel/version") ($((SECONDS - started)) s)"
}

main "$@"
