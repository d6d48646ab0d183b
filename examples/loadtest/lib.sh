# Shared by the load tests (sqlite.sh, redis.sh, adapters.sh, python.sh): sourced, not run.
# The caller sets `names` (the servers, in turn order), `ports[name]`, `server_pids[name]`,
# `body` (or `bodies[name]`, an associative array, for a body per server), `duration`,
# `rounds` and `work`, then calls `measure "1 8 64"` and `summarize BASELINE`.

# Installs the tools named (wrk always) when missing, builds the release binary, and sets
# `target`, `bin`, `work` (a temp directory) and `pids` (processes killed on exit).
prepare() {
  local tool
  for tool in wrk "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { apt-get install -y -qq "$tool" >/dev/null 2>&1 || { echo "install $tool" >&2; exit 1; }; }
  done
  cargo build --release --locked -p edgefeat >&2
  target="${CARGO_TARGET_DIR:-$root/target}"
  bin="$target/release/edgefeat"
  work=$(mktemp -d)
  pids=()
  trap cleanup EXIT
}
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until a server answers `/health` (at most 60 s).
wait_healthy() {
  local port=$1 tries=0
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 1200 ] || { echo "the server on port $port did not start" >&2; return 1; }
    sleep 0.05
  done
}

clk=$(getconf CLK_TCK)
# CPU ticks (user + system) of a process and its children: a Feast server is a gunicorn
# master and its workers.
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# One wrk run per (concurrency, round, server); the servers take turns so that noise on a
# shared machine does not fall on one of them only. Appends to $work/results.tsv.
measure() {
  local c round name pid before after out reqs this_body
  for c in $1; do
    for round in $(seq "$rounds"); do
      for name in "${names[@]}"; do
        pid=${server_pids[$name]}
        before=$(cpu_ticks "$pid")
        local this_body=$body
        if declare -p bodies >/dev/null 2>&1 && [ -n "${bodies[$name]:-}" ]; then
          this_body=${bodies[$name]}
        fi
        out=$(BODY="$this_body" wrk -t1 -c"$c" -d"${duration}s" --latency -s examples/loadtest/post.lua "http://127.0.0.1:${ports[$name]}/get-online-features")
        after=$(cpu_ticks "$pid")
        if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
          echo "warning: $name c=$c: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2
        fi
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$round" \
          "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
          "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
          "$(python3 -c "print(($after - $before) / $clk * 1e6 / max($reqs, 1))")" >>"$work/results.tsv"
      done
    done
  done
}

# The medians of the rounds, as a Markdown table, with each server's req/s against BASELINE's.
summarize() {
  python3 - "$work/results.tsv" "$1" <<'PY'
import statistics, sys
def us(t):  # wrk prints 65.00us, 1.22ms, 2.01s
    for unit, f in (("us", 1), ("ms", 1e3), ("s", 1e6)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * f
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
baseline = sys.argv[2]
print(f"| server | concurrency | req/s | p50 | p99 | server CPU/req | vs {baseline} (req/s) |")
print("|---|---|---|---|---|---|---|")
seen = []
for name, c, *_ in rows:
    if (name, c) not in seen:
        seen.append((name, c))
med = lambda rs, i, f=float: statistics.median(f(r[i]) for r in rs)
for name, c in seen:
    rs = [r for r in rows if r[0] == name and r[1] == c]
    base = [r for r in rows if r[0] == baseline and r[1] == c]
    ratio = med(rs, 3) / med(base, 3)
    print(f"| {name} | {c} | {med(rs, 3):.0f} | {med(rs, 4, us):.0f} µs | {med(rs, 5, us):.0f} µs | {med(rs, 6):.1f} µs | {ratio:.2f}× |")
PY
}
