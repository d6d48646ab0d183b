#!/usr/bin/env bash
# The 3 x 3 read load test, plain HTTP with no_auth vs HTTPS with OIDC and permissions, in the
# same run on the same repo, on this machine.
#
#   examples/loadtest/secure.sh [DURATION_SECONDS]     (default 8)
#
# Builds the release binary, creates the driver demo in a temp directory with a `readers`
# permission, materializes it, and makes a self-signed certificate, an RSA key, its JWKS
# file and an RS256 token carrying the `reader` role (openssl + python3). Two configurations
# of the same repo are served one after the other (never at once, so they do not compete for
# the cores):
#   plain:  http,  auth.type no_auth;
#   secure: https (--cert/--key), auth.type oidc with jwks_path, permission checked per request.
# For each concurrency (1, 8, 64) it runs wrk against plain then secure, and prints a
# Markdown table with req/s, p50, p99, server CPU per request and the secure/plain ratios.
# wrk keeps its connections open, so the TLS handshake is paid once per connection; the
# per-request cost measured is record encryption plus token and permission checks.
set -euo pipefail
duration=${1:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

for tool in wrk openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing (Debian: apt-get install $tool)" >&2; exit 1; }
done

cargo build --release --locked -p edgefeat >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/edgefeat"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

repo="$work/demo"
"$bin" -c "$work" init demo >/dev/null
cat >"$repo/permissions.yaml" <<'YAML'
permissions:
  - name: readers
    types: [FeatureView, OnDemandFeatureView, FeatureService]
    actions: [READ_ONLINE]
    policy:
      roles: [reader]
YAML
"$bin" -c "$repo" apply >/dev/null
"$bin" -c "$repo" materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)" >/dev/null

# TLS certificate, signing key, JWKS and token.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -keyout "$work/tls-key.pem" -out "$work/tls-cert.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/jwt-key.pem" 2>/dev/null
modulus=$(openssl rsa -in "$work/jwt-key.pem" -noout -modulus | cut -d= -f2)
b64url() { python3 -c 'import base64,sys; sys.stdout.write(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'; }
n=$(python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex('$modulus'))" | b64url)
printf '{"keys":[{"kty":"RSA","kid":"load","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}' "$n" >"$repo/jwks.json"
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT","kid":"load"}' | b64url)
payload=$(printf '{"iss":"https://idp.test/realms/edge","aud":"edgefeat","sub":"load","preferred_username":"load","iat":%d,"exp":%d,"resource_access":{"edgefeat":{"roles":["reader"]}}}' "$now" $((now + 7200)) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$work/jwt-key.pem" | b64url)
token="$header.$payload.$signature"
python3 - "$repo" <<'PY'
import sys
repo = sys.argv[1]
text = open(f"{repo}/feature_store.yaml").read()
oidc = """auth:
    type: oidc
    jwks_path: jwks.json
    client_id: edgefeat
    audience: edgefeat
    issuer: https://idp.test/realms/edge
"""
assert "auth:\n    type: no_auth\n" in text
open(f"{repo}/secure.yaml", "w").write(text.replace("auth:\n    type: no_auth\n", oidc))
PY

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
body='{"features":["driver_hourly_stats:conv_rate","driver_hourly_stats:acc_rate","driver_hourly_stats:avg_daily_trips"],"entities":{"driver_id":[1001,1002,1003]}}'

start_server() { # mode
  if [ "$1" = plain ]; then
    "$bin" -c "$repo" serve --port "$port" --no-access-log >"$work/server.log" 2>&1 &
    url="http://127.0.0.1:$port"
  else
    "$bin" -c "$repo" -f secure.yaml serve --port "$port" --no-access-log \
      --cert "$work/tls-cert.pem" --key "$work/tls-key.pem" >"$work/server.log" 2>&1 &
    url="https://127.0.0.1:$port"
  fi
  server_pid=$!
  for _ in $(seq 200); do
    curl -skf "$url/health" >/dev/null 2>&1 && break
    sleep 0.02
  done
  # One authenticated request must succeed before measuring, or the run is meaningless.
  status=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    -d "$body" "$url/get-online-features")
  [ "$status" = 200 ] || { echo "$1 server answered $status" >&2; cat "$work/server.log" >&2; exit 1; }
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

measure() { # mode concurrency -> "rps p50 p99 cpu_us"
  local tok=""
  [ "$1" = secure ] && tok="$token"
  local before after out reqs
  before=$(cpu_ticks)
  out=$(BODY="$body" TOKEN="$tok" wrk -t1 -c"$2" -d"${duration}s" --latency -s examples/loadtest/post.lua "$url/get-online-features")
  after=$(cpu_ticks)
  local errors
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  [ -n "$errors" ] && echo "warning ($1, c=$2): $errors" >&2
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "50%" {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") $(python3 -c "print(f'{($after - $before) / $clk * 1e6 / max($reqs, 1):.1f}')")"
}

declare -A result
for c in 1 8 64; do
  for mode in plain secure; do
    start_server "$mode"
    result[$mode,$c]=$(measure "$mode" "$c")
    stop_server
  done
done

echo "| concurrency | plain req/s | plain p50 | plain p99 | plain CPU/req | TLS+OIDC req/s | TLS+OIDC p50 | TLS+OIDC p99 | TLS+OIDC CPU/req | req/s ratio | CPU ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in 1 8 64; do
  read -r prps pp50 pp99 pcpu <<<"${result[plain,$c]}"
  read -r srps sp50 sp99 scpu <<<"${result[secure,$c]}"
  echo "| $c | $prps | $pp50 | $pp99 | $pcpu µs | $srps | $sp50 | $sp99 | $scpu µs | $(python3 -c "print(f'{$srps / $prps:.2f}')") | $(python3 -c "print(f'{$scpu / $pcpu:.2f}')") |"
done
