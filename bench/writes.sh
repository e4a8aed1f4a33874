#!/usr/bin/env bash
# Concurrent writers over HTTP: wrk creates roles through POST /v1/roles (release build, SQLite, an
# administrator's API key) with 1, 4 and 16 connections in one run, and prints writes/s, p50 and
# p99 for each, with the ratios to one connection (issue 13: with 4 and 16 writers, p99 within 5x of
# one writer's and throughput at least one writer's). Loopback only; the server is stopped at the end.
#
#   bash bench/writes.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
cargo build -q --release -p keycard
db="sqlite://$work/keycard.db"
./target/release/keycard migrate --database "$db" >/dev/null
key="$(KEYCARD_ADMIN_PASSWORD=bench-admin-password ./target/release/keycard admin create-key --database "$db" --username admin)"
KEYCARD_LOG=warn ./target/release/keycard serve --listen 127.0.0.1:0 --database "$db" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 300); do grep -q "keycard: listening on " "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'keycard: listening on [^ ]*' "$work/serve.log" | head -1 | sed 's/keycard: listening on //')"
declare -A rate p99
for connections in 1 4 16; do
  line="$(AUTH="Bearer $key" PREFIX="c$connections" wrk -t1 -c"$connections" -d"${duration}s" \
    -s bench/wrk-roles.lua "$base" | grep '^RESULT')"
  echo "writers=$connections ${line#RESULT }"
  rate[$connections]="$(sed -E 's/.*requests_per_sec=([0-9.]+).*/\1/' <<<"$line")"
  p99[$connections]="$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")"
  errors="$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line")"
  [ "$errors" = "0" ] || { echo "$errors requests failed" >&2; exit 1; }
done
for connections in 4 16; do
  awk -v c="$connections" -v r="${rate[$connections]}" -v r1="${rate[1]}" -v p="${p99[$connections]}" -v p1="${p99[1]}" \
    'BEGIN { printf "writers=%s throughput / one writer: %.2f, p99 / one writer: %.2f\n", c, r / r1, p / p1 }'
done
