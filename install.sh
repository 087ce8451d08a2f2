#!/usr/bin/env bash
# pve-usb-gadget installer. Run as root on every Proxmox VE 8/9 node, from a release tarball or a
# checkout; running it again is safe (it only does what is missing). See docs/install.md.
#
#   ./install.sh [options]              install or update on this node
#   ./install.sh --kernel-module [--kernel RELEASE]  build only dummy_hcd, for the running or a named kernel
#   ./install.sh --uninstall [options]  remove everything install.sh made (images stay)
set -euo pipefail
umask 022
export LC_ALL=C

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SRC_DIR
readonly CLI=/usr/local/sbin/pve-usb-gadget
readonly ETC=/etc/pve-usb-gadget
readonly SETTINGS=$ETC/settings.ini
readonly NODE_STATE=$ETC/installed
readonly HOOKSCRIPT_FILE=$ETC/hookscript
# Cluster-wide and root-only: pmxcfs shows everything under /etc/pve/priv as mode 0600 (dirs 0700),
# owner root, and replicates it to every node, so each node's hook reads the same token secret.
# The API user, token, roles and these names are src/cli/setup-records.ts's (`setup api`); bash keeps
# these three for --help and --uninstall, and test/unit/cli-install-sh.test.ts checks they are equal.
readonly CLUSTER_DIR=/etc/pve/priv/pve-usb-gadget
readonly SECRET=$CLUSTER_DIR/token.secret
readonly CLUSTER_STATE=$CLUSTER_DIR/created
readonly HOOK_NAME=pve-usb-gadget-hook.cjs
readonly MODPROBE_CONF=/etc/modprobe.d/pve-usb-gadget.conf
readonly DKMS_NAME=pve-usb-gadget-dummy-hcd
# templates/dkms for `pve-usb-gadget kernel-module`, which also runs from our kernel hook inside apt
readonly SHARE=/usr/local/share/pve-usb-gadget
# templates/kernel/pve-usb-gadget: builds dummy_hcd for every kernel installed later, never fails apt
readonly KERNEL_HOOKS=(/etc/kernel/postinst.d/pve-usb-gadget /etc/kernel/header_postinst.d/pve-usb-gadget)
readonly KERNEL_POSTRM=/etc/kernel/postrm.d/pve-usb-gadget
# templates/kernel/apt.conf: after each dpkg run, builds for kernels whose headers came after them
readonly APT_CONF=/etc/apt/apt.conf.d/99pve-usb-gadget
# the node's dummy_hcd.c files and what kernel-module last did per kernel (src/kernel/)
readonly KERNEL_STATE=/var/lib/pve-usb-gadget
readonly IMAGES_DIR=/var/lib/vz/usb-gadget

MODE=install API=1 API_URL=https://127.0.0.1:8006 CA_FILE=/etc/pve/pve-root-ca.pem STORAGE=local
KERNEL_SOURCES=() TARGET_KERNEL='' BUILD_DUMMY_HCD=0 CONTROLLERS=8 SHOW_SECRET=0 KEEP_PACKAGES=0 PURGE_CLUSTER=0 FORCE=0
DONE=()

usage() {
  cat <<EOF
usage: install.sh [options]            install or update pve-usb-gadget on this Proxmox VE node
       install.sh --kernel-module [--kernel RELEASE] [--kernel-source PATH]
                                        build only dummy_hcd, for the running or a named installed kernel
       install.sh --uninstall [options] remove it again (images in $IMAGES_DIR stay)

  --storage ID           snippets storage for the hook script (default: local)
  --controllers N        dummy_hcd controllers = sticks that can exist at once, 1..32 (default: 8)
  --kernel-source PATH   a dummy_hcd.c to try first (repeatable; offline nodes): a kernel source tree,
                         a folder holding dummy_hcd.c, the file itself, or a kernel tarball (default:
                         the best fitting file from kernel.org, see README "Supported kernels")
  --kernel RELEASE       with --kernel-module: the kernel to build for (default: the running one)
  --build-dummy-hcd      build dummy_hcd with DKMS even when the kernel has its own
  --no-api               no API token: the hook then reads the local VM config only
  --api-url URL          Proxmox API of this node (default: $API_URL)
  --ca-file FILE         CA of the API certificate (default: $CA_FILE)
  --show-token-secret    print the new token secret once (it is stored in $SECRET anyway)
  --print-settings       print the settings file install.sh would write, change nothing
  --uninstall            remove; with --purge-cluster also the API user, token and role when other
                         nodes still use them; --keep-packages keeps apt packages this script installed
  --force                uninstall even while VMs still use the hook or sticks are live
EOF
}

say() { printf 'pve-usb-gadget: %s\n' "$*"; }
warn() { printf 'pve-usb-gadget: WARNING: %s\n' "$*" >&2; }
die() { printf 'pve-usb-gadget: ERROR: %s\n' "$*" >&2; exit 1; }
done_() { DONE+=("$*"); say "$*"; }

while (($#)); do
  case $1 in
    --uninstall) MODE=uninstall ;;
    --print-settings) MODE=print-settings ;;
    --storage) STORAGE=${2:?}; shift ;;
    --controllers) CONTROLLERS=${2:?}; shift ;;
    --kernel-module) MODE=kernel-module ;;
    --kernel) TARGET_KERNEL=${2:?}; shift ;;
    --kernel-source) KERNEL_SOURCES+=("${2:?}"); shift ;;
    --build-dummy-hcd) BUILD_DUMMY_HCD=1 ;;
    --no-api) API=0 ;;
    --api-url) API_URL=${2:?}; shift ;;
    --ca-file) CA_FILE=${2:?}; shift ;;
    --show-token-secret) SHOW_SECRET=1 ;;
    --keep-packages) KEEP_PACKAGES=1 ;;
    --purge-cluster) PURGE_CLUSTER=1 ;;
    --force) FORCE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
[[ $STORAGE =~ ^[A-Za-z][A-Za-z0-9._-]*$ ]] || die "--storage: not a storage id: $STORAGE"
[[ $CONTROLLERS =~ ^[0-9]{1,2}$ ]] && ((CONTROLLERS >= 1 && CONTROLLERS <= 32)) || die "--controllers must be 1..32"
URL_RE='^https://[][A-Za-z0-9.:-]+$'
[[ -z $TARGET_KERNEL || $TARGET_KERNEL =~ ^[0-9][A-Za-z0-9._+~-]*$ ]] || die "--kernel: not a kernel release: $TARGET_KERNEL"
[[ -z $TARGET_KERNEL || $MODE == kernel-module ]] || die "--kernel goes with --kernel-module"
[[ $API_URL =~ $URL_RE ]] || die "--api-url must be https://host[:port]"

# --- small helpers --------------------------------------------------------------------------------------

# state files: "key=value" lines
state_get() { [[ -f $1 ]] && sed -n "s/^$2=//p" "$1" | tail -n 1 || true; }
state_set() { # state_set FILE KEY VALUE
  local tmp=$1.tmp.$$
  { [[ -f $1 ]] && grep -v "^$2=" "$1" || true; printf '%s=%s\n' "$2" "$3"; } >"$tmp"
  mv "$tmp" "$1"
}
node_ok() { # node >= 18.20; `node --version` answers before the JavaScript engine starts
  local v
  v=$(node --version 2>/dev/null) || return 1
  [[ $v =~ ^v([0-9]+)\.([0-9]+)\. ]] || return 1
  ((BASH_REMATCH[1] > 18 || (BASH_REMATCH[1] == 18 && BASH_REMATCH[2] >= 20)))
}
# The CLI for its `setup` commands: the one next to install.sh, of the same release (what install copies
# to $CLI; an --uninstall from a newer tarball than the installed one still finds the commands it calls),
# else the installed one. 127 when there is neither, or no Node to run it.
cli() {
  if [[ -f $SRC_DIR/dist/cli.cjs ]] && node_ok; then node "$SRC_DIR/dist/cli.cjs" "$@"
  elif [[ -x $CLI ]]; then "$CLI" "$@"
  else warn "cannot run pve-usb-gadget $*: no node >= 18.20 for $SRC_DIR/dist/cli.cjs, and no $CLI"; return 127
  fi
}
# Runs a setup command (src/cli/setup*.ts) and reads its lines (setup-report.ts): "changed: " goes to the
# summary, "ok: " is said, "snippets-dir: " sets SNIPPETS_DIR, "cluster-kept: " CLUSTER_KEPT; the token
# secret (--show-token-secret) is printed as it is; its warnings and errors reach stderr as they are.
cli_report() {
  local out rc=0 l
  out=$(cli "$@") || rc=$?
  while IFS= read -r l; do
    case $l in
      'changed: '*) done_ "${l#changed: }" ;;
      'ok: '*) say "${l#ok: }" ;;
      'snippets-dir: '*) SNIPPETS_DIR=${l#snippets-dir: } ;;
      'cluster-kept: '*) CLUSTER_KEPT=${l#cluster-kept: } ;;
      'token secret (shown once, as asked): '*) printf '%s\n' "$l" ;;
      ?*) say "$l" ;;
    esac
  done <<<"$out"
  return "$rc"
}
secure_boot_on() {
  if command -v mokutil >/dev/null; then mokutil --sb-state 2>/dev/null | grep -q 'SecureBoot enabled' && return 0 || return 1; fi
  local f=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  [[ -r $f ]] && [[ $(od -An -t u1 -j4 -N1 "$f" | tr -d ' ') == 1 ]]
}
apt_install() { # records what it installed, so --uninstall can remove exactly that
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null; } \
    || die "apt-get install $* failed"
  state_set "$NODE_STATE" packages "$(state_get "$NODE_STATE" packages) $*"
  done_ "installed Debian packages: $*"
}
# hrtimer (a transfer every 125 us) or jiffies (one per timer tick: about 1 MB/s) from a built module
# Reads the whole module: `$cat | grep -q` stops at the first match, the decompressor then dies of SIGPIPE
# and pipefail fails the pipeline, depending on timing (seen: a DKMS-built .ko.xz reported "unknown").
scheduler_of_module() {
  local cat=cat syms
  case $1 in *.xz) cat='xz -dc' ;; *.zst) cat='zstd -dcq' ;; *.gz) cat='gzip -dc' ;; esac
  syms=$($cat "$1" | grep -ao -e hrtimer_start_range_ns -e mod_timer | sort -u) || true
  case $syms in
    *hrtimer_start_range_ns*) echo hrtimer ;;
    *mod_timer*) echo jiffies ;;
    *) echo unknown ;;
  esac
}
report_scheduler() {
  case $1 in
    hrtimer) done_ "dummy_hcd ($2) uses the hrtimer transfer scheduler: full speed (tens of MB/s)" ;;
    jiffies) warn "dummy_hcd ($2) uses the jiffies scheduler: about 1 MB/s. A kernel source from 2024 or later has the hrtimer one: rerun with --kernel-module --kernel-source <newer tree>" ;;
    *) warn "could not tell which transfer scheduler dummy_hcd ($2) uses" ;;
  esac
}

# --- checks ---------------------------------------------------------------------------------------------

preflight() {
  [[ $(id -u) -eq 0 ]] || die "run as root (on each Proxmox VE node)"
  command -v pveversion >/dev/null || die "pveversion not found: this is not a Proxmox VE node"
  local v major
  v=$(pveversion)
  major=$(sed -n 's|^pve-manager/\([0-9]*\)\..*|\1|p' <<<"$v")
  [[ $major =~ ^[0-9]+$ ]] || die "cannot read the Proxmox VE version from: $v"
  ((major >= 8)) || die "Proxmox VE $major is not supported: USB resource mappings need Proxmox VE 8.0 or later (found: $v)"
  ((major <= 9)) || warn "Proxmox VE $major is newer than this release was tested with (8, 9)"
  case $(uname -m) in
    x86_64 | aarch64) ;;
    *) die "architecture $(uname -m) is not supported (x86_64, aarch64)" ;;
  esac
  [[ $MODE == uninstall ]] && return
  local need_mb=60 free_mb
  [[ -e /lib/modules/${TARGET_KERNEL:-$(uname -r)}/build ]] || need_mb=400 # headers
  free_mb=$(( $(df -Pk / | awk 'NR == 2 { print $4 }') / 1024 ))
  ((free_mb >= need_mb)) || die "only ${free_mb} MB free on /, need ${need_mb} MB"
}

# --- install steps --------------------------------------------------------------------------------------

find_dist() {
  if [[ ! -f $SRC_DIR/dist/cli.cjs || ! -f $SRC_DIR/dist/hook.cjs ]]; then
    [[ -f $SRC_DIR/package.json ]] || die "no dist/ and no package.json next to install.sh: unpack a release tarball"
    command -v npm >/dev/null || die "a checkout without dist/ needs npm to build (apt install npm), or use a release tarball"
    say "building dist/ (npm ci, npm run build)"
    (cd "$SRC_DIR" && npm ci --no-audit --no-fund >/dev/null && npm run build >/dev/null) || die "build failed"
  fi
  for f in dist/cli.cjs dist/hook.cjs templates/settings.ini templates/dkms/dkms.conf templates/dkms/Makefile \
    templates/kernel/pve-usb-gadget templates/kernel/pve-usb-gadget-postrm templates/kernel/apt-post-invoke templates/kernel/apt.conf; do
    [[ -f $SRC_DIR/$f ]] || die "missing $SRC_DIR/$f"
  done
}

ensure_node() {
  if node_ok; then say "node $(node --version) is there"; return; fi
  # Debian's own nodejs: 18.20 on bookworm (PVE 8), 20.19 on trixie (PVE 9); no other Node builds
  apt_install nodejs
  node_ok || die "Debian's nodejs is $(node --version 2>/dev/null || echo missing); pve-usb-gadget needs >= 18.20"
}

install_file() { # install_file SRC DEST: 0755, root, replaced atomically; says whether it changed
  if cmp -s "$1" "$2"; then say "$2 is up to date"; return; fi
  install -m 0755 "$1" "$2.tmp.$$" && mv "$2.tmp.$$" "$2"
  done_ "installed $2"
}

# the storage: in storage.cfg, keeping files, with the snippets content type (enabled and recorded for
# --uninstall when missing; src/cli/setup-hook-storage.ts); then the hook file in its snippets folder
install_hook() {
  SNIPPETS_DIR=''
  cli_report setup hook-storage --storage "$STORAGE" || die "storage $STORAGE cannot hold the hook script (see above)"
  [[ $SNIPPETS_DIR == /* ]] || die "pve-usb-gadget setup hook-storage named no snippets folder for storage $STORAGE"
  HOOKSCRIPT="$STORAGE:snippets/$HOOK_NAME"
  HOOK_PATH=$SNIPPETS_DIR/$HOOK_NAME
  if [[ ! -d $SNIPPETS_DIR ]]; then
    mkdir -p "$SNIPPETS_DIR"
    state_set "$NODE_STATE" snippets_dir_created "$SNIPPETS_DIR"
  fi
  install_file "$SRC_DIR/dist/hook.cjs" "$HOOK_PATH"
  printf '%s\n' "$HOOKSCRIPT" >"$HOOKSCRIPT_FILE"
  state_set "$NODE_STATE" hook "$HOOK_PATH"
}

# The kernel's own dummy_hcd when it has one (Debian kernels; not Proxmox's); otherwise (or with
# --build-dummy-hcd / --kernel-module) `pve-usb-gadget kernel-module` builds it with DKMS from the source
# that fits the kernel best, and our kernel hook does the same for every kernel installed later.
ensure_dummy_hcd() {
  KVER=${TARGET_KERNEL:-$(uname -r)}
  local current
  current=$(modinfo -k "$KVER" -n dummy_hcd 2>/dev/null || true)
  if [[ -n $current && $current != */updates/dkms/* && $BUILD_DUMMY_HCD == 0 && $MODE != kernel-module ]]; then
    say "kernel $KVER has its own dummy_hcd ($current)"
    report_scheduler "$(scheduler_of_module "$current")" "kernel $KVER"
    return
  fi
  ensure_build_tools
  install_kernel_files
  local args=(kernel-module --kernel "$KVER") s t0=$SECONDS out
  for s in "${KERNEL_SOURCES[@]}"; do args+=(--kernel-source "$(realpath -m "$s")"); done
  say "building dummy_hcd for kernel $KVER with DKMS if needed (a minute or two)"
  out=$("$CLI" "${args[@]}" 2>&1) || { printf '%s\n' "$out" >&2; die "dummy_hcd could not be built for kernel $KVER (see above)"; }
  printf '%s\n' "$out"
  state_set "$NODE_STATE" dkms 1
  [[ $out == *"already built"* ]] || done_ "built dummy_hcd with DKMS for kernel $KVER in $((SECONDS - t0)) s"
  local ko
  ko=$(modinfo -k "$KVER" -n dummy_hcd 2>/dev/null || true)
  [[ $ko == */updates/dkms/* ]] || die "modprobe would not load the DKMS dummy_hcd for $KVER (modinfo -n dummy_hcd: ${ko:-nothing})"
  report_scheduler "$(scheduler_of_module "$ko")" "DKMS, kernel $KVER"
  if [[ $KVER == "$(uname -r)" && -d /sys/module/dummy_hcd && $(cat /sys/module/dummy_hcd/taint 2>/dev/null) != *O* ]]; then
    warn "the kernel's own dummy_hcd is loaded; the DKMS one is used once it is unloaded (no VM with a stick running)"
  fi
  secure_boot_on && check_signature "$ko"
  return 0
}

ensure_build_tools() { # the kernel's headers (and, on Proxmox, those of every future kernel), dkms, gcc, make
  if [[ ! -e /lib/modules/$KVER/build ]]; then
    local pkg=proxmox-headers-$KVER
    apt-cache show "$pkg" >/dev/null 2>&1 || apt-get update -q >/dev/null
    apt-cache show "$pkg" >/dev/null 2>&1 || pkg=linux-headers-$KVER # a Debian kernel
    apt-cache show "$pkg" >/dev/null 2>&1 || die "no package proxmox-headers-$KVER: install the headers of kernel $KVER"
    # the metapackage brings the headers of future kernels too, so our kernel hook can build for them
    if apt-cache show proxmox-default-headers >/dev/null 2>&1; then apt_install "$pkg" proxmox-default-headers; else apt_install "$pkg"; fi
  fi
  command -v dkms >/dev/null || apt_install dkms
  command -v make >/dev/null && command -v gcc >/dev/null || apt_install make gcc
}

install_kernel_files() { # the DKMS templates for the CLI and our kernel hooks (templates/kernel/)
  mkdir -p "$SHARE/dkms"
  local f changed=0 h
  for f in dkms.conf Makefile; do cmp -s "$SRC_DIR/templates/dkms/$f" "$SHARE/dkms/$f" || { install -m 0644 "$SRC_DIR/templates/dkms/$f" "$SHARE/dkms/$f"; changed=1; }; done
  cmp -s "$SRC_DIR/templates/kernel/apt-post-invoke" "$SHARE/apt-post-invoke" || { install -m 0755 "$SRC_DIR/templates/kernel/apt-post-invoke" "$SHARE/apt-post-invoke"; changed=1; }
  cmp -s "$SRC_DIR/templates/kernel/apt.conf" "$APT_CONF" || { install -m 0644 "$SRC_DIR/templates/kernel/apt.conf" "$APT_CONF"; changed=1; }
  for h in "${KERNEL_HOOKS[@]}" "$KERNEL_POSTRM"; do
    [[ -d $(dirname "$h") ]] || { mkdir -p "$(dirname "$h")"; state_set "$NODE_STATE" "created_$(basename "$(dirname "$h")")" 1; }
  done
  for h in "${KERNEL_HOOKS[@]}"; do
    cmp -s "$SRC_DIR/templates/kernel/pve-usb-gadget" "$h" || { install -m 0755 "$SRC_DIR/templates/kernel/pve-usb-gadget" "$h"; changed=1; }
  done
  cmp -s "$SRC_DIR/templates/kernel/pve-usb-gadget-postrm" "$KERNEL_POSTRM" || { install -m 0755 "$SRC_DIR/templates/kernel/pve-usb-gadget-postrm" "$KERNEL_POSTRM"; changed=1; }
  ((changed)) && done_ "installed the kernel hooks (${KERNEL_HOOKS[*]}, $KERNEL_POSTRM, $APT_CONF): dummy_hcd is built for every new kernel, and a failed build never fails apt"
  return 0
}

check_signature() { # Secure Boot: DKMS signs with its MOK; the firmware must know that key
  [[ -n $(modinfo -F signer "$1" 2>/dev/null) ]] || die "Secure Boot is on but $1 is not signed: check DKMS's signing key (/var/lib/dkms/mok.key)"
  local cert=/var/lib/dkms/mok.pub
  if mokutil --test-key "$cert" 2>/dev/null | grep -q 'already enrolled'; then
    say "dummy_hcd is signed with the DKMS key, which the firmware trusts"
  else
    warn "Secure Boot: dummy_hcd is signed with the DKMS key $cert, which is not enrolled yet. Run"
    warn "  mokutil --import $cert   (choose a one-time password), reboot, pick 'Enroll MOK' in the blue"
    warn "  MOK manager screen and enter that password. Until then the kernel refuses to load dummy_hcd."
    NEXT_EXTRA="mokutil --import $cert, then reboot and enroll it"
  fi
}

write_modprobe_conf() {
  local want
  want=$(printf '%s\n%s\n' "# pve-usb-gadget (install.sh): controllers (= sticks at once) and speeds of dummy_hcd" \
    "options dummy_hcd num=$CONTROLLERS is_high_speed=1 is_super_speed=1")
  [[ -f $MODPROBE_CONF && $(cat "$MODPROBE_CONF") == "$want" ]] && return
  printf '%s\n' "$want" >"$MODPROBE_CONF"
  done_ "wrote $MODPROBE_CONF (num=$CONTROLLERS)"
}

# The roles, the API user, its privilege-separated token (secret in $SECRET) and their ACLs, once per
# cluster: pveum acts cluster-wide (src/cli/setup-api.ts, which records what it created for --uninstall)
ensure_api_access() {
  local show=()
  ((SHOW_SECRET)) && show=(--show-token-secret)
  cli_report setup api "${show[@]}" || die "the API user, token and roles could not be set up (see above)"
}

# The settings file (src/cli/setup-settings.ts): templates/settings.ini with the [api] block and the
# controllers filled in; rewritten only while it is what install.sh last wrote.
settings_args() {
  SETTINGS_ARGS=(--template "$SRC_DIR/templates/settings.ini" --controllers "$CONTROLLERS")
  # the token id and secret file: the CLI's defaults, what `setup api` creates
  if ((API)); then SETTINGS_ARGS+=(--api-url "$API_URL" --ca-file "$CA_FILE")
  else SETTINGS_ARGS+=(--no-api); fi
}

write_settings() {
  settings_args
  cli_report --settings "$SETTINGS" setup settings "${SETTINGS_ARGS[@]}" || die "$SETTINGS could not be written (see above)"
}

# what both install and --kernel-module do first: checks, dist/, node, the CLI
prepare_node() {
  preflight
  find_dist
  mkdir -p "$ETC" && chmod 0755 "$ETC"
  touch "$NODE_STATE"
  ensure_node
  install_file "$SRC_DIR/dist/cli.cjs" "$CLI"
}

do_kernel_module() { # --kernel-module: the CLI, the kernel files and dummy_hcd for one kernel; nothing else
  prepare_node
  ensure_dummy_hcd
  say "kernels on $(hostname -s) (pve-usb-gadget doctor):"
  "$CLI" doctor 2>/dev/null | grep -E '^(ok|WARN|FAIL) +kernel ' || true
}

do_install() {
  prepare_node
  install_hook
  ensure_dummy_hcd
  write_modprobe_conf
  if [[ ! -d $IMAGES_DIR ]]; then
    mkdir -p "$(dirname "$IMAGES_DIR")" && mkdir -m 0750 "$IMAGES_DIR"
    state_set "$NODE_STATE" images_dir_created 1
    done_ "created $IMAGES_DIR for stick images"
  fi
  if ((API)); then
    [[ -f $CA_FILE ]] || die "no CA file $CA_FILE (--ca-file)"
    ensure_api_access
  fi
  write_settings
  ((API)) && ensure_mapping_acls
  install_vzdump_hook
  say "checking the installation (pve-usb-gadget doctor):"
  "$CLI" doctor || warn "doctor reported problems (see above)"
  echo
  say "installed on $(hostname -s):"
  local d
  for d in "${DONE[@]}"; do printf '  - %s\n' "$d"; done
  ((${#DONE[@]})) || printf '  (nothing new: everything was already in place)\n'
  echo
  [[ -n ${NEXT_EXTRA:-} ]] && say "first: $NEXT_EXTRA"
  say "next: run install.sh on every other node, then give a VM a stick:"
  printf '  pve-usb-gadget enable <vmid> --image %s/<name>.img [--boot]\n' "$IMAGES_DIR"
}

# Mapping.Use on each VM's own mapping (earlier releases had it on all of /mapping/usb): the existing
# mappings of ours get it, grants whose mapping is gone are removed (src/cli/mapping-acl.ts)
ensure_mapping_acls() {
  cli_report setup mapping-acls || die "pve-usb-gadget setup mapping-acls failed (see above)"
}

# vzdump's node-wide hook (/etc/vzdump.conf script:): copies each VM's stick beside its backup. An
# admin's own script is recorded in $ETC/vzdump-chain and keeps running, before ours (src/backup/).
install_vzdump_hook() {
  local out l
  out=$("$CLI" backup install-hook --cli "$CLI") || die "pve-usb-gadget backup install-hook failed (see above)"
  while IFS= read -r l; do [[ -n $l ]] && done_ "$l"; done <<<"$out"
  return 0
}

uninstall_vzdump_hook() { # before the CLI goes: it puts the admin's previous script back
  local out l
  [[ -x $CLI ]] || return 0
  out=$("$CLI" backup uninstall-hook) || { warn "pve-usb-gadget backup uninstall-hook failed: check script: in /etc/vzdump.conf"; return 0; }
  while IFS= read -r l; do [[ -n $l ]] && done_ "$l"; done <<<"$out"
  rmdir /usr/local/lib/pve-usb-gadget 2>/dev/null || true
}

# --- uninstall ------------------------------------------------------------------------------------------

do_uninstall() {
  preflight
  # which VMs of this node still name the hook as hookscript (src/cli/setup-uninstall-check.ts): it fails
  # unless --force; without a CLI or Node (an uninstall run again) there is no hook left to check for
  local force=() rc
  ((FORCE)) && force=(--force)
  cli_report setup uninstall-check "${force[@]}" || { rc=$?; ((rc == 127)) || exit 1; }
  local live=(/sys/kernel/config/usb_gadget/pvug-*)
  [[ ! -e ${live[0]} ]] || ((FORCE)) || die "sticks are live (${live[*]##*/}): stop those VMs first (or --force)"

  local hook snippets
  hook=$(state_get "$NODE_STATE" hook)
  [[ -n $hook ]] || hook=$(pvesm path "local:snippets/$HOOK_NAME" 2>/dev/null || true)
  [[ -n $hook && -f $hook ]] && rm -f "$hook" && done_ "removed $hook"
  snippets=$(state_get "$NODE_STATE" snippets_dir_created)
  [[ -n $snippets ]] && rmdir "$snippets" 2>/dev/null || true
  uninstall_vzdump_hook
  [[ -f $MODPROBE_CONF ]] && rm -f "$MODPROBE_CONF" && done_ "removed $MODPROBE_CONF"
  if [[ -d /sys/module/dummy_hcd && $(cat /sys/module/dummy_hcd/taint 2>/dev/null) == *O* ]]; then
    modprobe -r dummy_hcd 2>/dev/null || warn "could not unload dummy_hcd (in use)"
  fi
  if command -v dkms >/dev/null && [[ -d /var/lib/dkms/$DKMS_NAME ]]; then
    local v
    for v in /var/lib/dkms/$DKMS_NAME/*/; do
      v=$(basename "$v")
      [[ $v =~ ^[0-9] ]] && dkms remove "$DKMS_NAME/$v" --all >/dev/null && done_ "removed DKMS module $DKMS_NAME/$v"
    done
  fi
  rm -rf /usr/src/"$DKMS_NAME"-* /var/lib/dkms/"$DKMS_NAME"
  local k
  for k in "${KERNEL_HOOKS[@]}" "$KERNEL_POSTRM" "$APT_CONF"; do [[ -f $k ]] && rm -f "$k" && done_ "removed $k"; done
  for k in postinst.d header_postinst.d postrm.d; do
    [[ $(state_get "$NODE_STATE" "created_$k") == 1 ]] && rmdir "/etc/kernel/$k" 2>/dev/null || true
  done
  [[ -d $SHARE ]] && rm -rf "$SHARE"
  [[ -d $KERNEL_STATE ]] && rm -rf "$KERNEL_STATE" && done_ "removed $KERNEL_STATE (dummy_hcd sources and build records)"
  local d
  for d in /lib/modules/*/updates/dkms; do rmdir "$d" "${d%/dkms}" 2>/dev/null || true; done
  if [[ $(state_get "$NODE_STATE" images_dir_created) == 1 ]]; then
    rmdir "$IMAGES_DIR" 2>/dev/null && done_ "removed the empty $IMAGES_DIR" || say "kept $IMAGES_DIR (it holds images)"
  fi
  [[ -d /run/pve-usb-gadget ]] && rm -rf /run/pve-usb-gadget
  uninstall_cluster_parts
  # the CLI goes after the cluster parts, which run its setup commands
  [[ -f $CLI ]] && rm -f "$CLI" && done_ "removed $CLI"
  local pkgs
  pkgs=$(state_get "$NODE_STATE" packages)
  [[ -d $ETC ]] && rm -rf "$ETC" && done_ "removed $ETC (settings)"
  if [[ -n ${pkgs// /} ]]; then
    if ((KEEP_PACKAGES)); then say "kept the packages install.sh had installed:$pkgs"
    else
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive apt-get remove -y -q $pkgs >/dev/null && done_ "removed packages:$pkgs (apt autoremove removes what they pulled in)"
    fi
  fi
  echo
  say "uninstalled from $(hostname -s):"
  for f in "${DONE[@]}"; do printf '  - %s\n' "$f"; done
  ((${#DONE[@]})) || printf '  (nothing was installed)\n'
}

# Once the last node goes (or with --purge-cluster): what install.sh created in the cluster. `setup api
# --remove` drops this node's marker, then the per-mapping grants, token, user, roles and ACLs the
# records name (src/cli/setup-api.ts), or says `cluster-kept:` while other nodes still use them.
uninstall_cluster_parts() {
  [[ -d $CLUSTER_DIR ]] || return 0
  local purge=()
  ((PURGE_CLUSTER)) && purge=(--purge-cluster)
  CLUSTER_KEPT=''
  cli_report setup api --remove "${purge[@]}" || die "could not remove the API user, token and roles (see above); run install.sh --uninstall again"
  [[ -z $CLUSTER_KEPT ]] || return 0
  # the snippets content type, where install.sh added it and the folder is empty again (src/cli/setup-hook-storage.ts)
  cli_report setup hook-storage --undo || warn "could not take the snippets content type off again: see the snippets: lines of $CLUSTER_STATE"
  rm -rf "$CLUSTER_DIR" && done_ "removed $CLUSTER_DIR (token secret)"
}

case $MODE in
  install) do_install ;;
  kernel-module) do_kernel_module ;;
  uninstall) do_uninstall ;;
  print-settings) settings_args && cli setup settings "${SETTINGS_ARGS[@]}" --print ;;
esac
