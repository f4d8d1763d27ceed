#!/bin/sh
# Run once by the postgres image when the primary's data directory is created
# (docker-entrypoint-initdb.d): let the standbys of docker/compose.yaml connect for replication.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
