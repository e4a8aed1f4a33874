#!/usr/bin/env bash
# The HTTP benchmark: wrk -t1 -c64 (keep-alive) on the peer workload against, in one run,
#   1. Keycard's POST /access/v1/evaluation (release build, SQLite),
#   2. a bare axum handler that parses the same JSON POST (the ceiling),
#   3. Cerbos (npm @cerbos/cerbos-linux-x64), with the same grants as resource policies.
# Prints requests/s, p50 and p99 for each, and Keycard's ratios. Loopback only; every server
# started here is stopped at the end.
#
# With `one-worker`, every server runs one worker thread (TOKIO_WORKER_THREADS=1, GOMAXPROCS=1),
# so that the server and wrk, one busy thread each, do not take turns on the two cores: the latency
# figures are then the server's own more than the scheduler's. With `pinned`, in addition, the
# servers are held to CPU 0 and wrk to CPU 1.
#
#   bash bench/http.sh [DURATION_SECONDS] [one-worker|pinned]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
server_cpu=() load_cpu=()
case "${2:-}" in
  "") ;;
  one-worker) export TOKIO_WORKER_THREADS=1 GOMAXPROCS=1 ;;
  pinned)
    server_cpu=(taskset -c 0) load_cpu=(taskset -c 1)
    export TOKIO_WORKER_THREADS=1 GOMAXPROCS=1 ;;
  *) echo "usage: bash bench/http.sh [DURATION_SECONDS] [one-worker|pinned]" >&2; exit 2 ;;
esac
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
cargo build -q --release -p keycard -p keycard-bench --bins

echo "== loading the peer workload"
./target/release/peer-load "sqlite://$work/keycard.db" "$work" >/dev/null
key="$(KEYCARD_ADMIN_PASSWORD=bench-admin-password ./target/release/keycard admin create-key --database "sqlite://$work/keycard.db" --username admin)"

wait_for() { # FILE PATTERN: prints the address a server announced
  for _ in $(seq 1 300); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -o "$2[^ ]*" "$1" | head -1 | sed "s|$2||"; return 0; fi
    sleep 0.1
  done
  echo "server did not start: $1" >&2; cat "$1" >&2; return 1
}

KEYCARD_LOG=warn "${server_cpu[@]}" ./target/release/keycard serve --listen 127.0.0.1:0 --database "sqlite://$work/keycard.db" 2>"$work/keycard.log" &
pids+=($!)
keycard_url="$(wait_for "$work/keycard.log" "keycard: listening on ")"
"${server_cpu[@]}" ./target/release/bare-axum 127.0.0.1:0 2>"$work/bare.log" &
pids+=($!)
bare_url="$(wait_for "$work/bare.log" "bare-axum: listening on ")"

cerbos_dir="$work/cerbos-npm"
mkdir -p "$cerbos_dir"
(cd "$cerbos_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error @cerbos/cerbos-linux-x64@0.55.0 >/dev/null)
cat >"$work/cerbos.yaml" <<YAML
server:
  httpListenAddr: "127.0.0.1:35920"
  grpcListenAddr: "127.0.0.1:35930"
storage:
  driver: disk
  disk:
    directory: $work/cerbos-policies
audit:
  enabled: false
YAML
"${server_cpu[@]}" "$cerbos_dir/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64" server --config="$work/cerbos.yaml" >"$work/cerbos.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -sf http://127.0.0.1:35920/_cerbos/health >/dev/null && break; sleep 0.1; done

echo "== checking that each server answers the workload as defined"
verify() { # NAME URL BODIES AUTH JQ-EXPR
  local n=0 wrong=0
  while IFS= read -r body && IFS= read -r expected <&3; do
    got="$(curl -s -X POST "$2" -H 'content-type: application/json' ${4:+-H "authorization: $4"} -d "$body" | python3 -c "$5")"
    [ "$got" = "$expected" ] || wrong=$((wrong + 1))
    n=$((n + 1)); [ $n -ge 200 ] && break
  done <"$3" 3<"$work/expected.txt"
  echo "$1: $wrong of $n sampled decisions differ from the workload"
  [ "$wrong" -eq 0 ]
}
verify keycard "$keycard_url/access/v1/evaluation" "$work/authzen.jsonl" "Bearer $key" 'import json,sys; print(1 if json.load(sys.stdin)["decision"] else 0)'
verify cerbos "http://127.0.0.1:35920/api/check/resources" "$work/cerbos.jsonl" "" 'import json,sys; r=json.load(sys.stdin)["results"][0]["actions"]; print(1 if list(r.values())[0]=="EFFECT_ALLOW" else 0)'

run() { # NAME URL BODIES AUTH
  BODIES="$3" AUTH="$4" "${load_cpu[@]}" wrk -t1 -c64 -d"${duration}s" --latency -s bench/wrk-bodies.lua "$2" | grep RESULT | sed "s/^RESULT/$1/"
}
echo "== wrk -t1 -c64 -d${duration}s${2:+ ($2)}"
keycard_line="$(run keycard "$keycard_url/access/v1/evaluation" "$work/authzen.jsonl" "Bearer $key")"
bare_line="$(run bare-axum "$bare_url/access/v1/evaluation" "$work/authzen.jsonl" "")"
cerbos_line="$(run cerbos "http://127.0.0.1:35920/api/check/resources" "$work/cerbos.jsonl" "")"
printf '%s\n%s\n%s\n' "$keycard_line" "$bare_line" "$cerbos_line"
rate() { echo "$1" | sed -E 's/.*requests_per_sec=([0-9]+).*/\1/'; }
python3 - "$(rate "$keycard_line")" "$(rate "$bare_line")" "$(rate "$cerbos_line")" <<'PY'
import sys
keycard, bare, cerbos = map(float, sys.argv[1:])
print(f"keycard / bare axum: {keycard / bare:.0%}")
print(f"keycard / cerbos:    {keycard / cerbos:.1f}x")
PY
