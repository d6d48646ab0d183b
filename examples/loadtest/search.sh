#!/usr/bin/env bash
# Load test of /search (exact vector search) with wrk, on this machine.
#
#   examples/loadtest/search.sh [DURATION_SECONDS] [DOCUMENTS] [DIMENSIONS]
#                                (defaults: 10, 100000, 384)
#
# Builds the release binary, creates the `rag` template in a temp directory with its vector
# field widened to DIMENSIONS, pushes DOCUMENTS documents with deterministic pseudo-random
# embeddings over /push (1,000 per request), then measures:
#   - the first search (it loads the view's vectors from LMDB into memory);
#   - a v2 top-10 search, unfiltered and with a filter that 1 document in 8 passes, at
#     concurrency 1 and 8: req/s, p50, p99 (wrk), server CPU per request, RSS.
# Prints a Markdown table for BENCHMARKS.md. wrk runs on the same machine (1 thread).
set -euo pipefail
duration=${1:-10}
docs=${2:-100000}
dim=${3:-384}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

command -v wrk >/dev/null 2>&1 || { echo "wrk is missing: install it (Debian: apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked -p edgefeat >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" -c "$work" init docs --template rag >/dev/null
sed -i "s/vector_length: 8/vector_length: $dim/" "$work/docs/feature_definitions.yaml"
"$bin" -c "$work/docs" apply >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -c "$work/docs" --log-level info serve --port "$port" --no-access-log >"$work/server.log" 2>&1 &
server_pid=$!

# Pushes the documents and writes the query bodies; prints the first search's latency.
first_ms=$(python3 - "$port" "$docs" "$dim" "$work" <<'PY'
import http.client, json, random, sys, time
port, docs, dim, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
topics = ["databases", "networking", "compilers", "security", "graphics",
          "machine learning", "operating systems", "distributed systems"]
deadline = time.time() + 10
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("GET", "/health")
        r = c.getresponse(); r.read()
        if r.status == 200:
            break
    except (OSError, http.client.HTTPException):
        if time.time() > deadline:
            sys.exit("the server did not start")
        time.sleep(0.05)
rng = random.Random(42)
started = time.time()
for start in range(0, docs, 1000):
    ids = list(range(start + 1, min(start + 1000, docs) + 1))
    df = {
        "doc_id": ids,
        "title": [f"document {i}" for i in ids],
        "category": [topics[i % 8] for i in ids],
        "year": [2019 + i % 7 for i in ids],
        "embedding": [[round(rng.uniform(-1, 1), 4) for _ in range(dim)] for _ in ids],
        "event_timestamp": ["2026-01-01T00:00:00"] * len(ids),
        "created": ["2026-01-01T00:00:00"] * len(ids),
    }
    body = json.dumps({"push_source_name": "documents_push_source", "df": df})
    c.request("POST", "/push", body, {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"push failed: {r.status}")
print(f"pushed {docs} documents of {dim} dimensions in {time.time() - started:.1f} s", file=sys.stderr)
query = [round(rng.uniform(-1, 1), 4) for _ in range(dim)]
plain = {"features": ["documents:title", "documents:category"], "query": query, "top_k": 10, "api_version": 2}
filtered = dict(plain, filters={"type": "eq", "key": "category", "value": "security"})
for name, body in (("plain", plain), ("filtered", filtered)):
    open(f"{work}/{name}.json", "w").write(json.dumps(body))
t = time.time()
c.request("POST", "/search", json.dumps(plain), {"Content-Type": "application/json"})
r = c.getresponse(); out = json.loads(r.read())
assert r.status == 200 and len(out["results"][0]["values"]) == 10, out
print(f"{(time.time() - t) * 1000:.0f}")
PY
)
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
clk=$(getconf CLK_TCK)
loaded=$(grep -o 'vectors loaded in [0-9.]* ms' "$work/server.log" | tail -1 || true)

echo "$docs documents x $dim dimensions; first search: ${first_ms} ms ($loaded); RSS after: $(( $(rss_kb) / 1024 )) MiB"
echo
echo "| search | concurrency | req/s | p50 | p99 | server CPU/req | RSS |"
echo "|---|---|---|---|---|---|---|"
for name in plain filtered; do
  for c in 1 8; do
    before=$(cpu_ticks)
    out=$(BODY="$(cat "$work/$name.json")" wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:$port/search")
    after=$(cpu_ticks)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -n "$errors" ] && echo "warning: $errors" >&2
    cpu_ms=$(python3 -c "print(f'{($after - $before) / $clk * 1e3 / max($reqs, 1):.1f}')")
    echo "| top-10, $name | $c | $rps | $p50 | $p99 | ${cpu_ms} ms | $(( $(rss_kb) / 1024 )) MiB |"
  done
done
