#!/usr/bin/env bash
# Starts a release `keycard serve` on a fresh SQLite database and sends malformed requests (bad
# JSON, wrong types, odd ids, bad query parameters) to every route the server defines, with an
# administrator's API key. Fails if any answer is a 5xx or the server stops answering: a client
# mistake must get a 4xx in the API's own shape. Takes about a minute; not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p keycard
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
db="sqlite://$work/keycard.db"
./target/release/keycard migrate --database "$db" >/dev/null
key="$(KEYCARD_ADMIN_PASSWORD=probe-password-123 ./target/release/keycard admin create-key --database "$db" --username admin)"
KEYCARD_LOG=warn ./target/release/keycard serve --listen 127.0.0.1:0 --database "$db" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "keycard: listening on " "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'keycard: listening on [^ ]*' "$work/serve.log" | head -1 | sed 's/keycard: listening on //')"
# Every route template: those the faces register, and the native API's from openapi.json.
{
  grep -rhoE '\.route\(\s*"[^"]+"' crates/keycard-server/src | sed -E 's/.*"([^"]+)"/\1/'
  grep -rhoE '^\s*"/(api|authorization|access|login|whoami|logout|oauth|health|\.well-known)[^"]*"' crates/keycard-server/src | sed -E 's/.*"([^"]+)"/\1/'
  python3 -c 'import json; print("\n".join(json.load(open("openapi.json"))["paths"]))'
} | sort -u >"$work/routes.txt"
python3 scripts/probe-bad-input.py "$base" "$key" "$work/routes.txt"
curl -sf "$base/healthz" >/dev/null || { echo "the server stopped answering" >&2; exit 1; }
! grep -qi panic "$work/serve.log" || { echo "the server logged a panic" >&2; exit 1; }
echo "no 5xx, no panic"
