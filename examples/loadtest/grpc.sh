#!/usr/bin/env bash
# gRPC vs HTTP on one server: the same reads through both fronts of one `edgefeat serve
# --grpc-port`, by one load generator that speaks both (grpc_load.rs), so that the fronts
# differ and nothing else does.
#
#   examples/loadtest/grpc.sh [DURATION_SECONDS] [ROUNDS]     (defaults 8 and 3)
#
# Reads the driver demo's three driver_hourly_stats features for 3 and for 100 driver ids, at
# concurrency 1 and 64; the clients take turns within each round. Prints, per cell, the
# medians over the rounds (req/s, p50, p99, server CPU per request) and each gRPC client's
# req/s over HTTP's.
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

# Three clients per cell: HTTP/1.1 with a connection per worker (wrk's model), gRPC the same
# way, and gRPC with every worker's calls multiplexed on one HTTP/2 connection (what a gRPC
# client's channel does).
for n in 3 100; do
  for c in 1 64; do
    for round in $(seq "$rounds"); do
      for label in http grpc grpc-1conn; do
        case $label in
          http) args=(--front http --addr "127.0.0.1:$http_port") ;;
          grpc) args=(--front grpc --addr "127.0.0.1:$grpc_port") ;;
          grpc-1conn) args=(--front grpc --connections 1 --addr "127.0.0.1:$grpc_port") ;;
        esac
        printf '%s\t' "$label" >>"$work/results.tsv"
        "$load" "${args[@]}" --entities "$n" --concurrency "$c" --duration "$duration" \
          --server-pid "$server" | cut -f2- >>"$work/results.tsv"
      done
    done
  done
done

python3 - "$work/results.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
labels = ["http", "grpc", "grpc-1conn"]
print("| entities x features | concurrency | client | req/s | p50 | p99 | server CPU/req | req/s vs HTTP |")
print("|---|---|---|---|---|---|---|---|")
cells = []
for label, n, c, *_ in rows:
    if (n, c) not in cells:
        cells.append((n, c))
for n, c in cells:
    med = {}
    for label in labels:
        rs = [r for r in rows if r[:3] == [label, n, c]]
        med[label] = [statistics.median(float(r[i]) for r in rs) for i in (4, 5, 6, 7)]
    for label in labels:
        rps, p50, p99, cpu = med[label]
        ratio = f"{rps / med['http'][0]:.2f}×" if label != "http" else ""
        print(f"| {n} x 3 | {c} | {label} | {rps:,.0f} | {p50:.0f} µs | {p99:.0f} µs | {cpu:.1f} µs | {ratio} |")
PY
