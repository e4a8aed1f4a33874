#!/usr/bin/env bash
# Starts this machine's PostgreSQL (installing it if missing), makes the `keycard` role, drops test
# databases left over from earlier runs, and prints the admin URL the test suites take as
# KEYCARD_TEST_POSTGRES_URL. Idempotent.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  apt-get update -q >&2 && apt-get install -y -q postgresql >&2
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
if ! pg_ctlcluster "$version" main status >/dev/null 2>&1; then
  pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 && break; sleep 0.1; done
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'keycard'")" != "1" ]; then
  psql_admin "CREATE ROLE keycard LOGIN SUPERUSER PASSWORD 'keycard'" >&2
else
  # A `keycard` role made elsewhere may lack what the suites need (creating and dropping their
  # databases, logging in with this password): give it that rather than fail later.
  psql_admin "ALTER ROLE keycard LOGIN SUPERUSER CREATEDB PASSWORD 'keycard'" >&2
fi
for db in $(psql_admin "SELECT datname FROM pg_database WHERE datname LIKE 'kc_test_%'"); do
  psql_admin "DROP DATABASE $db" >&2
done
port="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')"
echo "postgres://keycard:keycard@127.0.0.1:${port:-5432}/postgres"
