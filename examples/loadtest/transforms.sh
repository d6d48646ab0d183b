#!/usr/bin/env bash
# Load test of on-demand transforms (wrk on this machine): the same 3 drivers read as
#   - plain:     driver_hourly_stats:conv_rate (no plugin)
#   - transform: driver_hourly_stats:conv_rate + both outputs of transformed_conv_rate
#                (the demo's WASM plugin, one call per request)
# at concurrency 1, 8 and 32, in the same run, with req/s, p50 and p99 (wrk) for each.
#
#   examples/loadtest/transforms.sh [DURATION_SECONDS]     (default 8)
set -euo pipefail
duration=${1:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v wrk >/dev/null 2>&1 || { apt-get install -y -qq wrk >/dev/null 2>&1 || { echo "install wrk" >&2; exit 1; }; }
cargo build --release --locked -p edgefeat >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" -c "$work" init demo >/dev/null
"$bin" -c "$work/demo" apply >/dev/null
"$bin" -c "$work/demo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -c "$work/demo" serve --port "$port" --no-access-log >"$work/server.log" 2>&1 &
server_pid=$!
until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done

plain='{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001,1002,1003]}}'
transform='{"features":["driver_hourly_stats:conv_rate","transformed_conv_rate:conv_rate_plus_val1","transformed_conv_rate:conv_rate_plus_val2"],"entities":{"driver_id":[1001,1002,1003],"val_to_add":[1,2,3],"val_to_add_2":[10,20,30]}}'
# Warm up: plugin instances, plan caches.
for body in "$plain" "$transform"; do
  BODY="$body" wrk -t1 -c8 -d1s -s examples/loadtest/post.lua "http://127.0.0.1:$port/get-online-features" >/dev/null
done

echo "| request | concurrency | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for c in 1 8 32; do
  for kind in plain transform; do
    body=$plain
    [ "$kind" = transform ] && body=$transform
    out=$(BODY="$body" wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:$port/get-online-features")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -n "$errors" ] && echo "warning: $errors" >&2
    echo "| $kind | $c | $(awk '/Requests\/sec/ {print $2}' <<<"$out") | $(awk '$1 == "50%" {print $2}' <<<"$out") | $(awk '$1 == "99%" {print $2}' <<<"$out") |"
  done
done
