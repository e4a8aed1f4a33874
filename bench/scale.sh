#!/usr/bin/env bash
# Write throughput on SQLite vs PostgreSQL and write-to-decision propagation between two nodes on
# PostgreSQL, in one run. Starts this machine's PostgreSQL if needed.
#   bash bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
admin="$(bash scripts/postgres.sh)"
cargo build -q --release -p keycard-bench --bin scale
./target/release/scale "$admin"
