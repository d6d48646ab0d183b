#!/usr/bin/env bash
# Load test of on-demand transforms in Python against the same transform in Rust (wrk on this
# machine), on the Feast fixture repo (tests/fixtures/feast-0.67, SQLite online store):
#   - plain:   driver_hourly_stats:conv_rate for 3 drivers, no transform
#   - rust:    the same plus both outputs of transformed_conv_rate, computed by the demo's
#              Rust plugin (plugins/transformed-conv-rate)
#   - python:  the same request, computed by the plugin `edgefeat plugin build-feast` makes
#              from the view's own pandas UDF in the registry
# at concurrency 1, 8 and 64, in the same run (the servers take turns, ROUNDS times, medians
# reported), then each server's resident memory. Needs componentize-py
# (EDGEFEAT_COMPONENTIZE_PY or PATH) for the build.
#
#   examples/loadtest/python.sh [DURATION_SECONDS] [ROUNDS]     (default 8 and 3)
set -euo pipefail
duration=${1:-8}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source examples/loadtest/lib.sh
prepare

repo_copy() {
  cp -r tests/fixtures/feast-0.67 "$work/$1"
  chmod -R u+w "$work/$1"
  mkdir -p "$work/$1/plugins"
}
repo_copy rust
# The demo's Rust plugin, as `init` writes it.
"$bin" -c "$work" init demo >/dev/null
cp "$work/demo/plugins/transformed_conv_rate.wasm" "$work/rust/plugins/"
repo_copy python
started=$(date +%s.%N)
"$bin" -c "$work/python" plugin build-feast --view transformed_conv_rate >&2
echo "build-feast (componentize-py, trial run, compile): $(python3 -c "print(f'{$(date +%s.%N) - $started:.1f}')") s, $(stat -c %s "$work/python/plugins/transformed_conv_rate.wasm") bytes" >&2

names=(plain rust python)
declare -A ports server_pids bodies
for name in rust python; do
  ports[$name]=$(free_port)
  "$bin" -c "$work/$name" serve --port "${ports[$name]}" --no-access-log >"$work/$name.log" 2>&1 &
  pids+=($!)
  server_pids[$name]=$!
  wait_healthy "${ports[$name]}"
done
# Plain reads go to the Rust server: the same process, no plugin on the request.
ports[plain]=${ports[rust]}
server_pids[plain]=${server_pids[rust]}

body='{"features":["driver_hourly_stats:conv_rate","transformed_conv_rate:conv_rate_plus_val1","transformed_conv_rate:conv_rate_plus_val2"],"entities":{"driver_id":[1001,1002,1003],"val_to_add":[1,2,3],"val_to_add_2":[10,20,30]}}'
bodies[plain]='{"features":["driver_hourly_stats:conv_rate"],"entities":{"driver_id":[1001,1002,1003]}}'
for name in "${names[@]}"; do
  this=${bodies[$name]:-$body}
  check=$(curl -fs -X POST "http://127.0.0.1:${ports[$name]}/get-online-features" -d "$this")
  grep -q '"PRESENT","PRESENT","PRESENT"' <<<"$check" || { echo "$name did not serve: $check" >&2; exit 1; }
  BODY="$this" wrk -t1 -c8 -d1s -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features" >/dev/null
done
rust_answer=$(curl -fs -X POST "http://127.0.0.1:${ports[rust]}/get-online-features" -d "$body")
python_answer=$(curl -fs -X POST "http://127.0.0.1:${ports[python]}/get-online-features" -d "$body")
[ "$rust_answer" = "$python_answer" ] || { echo "the plugins disagree: $rust_answer vs $python_answer" >&2; exit 1; }

measure "1 8 64"
summarize plain
echo
for name in rust python; do
  echo "- $name server: $(awk '/VmRSS/ {print $2, $3}' "/proc/${server_pids[$name]}/status") resident after the run (VmHWM $(awk '/VmHWM/ {print $2, $3}' "/proc/${server_pids[$name]}/status"))"
done
