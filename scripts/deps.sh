#!/usr/bin/env bash
# Installs the Debian packages Freightnet needs to build, test and run.
# Called by both README commands (make demo, make check); safe to run again.
# As root it uses apt-get; otherwise it says what to install.
#   scripts/deps.sh bench   what the benchmarks need beyond that (make bench):
#                           redis-server for bin/bench_vs_redis; not being root
#                           is then no error, so every other benchmark builds.
set -euo pipefail

# Build and run: compiler, make, pkg-config and the libraries (docs/dependencies.md).
# libglpk-dev is for one unit test only (the exact dispatch reference);
# fiu-utils and faketime for the fault tests only (tests/e2e/test_faults.py).
# nodejs and npm build the dashboard (make web); chromium and a CJK font run
# its browser test (tests/web).
pkgs=(gcc make pkg-config libmicrohttpd-dev libjansson-dev libsodium-dev libzstd-dev
      libcmocka-dev libglpk-dev python3 curl fiu-utils faketime
      nodejs npm chromium fonts-wqy-microhei)
not_root_status=1
if [ "${1:-}" = bench ]; then
    pkgs=(redis-server)
    not_root_status=0
fi

missing=()
for p in "${pkgs[@]}"; do
    # A nodejs that bundles npm (not Debian's build) conflicts with Debian's npm.
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "freightnet: missing Debian packages: ${missing[*]}" >&2
    echo "freightnet: install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit $not_root_status
fi
echo "freightnet: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
