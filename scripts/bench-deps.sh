#!/usr/bin/env bash
# Installs what the benchmark programs need beyond the build (scripts/deps.sh):
# redis-server, which bin/bench_vs_redis starts itself to compare freightd
# with Redis GEO (docs/dependencies.md).  Called by `make bench`; safe to run
# again.  As root it uses apt-get; otherwise it only says what to install, so
# that every other benchmark still builds.
set -euo pipefail

pkgs=(redis-server)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "freightnet: bin/bench_vs_redis needs: ${missing[*]}" >&2
    echo "freightnet: install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 0
fi
echo "freightnet: installing ${missing[*]} (for bin/bench_vs_redis)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
