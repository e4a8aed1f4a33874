#!/usr/bin/env bash
# The decision log's cost: the HTTP benchmark (wrk -t1 -c64, POST /access/v1/evaluation on the
# peer workload) against two Keycard servers on one database, in the same run: one with the
# decision log off, one writing every decision to a file (sample 1), then one writing only the
# denials. Each is measured twice, alternating, and the best run of each is kept. Prints
# requests/s and p99 for each, and the ratios to the log off.
#
#   bash bench/decision-log.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
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
start() { # NAME [ENV...]: starts a server in the background; its log is $work/NAME.log
  env KEYCARD_LOG=warn "${@:2}" ./target/release/keycard serve --listen 127.0.0.1:0 --database "sqlite://$work/keycard.db" >/dev/null 2>"$work/$1.log" &
  pids+=($!)
}
start off
start on KEYCARD_DECISION_LOG="$work/decisions.jsonl"
start denied KEYCARD_DECISION_LOG="$work/denied.jsonl" KEYCARD_DECISION_LOG_ONLY_DENIED=true
off_url="$(wait_for "$work/off.log" "keycard: listening on ")"
on_url="$(wait_for "$work/on.log" "keycard: listening on ")"
denied_url="$(wait_for "$work/denied.log" "keycard: listening on ")"

run() { # NAME URL
  BODIES="$work/authzen.jsonl" AUTH="Bearer $key" wrk -t1 -c64 -d"${duration}s" --latency -s bench/wrk-bodies.lua "$2/access/v1/evaluation" | grep RESULT | sed "s/^RESULT/$1/"
}
echo "== wrk -t1 -c64 -d${duration}s, each twice"
lines=()
for round in 1 2; do
  lines+=("$(run off "$off_url")" "$(run on "$on_url")" "$(run denied "$denied_url")")
done
printf '%s\n' "${lines[@]}"
echo "decision log lines written: $(wc -l <"$work/decisions.jsonl") (all), $(wc -l <"$work/denied.jsonl") (denials)"
python3 - "${lines[@]}" <<'PY'
import re, sys
best = {}
for line in sys.argv[1:]:
    name = line.split()[0]
    rate = float(re.search(r"requests_per_sec=([0-9.]+)", line).group(1))
    p99 = re.search(r"p99_ms=([^ ]+)", line)
    if name not in best or rate > best[name][0]:
        best[name] = (rate, p99.group(1) if p99 else "?")
off = best["off"][0]
for name in ("off", "on", "denied"):
    rate, p99 = best[name]
    print(f"{name:>6}: {rate:9.0f} requests/s, p99 {p99}, {rate / off:.0%} of the log off")
PY
