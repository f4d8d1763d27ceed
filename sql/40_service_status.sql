-- What the landing page and VOSI availability report about the archive.

-- hstvo.archive_summary: counts and freshness of the archive, one JSON object
CREATE OR REPLACE FUNCTION hstvo.archive_summary() RETURNS jsonb
LANGUAGE sql STABLE AS
$$
SELECT jsonb_build_object(
    'observations', (SELECT count(*) FROM caom2.observation),
    'planes', (SELECT count(*) FROM caom2.plane),
    'artifacts', (SELECT count(*) FROM caom2.artifact),
    'obscore_rows', (SELECT count(*) FROM ivoa.obscore),
    'collections', (SELECT coalesce(jsonb_agg(DISTINCT collection), '[]') FROM caom2.observation),
    'last_modified', (SELECT max(maxlastmodified) FROM caom2.observation),
    'schema_revision', (SELECT version_num FROM public.alembic_version LIMIT 1))
$$;

-- hstvo.registry: the archive's services as CADC's registry lists them (resource-caps), one row
-- per service with a VOSI capabilities document. cadcutils-based clients (caom2-repo, cadc-tap,
-- cadc-data) resolve an ivo:// resource ID through such a list; the service serves it at
-- /reg/resource-caps and `hstvo registry` writes it where cadcutils looks for it.
CREATE OR REPLACE FUNCTION hstvo.registry(base_url text)
RETURNS TABLE (resource_id text, capabilities_url text)
LANGUAGE sql STABLE AS
$$
SELECT hstvo.setting('publisher_authority') || '/' || service,
       rtrim(base_url, '/') || '/' || service || '/capabilities'
  FROM unnest(ARRAY['caom2repo', 'gms', 'tap', 'vospace']) AS service
 ORDER BY service
$$;

-- ---------------------------------------------------------------------------------------------
-- Replication: what `hstvo db replica list` and the service's choice of read server go by
-- ---------------------------------------------------------------------------------------------

-- On the primary: each standby streaming from it (by the name it gave, application_name), its
-- state, how much WAL it has not replayed yet (bytes) and how long ago what it replayed last
-- was written (replay_lag)
CREATE OR REPLACE FUNCTION hstvo.replication_states()
RETURNS TABLE (standby text, state text, lag_bytes bigint, lag_seconds double precision)
LANGUAGE sql STABLE AS $$
SELECT application_name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint,
       extract(epoch FROM replay_lag)::float8
  FROM pg_stat_replication $$;

-- Where this server's WAL stands: written (a primary) or replayed (a standby)
CREATE OR REPLACE FUNCTION hstvo.wal_position() RETURNS pg_lsn
LANGUAGE sql STABLE AS $$
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END $$;

-- On a standby: the WAL it has replayed, and how many seconds it is behind. Seconds count only
-- while WAL waits to be replayed: a standby of an idle primary is current, however old the
-- last transaction it replayed.
CREATE OR REPLACE FUNCTION hstvo.replay_state(OUT replayed pg_lsn, OUT behind_seconds double precision)
LANGUAGE sql STABLE AS $$
SELECT pg_last_wal_replay_lsn(),
       CASE WHEN pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
            THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())
            ELSE 0 END::float8 $$;

-- WAL bytes between two positions (never negative)
CREATE OR REPLACE FUNCTION hstvo.wal_distance(ahead pg_lsn, behind pg_lsn) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT greatest(0, pg_wal_lsn_diff(ahead, behind))::bigint $$;
