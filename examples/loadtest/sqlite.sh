#!/usr/bin/env bash
# Load test of Feast's SQLite online store layout against edgefeat's LMDB store (wrk on this
# machine): the demo's 3 drivers x 3 features read
#   - lmdb:    the demo as `edgefeat init` makes it (the embedded LMDB store)
#   - sqlite:  the same demo with `online_store: {type: sqlite}`: Feast's table layout and
#              Value encoding, one row per entity and feature
# both materialized from the same data, at concurrency 1 and 64 (and 8), in the same run. The
# two stores take turns, ROUNDS times (default 3), and each figure is the median of its rounds,
# so that noise on a shared machine does not fall on one store only.
#
#   examples/loadtest/sqlite.sh [DURATION_SECONDS] [ROUNDS]     (default 8 and 3)
set -euo pipefail
duration=${1:-8}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source examples/loadtest/lib.sh
prepare

setup() {
  local name=$1 online_store=$2
  mkdir -p "$work/$name"
  "$bin" -c "$work/$name" init demo >/dev/null
  local repo="$work/$name/demo"
  if [ -n "$online_store" ]; then
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
setup sqlite $'online_store:\n    type: sqlite\n    path: data/online_store.db\n'

names=(lmdb sqlite)
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

measure "1 8 64"
summarize lmdb
