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
command -v wrk >/dev/null 2>&1 || { apt-get install -y -qq wrk >/dev/null 2>&1 || { echo "install wrk" >&2; exit 1; }; }
cargo build --release --locked -p edgefeat >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

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
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.05; done
done

body='{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'
for name in "${names[@]}"; do
  check=$(curl -fs -X POST "http://127.0.0.1:${ports[$name]}/get-online-features" -d "$body")
  grep -q '"PRESENT","PRESENT","PRESENT"' <<<"$check" || { echo "$name did not serve the demo: $check" >&2; exit 1; }
  BODY="$body" wrk -t1 -c8 -d1s -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features" >/dev/null
done

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
results="$work/results.tsv"
for c in 1 8 64; do
  for round in $(seq "$rounds"); do
    for name in "${names[@]}"; do
      pid=${server_pids[$name]}
      before=$(cpu_ticks "$pid")
      out=$(BODY="$body" wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features")
      after=$(cpu_ticks "$pid")
      errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
      [ -n "$errors" ] && echo "warning: $name: $errors" >&2
      reqs=$(awk '/requests in/ {print $1}' <<<"$out")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$round" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
        "$(python3 -c "print(($after - $before) / $clk * 1e6 / max($reqs, 1))")" >>"$results"
    done
  done
done
python3 - "$results" <<'PY'
import statistics, sys
def us(t):  # wrk prints 65.00us, 1.22ms, 2.01s
    for unit, f in (("us", 1), ("ms", 1e3), ("s", 1e6)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * f
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| store | concurrency | req/s | p50 | p99 | server CPU/req | vs lmdb (req/s) |")
print("|---|---|---|---|---|---|---|")
seen = []
for name, c, *_ in rows:
    if (name, c) not in seen:
        seen.append((name, c))
med = lambda rs, i, f=float: statistics.median(f(r[i]) for r in rs)
for name, c in seen:
    rs = [r for r in rows if r[0] == name and r[1] == c]
    base = [r for r in rows if r[0] == "lmdb" and r[1] == c]
    ratio = med(rs, 3) / med(base, 3)
    print(f"| {name} | {c} | {med(rs, 3):.0f} | {med(rs, 4, us):.0f} µs | {med(rs, 5, us):.0f} µs | {med(rs, 6):.1f} µs | {ratio:.2f}× |")
PY
