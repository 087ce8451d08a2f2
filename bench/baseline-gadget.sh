#!/usr/bin/env bash
# The benchmark's baseline: the plain configfs sequence of the unRAID-in-a-VM blog posts that this project
# started from ("seed"), as one shell script, with the same settings as the hook's gadget. `npm run bench`
# runs it inside the test VM next to the hook and compares throughput and latency.
#
#   baseline-gadget.sh up   NAME UDC VID PID SERIAL IMAGE SPEED [--modules N]
#   baseline-gadget.sh down NAME [--modules]
#
# SPEED is full, high or super (written to max_speed). --modules on `up` first loads libcomposite,
# usb_f_mass_storage, usb_storage and dummy_hcd with N controllers (super speed on), like a cold start;
# on `down` it unloads them afterwards. `up` returns once the host has enumerated the gadget (UDC state
# "configured"), like the hook's pre-start. On stderr: "baseline timing: modules=.. configfs=.. bound=..
# enumerated=.. end=.." in ms since the script started.
# What it leaves as the kernel's defaults, unlike the hook: stall (1), inquiry_string, bcdUSB (0x0200 here too).
set -euo pipefail

T0=$EPOCHREALTIME
MARKS=()
mark() { # mark STEP: ms since the script started
  local now=$EPOCHREALTIME
  MARKS+=("$1=$(( (${now/./} - ${T0/./}) / 1000 ))")
}
report() { echo "baseline timing: ${MARKS[*]}" >&2; }

G=/sys/kernel/config/usb_gadget
cmd=${1:-}
case $cmd in
  up)
    [[ $# -ge 8 ]] || { echo "usage: $0 up NAME UDC VID PID SERIAL IMAGE SPEED [--modules N]" >&2; exit 2; }
    name=$2 udc=$3 vid=$4 pid=$5 serial=$6 image=$7 speed=$8
    if [[ ${9:-} == --modules ]]; then
      modprobe -a libcomposite usb_f_mass_storage usb_storage
      modprobe dummy_hcd "num=${10:-1}" is_high_speed=1 is_super_speed=1
    fi
    mark modules
    d=$G/$name
    mkdir "$d"
    echo "$vid" >"$d/idVendor"
    echo "$pid" >"$d/idProduct"
    echo 0x0100 >"$d/bcdDevice"
    echo 0x0200 >"$d/bcdUSB"
    echo "$speed-speed" >"$d/max_speed"
    mkdir "$d/strings/0x409"
    echo "$serial" >"$d/strings/0x409/serialnumber"
    echo "PVUG" >"$d/strings/0x409/manufacturer"
    echo "Emulated USB stick" >"$d/strings/0x409/product"
    mkdir "$d/configs/c.1"
    mkdir "$d/configs/c.1/strings/0x409"
    echo "Mass Storage" >"$d/configs/c.1/strings/0x409/configuration"
    echo 100 >"$d/configs/c.1/MaxPower"
    mkdir "$d/functions/mass_storage.0"
    echo 1 >"$d/functions/mass_storage.0/lun.0/removable"
    echo 0 >"$d/functions/mass_storage.0/lun.0/ro"
    echo "$image" >"$d/functions/mass_storage.0/lun.0/file"
    ln -s "$d/functions/mass_storage.0" "$d/configs/c.1/"
    mark configfs
    echo "$udc" >"$d/UDC"
    mark bound
    state=/sys/class/udc/$udc/state
    for ((i = 0; i < 2000; i++)); do
      [[ $(<"$state") == configured ]] && break
      sleep 0.025
    done
    [[ $(<"$state") == configured ]] || { echo "baseline: $udc not enumerated" >&2; exit 1; }
    mark enumerated
    ;;
  down)
    [[ $# -ge 2 ]] || { echo "usage: $0 down NAME [--modules]" >&2; exit 2; }
    d=$G/$2
    if [[ -d $d ]]; then
      echo "" >"$d/UDC" 2>/dev/null || true
      rm -f "$d/configs/c.1/mass_storage.0"
      rmdir "$d/configs/c.1/strings/0x409" "$d/configs/c.1" "$d/functions/mass_storage.0" "$d/strings/0x409" "$d"
    fi
    mark configfs
    if [[ ${3:-} == --modules ]]; then
      modprobe -r dummy_hcd usb_f_mass_storage libcomposite
    fi
    mark modules
    ;;
  *)
    echo "usage: $0 up|down ..." >&2
    exit 2
    ;;
esac
mark end
report
