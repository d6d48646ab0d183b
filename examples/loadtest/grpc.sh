#!/usr/bin/env bash
# gRPC vs HTTP on one server: the same reads through both fronts of one `edgefeat serve
# --grpc-port`, by one load generator that speaks both (grpc_load.rs), so that the fronts
# differ and nothing else does.
#
#   examples/loadtest/grpc.sh [DURATION_SECONDS] [ROUNDS]     (defaults 8 and 3)
#
# Reads the driver demo's three driver_hourly_stats features for 3 and for 100 driver ids, at
# concurrency 1 and 64; the fronts take turns within each round. Prints, per cell, the medians
# over the rounds (req/s, p50, p99, server CPU per request) and gRPC's req/s over HTTP's.
set -euo pipefail
duration=${1:-8}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=examples/loadtest/lib.sh
source examples/loadtest/lib.sh
prepare
cargo build --release --locked -p edgefeat --example grpc-load >&2
load="$target/release/examples/grpc-load"

"$bin" -c "$work" init demo >/dev/null
"$bin" -c "$work/demo" apply >/dev/null
"$bin" -c "$work/demo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null
http_port=$(free_port)
grpc_port=$(free_port)
"$bin" -c "$work/demo" serve --port "$http_port" --grpc-port "$grpc_port" --no-access-log \
  >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
wait_healthy "$http_port"

for n in 3 100; do
  for c in 1 64; do
    for round in $(seq "$rounds"); do
      for front in http grpc; do
        port=$http_port
        [ "$front" = grpc ] && port=$grpc_port
        "$load" --front "$front" --addr "127.0.0.1:$port" --entities "$n" --concurrency "$c" \
          --duration "$duration" --server-pid "$server" >>"$work/results.tsv"
      done
    done
  done
done

python3 - "$work/results.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| entities x features | concurrency | front | req/s | p50 | p99 | server CPU/req | gRPC / HTTP (req/s) |")
print("|---|---|---|---|---|---|---|---|")
cells = []
for front, n, c, *_ in rows:
    if (n, c) not in cells:
        cells.append((n, c))
for n, c in cells:
    med = {}
    for front in ("http", "grpc"):
        rs = [r for r in rows if r[:3] == [front, n, c]]
        med[front] = [statistics.median(float(r[i]) for r in rs) for i in (4, 5, 6, 7)]
    ratio = med["grpc"][0] / med["http"][0]
    for front in ("http", "grpc"):
        rps, p50, p99, cpu = med[front]
        last = f"{ratio:.2f}×" if front == "grpc" else ""
        print(f"| {n} x 3 | {c} | {front} | {rps:,.0f} | {p50:.0f} µs | {p99:.0f} µs | {cpu:.1f} µs | {last} |")
PY
