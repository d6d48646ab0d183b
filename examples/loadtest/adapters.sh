#!/usr/bin/env bash
# Load test of store adapters (wrk on this machine): the demo's 3 drivers x 3 features read
#   - lmdb:          the built-in LMDB store, directly
#   - adapter+lmdb:  the example adapter (plugins/redis-layout-adapter) over host-kv on LMDB
#   - adapter+redis: the same adapter over host-kv on a redis-server on loopback
# at concurrency 1, 8 and 32, all three in the same run, with req/s, p50 and p99 (wrk) and the
# server's CPU per request (the edgefeat process only, not redis-server). The three stores take
# turns, ROUNDS times (default 3), and each figure is the median of its rounds, so that noise
# on a shared machine does not fall on one store only.
#
#   examples/loadtest/adapters.sh [DURATION_SECONDS] [ROUNDS]     (default 8 and 3)
set -euo pipefail
duration=${1:-8}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source examples/loadtest/lib.sh
prepare redis-server
adapter="$target/wasm-guests/wasm32-wasip2/release/redis_layout_adapter.wasm"
[ -s "$adapter" ] || { echo "the example adapter was not built: rustup target add wasm32-wasip2, then rebuild" >&2; exit 1; }

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done

# One demo repo per store, materialized the same way.
setup() {
  local name=$1 online_store=$2
  mkdir -p "$work/$name"
  "$bin" -c "$work/$name" init demo >/dev/null
  local repo="$work/$name/demo"
  if [ -n "$online_store" ]; then
    cp "$adapter" "$repo/plugins/redis-layout-adapter.wasm"
    python3 - "$repo/feature_store.yaml" "$online_store" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"online_store:\n(    .*\n)+", section, text)
open(path, "w").write(text)
PY
  fi
  "$bin" -c "$repo" apply >/dev/null
  "$bin" -c "$repo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null
}
setup lmdb ""
setup adapter-lmdb $'online_store:\n    type: plugin\n    plugin: redis-layout-adapter\n    kv: {type: lmdb}\n'
setup adapter-redis "online_store:
    type: plugin
    plugin: redis-layout-adapter
    kv: {type: redis, connection_string: \"127.0.0.1:$redis_port\"}
"

names=(lmdb adapter-lmdb adapter-redis)
declare -A ports server_pids
for name in "${names[@]}"; do
  port=$(free_port)
  "$bin" -c "$work/$name/demo" serve --port "$port" --no-access-log >"$work/$name.log" 2>&1 &
  pids+=($!)
  server_pids[$name]=$!
  ports[$name]=$port
  wait_healthy "$port"
done

body='{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'
for name in "${names[@]}"; do
  check=$(curl -fs -X POST "http://127.0.0.1:${ports[$name]}/get-online-features" -d "$body")
  grep -q '"PRESENT","PRESENT","PRESENT"' <<<"$check" || { echo "$name did not serve the demo: $check" >&2; exit 1; }
  BODY="$body" wrk -t1 -c8 -d1s -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features" >/dev/null
done

measure "1 8 32"
summarize lmdb
