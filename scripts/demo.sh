#!/usr/bin/env bash
# The README's run command (make demo): a national-size demo state, built once
# into ./demo-data and reused, served by freightd on 127.0.0.1:8080.
#   FREIGHT_DEMO_SCALE=0.1 make demo     a smaller state (scale 1 = 2.3 million trucks)
#   FREIGHTD_LISTEN=127.0.0.1:9090 ...   another address
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FREIGHT_DEMO_DIR:-demo-data}
scale=${FREIGHT_DEMO_SCALE:-1}
listen=${FREIGHTD_LISTEN:-127.0.0.1:8080}

if [ ! -f "$dir/token.key" ]; then
    echo "demo: building the demo state (scale $scale) into $dir; this happens once" >&2
    bin/freight bulkload --data-dir "$dir" --scale "$scale"
fi
cat >&2 <<MSG

demo: starting freightd on http://$listen  (Ctrl-C stops it)
demo:   browser:      http://$listen/
demo:   admin token:  $dir/admin.token
demo:   try:          curl -H "Authorization: Bearer \$(cat $dir/admin.token)" "http://$listen/v1/trucks?near=26.647,106.630&limit=5"
demo:   more tokens:  $dir/bench-tokens.json (gateways, companies, drivers of the demo state)

MSG
exec bin/freightd --listen "$listen" --data-dir "$dir"
