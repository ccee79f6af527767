#!/bin/sh
# One-shot job (temporalio/admin-tools): creates the `temporal` and `temporal_visibility` databases
# and migrates them to the schema version this admin-tools image ships. Safe to re-run: an existing
# database is kept, setup-schema skips an initialised schema, update-schema only applies what is new.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
# The admin-tools image's schema; the tests point it at go.temporal.io/server's schema/postgresql/v12.
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

echo "Waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT..."
nc -z -w 10 "$POSTGRES_SEEDS" "$DB_PORT"

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  dir="${pair##*:}"
  echo "Database $db"
  sql --db "$db" create || echo "  create failed; assuming $db already exists"
  sql --db "$db" setup-schema -v 0.0
  sql --db "$db" update-schema -d "$SCHEMA_DIR/$dir/versioned"
done
echo "PostgreSQL schema setup complete"
