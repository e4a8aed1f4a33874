#!/usr/bin/env bash
# The large-dataset benchmark (crates/keycard-bench/src/large.rs): 1,000,000 accounts, 100,000
# groups nested 5 deep, 10,000 roles, 19,980,000 memberships and grants. The first run loads them
# into a SQLite database (about 8 minutes here, 3.4 GB, kept in target/ for later runs); every run
# then measures the snapshot build from the store, its memory, checks per second on one and two
# threads beside a std-map reference, and write-to-decision latency over 200 writes.
#
#   bash bench/large.sh [DIVISOR]     DIVISOR shrinks accounts, groups and queries (quick runs)
set -euo pipefail
cd "$(dirname "$0")/.."
divisor="${1:-1}"
cargo build -q --release -p keycard-bench --bin large
db="$PWD/target/bench-large-$divisor.db"
./target/release/large "sqlite://$db?mode=rwc" "$divisor"
