#!/bin/bash
# The streaming replica: on an empty data directory, a base backup of the primary with -R (standby.signal and
# primary_conninfo written for us), then the server as a hot standby. Later starts just resume streaming.
set -euo pipefail
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD (env file) for the streaming replica}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h db -p 5432 -q; do sleep 1; done
  export PGPASSWORD="$REPLICATION_PASSWORD"
  pg_basebackup -h db -p 5432 -U replicator -D "$PGDATA" -R -X stream --checkpoint=fast
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on -c max_connections="${MAX_CONNECTIONS:-200}"
