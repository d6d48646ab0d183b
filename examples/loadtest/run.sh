#!/usr/bin/env bash
# Load test of `edgefeat serve` with a real load generator (wrk), on this machine.
#
#   examples/loadtest/run.sh [DURATION_SECONDS]     (default 8)
#
# Builds the release binary, creates the driver demo in a temp directory, materializes it,
# starts the server (no access log) and measures:
#   - the time from start to the first 200 on /health, and idle RSS;
#   - for 1 entity x 3 features, 3 x 3 and 100 x 3, at concurrency 1, 8 and 64:
#     req/s, p50 and p99 latency (wrk), server CPU per request (utime+stime from /proc) and RSS.
# Prints a Markdown table for BENCHMARKS.md. wrk runs on the same machine (1 thread), so it
# takes CPU from the server: quote its figures with that in mind.
set -euo pipefail
duration=${1:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
  else
    echo "wrk is missing: install it (Debian: apt-get install wrk)" >&2
    exit 1
  fi
fi

cargo build --release --locked -p edgefeat >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" -c "$work" init demo >/dev/null
"$bin" -c "$work/demo" apply >/dev/null
"$bin" -c "$work/demo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_ns=$(date +%s%N)
"$bin" -c "$work/demo" serve --port "$port" --no-access-log >"$work/server.log" 2>&1 &
server_pid=$!
first_200_ms=$(python3 - "$port" "$start_ns" <<'PY'
import http.client, sys, time
port, start = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 10
while time.time() < deadline:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/health")
        if c.getresponse().status == 200:
            print(f"{(time.time_ns() - start) / 1e6:.1f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.002)
sys.exit("the server did not answer /health within 10 s")
PY
)
sleep 0.5
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
idle_rss=$(rss_kb)
clk=$(getconf CLK_TCK)

ids() { python3 -c "import sys; print(','.join(str(1001 + i) for i in range(int(sys.argv[1]))))" "$1"; }
body() {
  printf '{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[%s]}}' "$(ids "$1")"
}

echo "start to first 200 on /health: ${first_200_ms} ms; idle RSS: $((idle_rss / 1024)) MiB"
echo
echo "| entities x features | concurrency | req/s | p50 | p99 | server CPU/req | RSS |"
echo "|---|---|---|---|---|---|---|"
for n in 1 3 100; do
  for c in 1 8 64; do
    before=$(cpu_ticks)
    out=$(BODY="$(body "$n")" wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:$port/get-online-features")
    after=$(cpu_ticks)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -n "$errors" ] && echo "warning: $errors" >&2
    cpu_us=$(python3 -c "print(f'{($after - $before) / $clk * 1e6 / max($reqs, 1):.1f}')")
    echo "| $n x 3 | $c | $rps | $p50 | $p99 | ${cpu_us} µs | $(( $(rss_kb) / 1024 )) MiB |"
  done
done
