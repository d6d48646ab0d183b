#!/usr/bin/env bash
# Load test of Feast's Redis online store layout (wrk on this machine): 3 drivers x 3 features
# read from
#   - lmdb:           the demo as `edgefeat init` makes it (the embedded LMDB store): the
#                     baseline
#   - redis:          the Feast fixture repo (tests/fixtures/feast-0.67, its Redis variant)
#                     served by edgefeat from a redis-server on loopback holding the keys Feast
#                     wrote (redis/redis-dump.txt)
#   - feast:          with FEAST=/path/to/feast (Feast 0.67 with the `redis` package), `feast
#                     serve` over the same repo and the same Redis, with both cores
#                     (`--workers 2`) and no access log
# at concurrency 1 and 64 (and 8), in the same run. The servers take turns, ROUNDS times
# (default 3), and each figure is the median of its rounds. Server CPU per request counts the
# server process and its children (Feast's gunicorn workers), not redis-server.
#
#   [FEAST=.../bin/feast] examples/loadtest/redis.sh [DURATION_SECONDS] [ROUNDS]   (8 and 3)
set -euo pipefail
duration=${1:-8}
rounds=${2:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source examples/loadtest/lib.sh
prepare redis-server

redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done
# Feast's keys, byte for byte, sent as RESP (no client library needed).
python3 - "$redis_port" tests/fixtures/feast-0.67/redis/redis-dump.txt <<'PY'
import socket, sys
def resp(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
lines = [l.rstrip("\n").split(" ") for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
s.sendall(b"".join(resp(b"HSET", *(bytes.fromhex(p) for p in (l + [""])[:3])) for l in lines))
got = b""
while got.count(b"\r\n") < len(lines):
    got += s.recv(65536)
PY

# The baseline: the demo on LMDB.
mkdir -p "$work/lmdb"
"$bin" -c "$work/lmdb" init demo >/dev/null
"$bin" -c "$work/lmdb/demo" apply >/dev/null
"$bin" -c "$work/lmdb/demo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null

# The Feast repo, as its Redis variant left it.
feast_repo="$work/feast_repo"
cp -r tests/fixtures/feast-0.67 "$feast_repo"
chmod -R u+w "$feast_repo"
cp "$feast_repo/redis/registry.db" "$feast_repo/data/registry.db"
rm -f "$feast_repo/data/online_store.db"
sed "s/127.0.0.1:16379/127.0.0.1:$redis_port/" "$feast_repo/redis/feature_store.yaml" >"$feast_repo/feature_store.yaml"

names=(lmdb redis)
declare -A ports server_pids
start() {
  local name=$1
  shift
  ports[$name]=$(free_port)
  "$@" --port "${ports[$name]}" >"$work/$name.log" 2>&1 &
  pids+=($!)
  server_pids[$name]=$!
  wait_healthy "${ports[$name]}"
}
start lmdb "$bin" -c "$work/lmdb/demo" serve --no-access-log
start redis "$bin" -c "$feast_repo" serve --no-access-log
if [ -n "${FEAST:-}" ]; then
  names+=(feast)
  # Feast's defaults restart a worker every 1000 requests; a larger limit spares it that.
  ports[feast]=$(free_port)
  (cd "$feast_repo" && exec "$FEAST" serve --workers 2 --no-access-log --max-requests 1000000 --port "${ports[feast]}") >"$work/feast.log" 2>&1 &
  pids+=($!)
  server_pids[feast]=$!
  wait_healthy "${ports[feast]}"
fi

body='{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'
for name in "${names[@]}"; do
  check=$(curl -fs -X POST -H 'Content-Type: application/json' "http://127.0.0.1:${ports[$name]}/get-online-features" -d "$body")
  grep -q '"PRESENT","PRESENT","PRESENT"' <<<"$check" || { echo "$name did not serve the drivers: $check" >&2; exit 1; }
  BODY="$body" wrk -t1 -c8 -d1s -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features" >/dev/null
done

measure "1 8 64"
summarize lmdb
