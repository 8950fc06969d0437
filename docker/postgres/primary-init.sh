#!/bin/bash
# Runs once, when the primary's data directory is created (postgres image's /docker-entrypoint-initdb.d): a role
# for streaming replication, allowed to connect for replication from the compose network with its password.
set -euo pipefail
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD (env file) for the streaming replica}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
