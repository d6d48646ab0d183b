#!/usr/bin/env bash
# Load test of the write paths of `edgefeat serve` (wrk on this machine):
#   1. single-row /push throughput and latency, durability on (every 200 is fsynced; group
#      commit shares fsyncs between concurrent pushes), at concurrency 1 and 32;
#   2. read p99 (3 entities x 3 features) on an idle server, then while 1,000,000-row
#      materializations run back to back through /materialize.
#
#   examples/loadtest/writes.sh [DURATION_SECONDS]     (default 8)
set -euo pipefail
duration=${1:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v wrk >/dev/null 2>&1 || { apt-get install -y -qq wrk >/dev/null 2>&1 || { echo "install wrk" >&2; exit 1; }; }
cargo build --release --locked -p edgefeat --examples >&2
target="${CARGO_TARGET_DIR:-$root/target}/release"
bin="$target/edgefeat"
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" -c "$work" init demo >/dev/null
demo="$work/demo"
"$target/examples/gen_source" "$demo/data/big.parquet" 1000000
cat > "$demo/big.yaml" <<'YAML'
data_sources:
  - name: big_source
    type: file
    path: data/big.parquet
    timestamp_field: event_timestamp
feature_views:
  - name: big_stats
    entities: [driver]
    source: big_source
    schema:
      - {name: conv_rate, dtype: Float32}
      - {name: acc_rate, dtype: Float32}
      - {name: avg_daily_trips, dtype: Int64}
YAML
"$bin" -c "$demo" apply >/dev/null
"$bin" -c "$demo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" -v driver_hourly_stats >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -c "$demo" serve --port "$port" --no-access-log >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done
clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

row() { # label, wrk output, cpu ticks delta
  local reqs rps p50 p99
  reqs=$(awk '/requests in/ {print $1}' <<<"$2"); rps=$(awk '/Requests\/sec/ {print $2}' <<<"$2")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$2"); p99=$(awk '$1 == "99%" {print $2}' <<<"$2")
  grep -q "Non-2xx" <<<"$2" && echo "warning: non-2xx answers in: $1" >&2
  echo "| $1 | $rps | $p50 | $p99 | $(python3 -c "print(f'{$3 / $clk * 1e6 / max($reqs, 1):.1f}')") µs |"
}

echo "| run | req/s | p50 | p99 | server CPU/req |"
echo "|---|---|---|---|---|"
for c in 1 32; do
  before=$(cpu_ticks)
  out=$(wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/push.lua "http://127.0.0.1:$port")
  row "push, 1 row, durable, c=$c" "$out" $(( $(cpu_ticks) - before ))
done

read_body='{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'
before=$(cpu_ticks)
out=$(BODY="$read_body" wrk -t1 -c8 -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:$port/get-online-features")
row "read 3 x 3, c=8, idle" "$out" $(( $(cpu_ticks) - before ))

# Materialize the 1M-row view back to back for as long as the read run lasts.
( end=$(( $(date +%s) + duration )); n=0
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -sf -X POST "http://127.0.0.1:$port/materialize" -d '{"disable_event_timestamp":true,"feature_views":["big_stats"]}' >/dev/null
    n=$((n + 1))
  done; echo "$n" > "$work/materializations" ) &
mat_pid=$!
sleep 0.3
before=$(cpu_ticks)
out=$(BODY="$read_body" wrk -t1 -c8 -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:$port/get-online-features")
row "read 3 x 3, c=8, during 1M-row materializations" "$out" $(( $(cpu_ticks) - before ))
wait "$mat_pid"
echo
echo "1M-row materializations completed during the read run: $(cat "$work/materializations")"
