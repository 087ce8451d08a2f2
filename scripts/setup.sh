#!/usr/bin/env bash
# Everything `npm test`, `npm run demo` and `npm run bench` need on a fresh Debian machine (root):
# the npm dependencies (when package-lock.json is newer than what is installed), the bundles, and the
# real-kernel harness cache for both flavours (test/e2e/provision.sh: QEMU, Debian's kernels, Debian
# roots: bookworm with node 18 like Proxmox VE 8, trixie with node 20 like Proxmox VE 9).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
node scripts/build.mjs
PVUG_FLAVOUR=trixie bash test/e2e/provision.sh
PVUG_FLAVOUR=bookworm bash test/e2e/provision.sh
