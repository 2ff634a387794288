#!/usr/bin/env bash
# The README's run command (make demo): the national dataset (freight gen,
# docs/dataset.md) generated once into ./demo-dataset, imported into
# ./demo-data, and served by freightd on 127.0.0.1:8080.
#   FREIGHT_DEMO_SCALE=0.1 make demo     a smaller set (scale 1 = 2.3 million trucks)
#   FREIGHTD_LISTEN=127.0.0.1:9090 ...   another address
# The imported state is reused while it is fresh; after two days (when most of
# its loads' pickup windows have closed) it is imported again from the
# dataset, with its times moved to the new now.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${FREIGHT_DEMO_DIR:-demo-data}
dataset=${FREIGHT_DEMO_DATASET:-demo-dataset}
scale=${FREIGHT_DEMO_SCALE:-1}
listen=${FREIGHTD_LISTEN:-127.0.0.1:8080}

if [ ! -f "$dataset/manifest.json" ] || [ "$(cat "$dataset/.demo-scale" 2>/dev/null)" != "$scale" ]; then
    echo "demo: generating the national dataset (scale $scale) into $dataset; this happens once" >&2
    bin/freight gen --out "$dataset" --scale "$scale" --force
    echo "$scale" > "$dataset/.demo-scale"
    rm -rf "$dir"
fi
if [ -f "$dir/token.key" ] && [ -n "$(find "$dir/token.key" -mmin +2880 2>/dev/null)" ]; then
    echo "demo: $dir is more than two days old; importing the dataset again" >&2
    rm -rf "$dir"
fi
if [ ! -f "$dir/token.key" ]; then
    echo "demo: importing $dataset into $dir" >&2
    bin/freight import --data-dir "$dir" "$dataset"
fi
cat >&2 <<MSG

demo: starting freightd on http://$listen  (Ctrl-C stops it)
demo:   browser:      http://$listen/
demo:   admin token:  $dir/admin.token
demo:   try:          curl -H "Authorization: Bearer \$(cat $dir/admin.token)" "http://$listen/v1/trucks?near=26.647,106.630&limit=5"
demo:   more tokens:  $dir/bench-tokens.json (gateways, companies, drivers of the demo state)

MSG
exec bin/freightd --listen "$listen" --data-dir "$dir"
