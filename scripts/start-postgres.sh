#!/usr/bin/env bash
# Starts a PostgreSQL server on 127.0.0.1:5432 for the tests (Debian's package; installed
# by scripts/test-all.sh) and makes sure the role `ades` (password `ades`, allowed to create
# databases: each test makes its own) exists. Prints the URL to give ADES_TEST_POSTGRES_URL.
set -euo pipefail

# Only the URL may reach standard output: callers capture it. Everything the tools say
# (pg_ctlcluster prints notices such as "Removed stale pid file." on stdout) goes to stderr.
exec 3>&1 1>&2

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; elif [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; else sudo -u postgres "$@"; fi
}

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$version main"; then
  as_root=$( [ "$(id -u)" -eq 0 ] && echo "" || echo sudo )
  $as_root pg_createcluster "$version" main 3>&-
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  as_root=$( [ "$(id -u)" -eq 0 ] && echo "" || echo sudo )
  $as_root pg_ctlcluster "$version" main start 3>&-
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; exit 1; }
as_postgres psql -q -h 127.0.0.1 -p 5432 -d postgres -v ON_ERROR_STOP=1 -c \
  "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ades') THEN CREATE ROLE ades LOGIN PASSWORD 'ades' CREATEDB; END IF; END \$\$;" >/dev/null 2>&1 \
  || as_postgres psql -q -d postgres -v ON_ERROR_STOP=1 -c \
  "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ades') THEN CREATE ROLE ades LOGIN PASSWORD 'ades' CREATEDB; END IF; END \$\$;" >/dev/null
echo "postgres://ades:ades@127.0.0.1:5432/postgres" >&3
