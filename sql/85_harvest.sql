-- Harvest: another hstvo database's observations copied here, incrementally, by the database.
--
-- A source is another archive database (read through postgres_fdw foreign tables in the schema
-- harvest_<name>) or another archive's repository service over HTTP (loaders/harvest_http.py
-- fetches the documents and hands them to the same cursor and skip bookkeeping). A DBA runs
--     CALL caom2.harvest('repo');                 -- or: hstvo harvest run repo
-- which copies, batch by batch, every observation whose maxLastModified is after the saved
-- cursor, as a whole tree (observation, planes, artifacts, parts, chunks; members and
-- provenance inputs follow from them; the HST side tables: files, calibration, reference
-- files), replacing the old one, then applies the source's deletions since its cursor.
--
-- The rules (CADC's harvester's, caom2harvester ObservationHarvester/DeletionHarvester):
--   * batches are ordered by (maxLastModified, id), and each commits with its cursor: a harvest
--     cut off anywhere resumes after the last committed batch, with nothing skipped or copied
--     twice (a tree is replaced whole, so copying it again changes nothing);
--   * the copied rows keep the source's values: checksums, lastModified, maxLastModified,
--     publisherID, and the access-control columns (metaReadGroups, dataReadGroups, releases);
--     the destination recomputes accMetaChecksum from them and compares it with the source's:
--     an observation that differs, or that a constraint refuses, is not copied but written to
--     harvest.skip with the error, and tried again at the start of every run;
--   * a deletion at the source deletes here (and leaves a tombstone here, for whoever harvests
--     from this database), unless the observation exists at the source again.
-- The harvest runs as a role that may write everything (the database's owner, or a writer);
-- the source's user mapping names a role that sees every row there (its tables' owner, or
-- one with BYPASSRLS).

DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS postgres_fdw;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'postgres_fdw is not available (%): database-to-database harvest is off; '
                  'a superuser runs CREATE EXTENSION postgres_fdw and hstvo db upgrade', SQLERRM;
END $$;

CREATE SCHEMA IF NOT EXISTS harvest;
COMMENT ON SCHEMA harvest IS 'harvest sources, their cursors, runs and skipped observations';

CREATE TABLE IF NOT EXISTS harvest.source (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    kind        text NOT NULL CHECK (kind IN ('database', 'http')),
    origin      text NOT NULL,            -- host:port/dbname, or the repository service's URL
    token       text,                     -- http: the bearer token the source wants, if any
    collection  text NOT NULL DEFAULT 'HST',
    batch_size  integer NOT NULL DEFAULT 1000 CHECK (batch_size BETWEEN 1 AND 100000),
    -- the cursor: the last observation copied, as (maxLastModified, id), and the last deletion
    -- applied, as (lastModified, id), both the source's values
    copied_to   timestamp,
    copied_id   uuid,
    copied_key  text,                     -- http: the observationID (listings order by it)
    deleted_to  timestamp,
    deleted_id  uuid,
    added       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE harvest.source IS 'where observations are harvested from, and how far each harvest has come';
ALTER TABLE harvest.source ADD COLUMN IF NOT EXISTS copied_key text;

CREATE TABLE IF NOT EXISTS harvest.run (
    id       bigserial PRIMARY KEY,
    source   text NOT NULL REFERENCES harvest.source ON DELETE CASCADE,
    started  timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended    timestamptz,
    state    text NOT NULL DEFAULT 'running'
             CHECK (state IN ('running', 'done', 'failed', 'interrupted')),
    batches  integer NOT NULL DEFAULT 0,
    copied   bigint NOT NULL DEFAULT 0,   -- observations copied (whole trees)
    deleted  bigint NOT NULL DEFAULT 0,   -- observations deleted as the source had
    skipped  bigint NOT NULL DEFAULT 0,   -- observations refused, into harvest.skip
    error    text
);
CREATE INDEX IF NOT EXISTS run_source_idx ON harvest.run (source, id);
COMMENT ON TABLE harvest.run IS 'one row per harvest run: when, how it ended, what it moved';

CREATE TABLE IF NOT EXISTS harvest.skip (
    source          text NOT NULL REFERENCES harvest.source ON DELETE CASCADE,
    obsid           uuid NOT NULL,
    collection      text,
    observationid   text,
    maxlastmodified timestamp,            -- the source's, when last tried
    error           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 1,
    first_tried     timestamptz NOT NULL DEFAULT now(),
    last_tried      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, obsid)
);
COMMENT ON TABLE harvest.skip IS 'observations a harvest could not copy, and why; tried again on every run';

-- per source: the cursor, how far behind it is, the last run and what it moved, the failures
CREATE OR REPLACE VIEW harvest.harvest_status AS
SELECT s.name AS source, s.kind, s.origin, s.collection,
       s.copied_to AS cursor_last_modified, s.copied_id AS cursor_id,
       s.deleted_to AS deletions_cursor,
       -- how long ago the newest change copied was made (an idle source's grows too)
       date_trunc('second', caom2.now_utc() - s.copied_to) AS lag,
       r.started AS last_run, r.ended AS last_run_ended, r.state AS last_run_state,
       r.copied AS last_run_copied, r.deleted AS last_run_deleted,
       r.skipped AS last_run_skipped, r.error AS last_run_error,
       (SELECT count(*) FROM harvest.skip k WHERE k.source = s.name) AS failures
  FROM harvest.source s
  LEFT JOIN LATERAL (SELECT * FROM harvest.run r WHERE r.source = s.name
                      ORDER BY r.id DESC LIMIT 1) AS r ON true;
COMMENT ON VIEW harvest.harvest_status IS 'per harvest source: cursor, lag, last run, rows moved, failures';

-- ---------------------------------------------------------------------------------------------
-- Sources
-- ---------------------------------------------------------------------------------------------

-- the schema of a source's foreign tables
CREATE OR REPLACE FUNCTION harvest.remote_schema(source_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'harvest_' || source_name $$;

-- a source's name is part of its schema's and server's names: refused plainly when unusable
CREATE OR REPLACE FUNCTION harvest.check_name(source_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF source_name !~ '^[a-z][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'a source''s name is a lower-case letter, then letters, digits or _ '
                        '(40 at most), not %', quote_literal(source_name);
    END IF;
    RETURN source_name;
END $$;

-- Another hstvo database as a source: a foreign server, a user mapping for the calling role,
-- and the source's CAOM and HST tables as foreign tables in harvest_<name>
-- The source's lists (observations by maxLastModified, tombstones) are planned with the
-- source's own estimates: without them a foreign table counts as a few rows, and each batch's
-- keyset query fetched every newer observation to sort it here (300 ms a batch at 100,000
-- observations) instead of having the source sort and send the batch (10 ms).
CREATE OR REPLACE FUNCTION harvest.estimate_remotely(source_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    listed text;
BEGIN
    FOREACH listed IN ARRAY ARRAY['observation', 'deletedobservation'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_foreign_table f
                        WHERE f.ftrelid = to_regclass(format('%I.%I', harvest.remote_schema(source_name), listed))
                          AND 'use_remote_estimate=true' = ANY (f.ftoptions)) THEN
            EXECUTE format('ALTER FOREIGN TABLE %I.%I OPTIONS (ADD use_remote_estimate %L)',
                           harvest.remote_schema(source_name), listed, 'true');
        END IF;
    END LOOP;
END $$;

-- (sources added before the option was)
DO $$ BEGIN
    PERFORM harvest.estimate_remotely(name) FROM harvest.source WHERE kind = 'database';
END $$;

CREATE OR REPLACE FUNCTION harvest.add_database_source(
    source_name text, host text, port integer, dbname text, username text,
    password text DEFAULT NULL, collection text DEFAULT 'HST', batch_size integer DEFAULT 1000)
RETURNS harvest.source LANGUAGE plpgsql AS $$
DECLARE
    remote text := harvest.remote_schema(source_name);
    added harvest.source;
BEGIN
    INSERT INTO harvest.source (name, kind, origin, collection, batch_size)
    VALUES (harvest.check_name(source_name), 'database', format('%s:%s/%s', host, port, dbname), collection, batch_size)
    RETURNING * INTO added;
    -- (fetch_size: rows per round trip; the default, 100, costs a round trip per 25 trees)
    EXECUTE format('CREATE SERVER %I FOREIGN DATA WRAPPER postgres_fdw '
                   'OPTIONS (host %L, port %L, dbname %L, fetch_size %L)',
                   remote, host, port::text, dbname, '5000');
    IF password IS NULL THEN
        EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I OPTIONS (user %L)',
                       remote, username);
    ELSE
        EXECUTE format('CREATE USER MAPPING FOR CURRENT_USER SERVER %I '
                       'OPTIONS (user %L, password %L)', remote, username, password);
    END IF;
    EXECUTE format('CREATE SCHEMA %I', remote);
    EXECUTE format('IMPORT FOREIGN SCHEMA caom2 LIMIT TO (observation, plane, artifact, part, '
                   'chunk, deletedobservation) FROM SERVER %1$I INTO %1$I', remote);
    EXECUTE format('IMPORT FOREIGN SCHEMA caom2 LIMIT TO (observationmember, provenanceinput) '
                   'FROM SERVER %1$I INTO %1$I', remote);
    EXECUTE format('IMPORT FOREIGN SCHEMA hst LIMIT TO (archive_file, plane_calibration, '
                   'plane_reference_file) FROM SERVER %1$I INTO %1$I', remote);
    -- (ObsCore's rows of the copied trees, as the source computed them; none from an hstvo
    -- before they were stored: then they are computed here)
    EXECUTE format('IMPORT FOREIGN SCHEMA hstvo LIMIT TO (obscore_rows) FROM SERVER %1$I INTO %1$I',
                   remote);
    PERFORM harvest.estimate_remotely(source_name);
    RETURN added;
END $$;
COMMENT ON FUNCTION harvest.add_database_source IS 'another hstvo database as a harvest source (postgres_fdw)';

-- Another archive's repository service as a source (hstvo harvest run fetches its documents)
CREATE OR REPLACE FUNCTION harvest.add_http_source(
    source_name text, url text, token text DEFAULT NULL, collection text DEFAULT 'HST',
    batch_size integer DEFAULT 1000)
RETURNS harvest.source LANGUAGE sql AS $$
    INSERT INTO harvest.source (name, kind, origin, token, collection, batch_size)
    VALUES (harvest.check_name(source_name), 'http', rtrim(url, '/'), token, collection,
            batch_size) RETURNING * $$;

-- a source, its schedule, foreign tables, server and bookkeeping removed (what it copied stays)
CREATE OR REPLACE FUNCTION harvest.remove_source(source_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    remote text := harvest.remote_schema(source_name);
BEGIN
    PERFORM harvest.unschedule(source_name);
    IF EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = remote) THEN
        EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', remote);
        EXECUTE format('DROP SERVER %I CASCADE', remote);
    END IF;
    DELETE FROM harvest.source WHERE name = source_name;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Copying whole trees
-- ---------------------------------------------------------------------------------------------

-- the columns a local table and its foreign copy share (sources of another version may have
-- more or fewer), as a select list. pgsphere's values are left out: postgres_fdw moves values
-- as text, and pgsphere writes 15 significant digits, which do not read back to the same
-- doubles; they are made again here from the bounds (plane: sql/14_caom2_lifecycle.sql)
CREATE OR REPLACE FUNCTION harvest.shared_columns(local_table regclass, remote_table regclass)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(quote_ident(l.attname), ', ' ORDER BY l.attnum)
      FROM pg_attribute l
      JOIN pg_attribute r ON r.attrelid = remote_table AND r.attname = l.attname
                         AND r.attnum > 0 AND NOT r.attisdropped
     WHERE l.attrelid = local_table AND l.attnum > 0 AND NOT l.attisdropped
       AND l.attgenerated = ''
       AND l.atttypid NOT IN (SELECT t.oid FROM pg_type t JOIN pg_depend d ON d.objid = t.oid
                                JOIN pg_extension e ON e.oid = d.refobjid
                               WHERE e.extname = 'pg_sphere' AND d.deptype = 'e') $$;

-- Copy these observations' trees from a database source, replacing what is here, in the
-- calling transaction. The observations a concurrent or earlier writer left under the same
-- URI with another id go too. Returns the ids whose accMetaChecksum here differs from the
-- source's (`expected`: id -> the source's accMetaChecksum).
CREATE OR REPLACE FUNCTION harvest.copy_trees(source_name text, ids uuid[], expected jsonb)
RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    remote text := harvest.remote_schema(source_name);
    replaced uuid[];
    planes uuid[];
    observation_ids text[];
    entity text;
    differing uuid[];
    obscore_columns text;
BEGIN
    -- the rows keep the source's checksums and timestamps (sql/14_caom2_lifecycle.sql), one
    -- roll-up at the end
    PERFORM caom2.set_flag('trusted', true), caom2.set_flag('defer_rollup', true),
            caom2.set_flag('harvested', true);
    EXECUTE format('SELECT array_agg(observationid) FROM %I.observation WHERE obsid = ANY ($1)',
                   remote) INTO observation_ids USING ids;
    WITH gone AS (
        DELETE FROM caom2.observation o
         WHERE o.obsid = ANY (ids)
            OR (o.collection, o.observationid) IN (
                   SELECT r.collection, r.observationid
                     FROM jsonb_to_recordset(expected -> 'uris') AS r(collection text, observationid text))
        RETURNING o.obsid)
    SELECT array_agg(obsid) INTO replaced FROM gone;
    FOREACH entity IN ARRAY ARRAY['observation', 'plane', 'artifact', 'part', 'chunk'] LOOP
        EXECUTE format('INSERT INTO caom2.%2$I (%3$s) SELECT %3$s FROM %1$I.%2$I WHERE obsid = ANY ($1)',
                       remote, entity,
                       harvest.shared_columns(format('caom2.%I', entity)::regclass,
                                              format('%I.%I', remote, entity)::regclass))
        USING ids;
    END LOOP;
    -- the member and provenance lists' rows, which the triggers would derive
    SELECT array_agg(planeid) INTO planes FROM caom2.plane WHERE obsid = ANY (ids);
    EXECUTE format('INSERT INTO caom2.observationmember (parentid, memberid) '
                   'SELECT parentid, memberid FROM %I.observationmember WHERE parentid = ANY ($1)',
                   remote) USING ids;
    EXECUTE format('INSERT INTO caom2.provenanceinput (outputid, inputid) '
                   'SELECT outputid, inputid FROM %I.provenanceinput WHERE outputid = ANY ($1)',
                   remote) USING planes;
    -- the HST side tables: per plane, and per file of the observation
    FOREACH entity IN ARRAY ARRAY['plane_calibration', 'plane_reference_file'] LOOP
        EXECUTE format('INSERT INTO hst.%2$I (%3$s) SELECT %3$s FROM %1$I.%2$I WHERE planeid = ANY ($1)',
                       remote, entity,
                       harvest.shared_columns(format('hst.%I', entity)::regclass,
                                              format('%I.%I', remote, entity)::regclass))
        USING planes;
    END LOOP;
    DELETE FROM hst.archive_file WHERE observationid = ANY (observation_ids);
    EXECUTE format('INSERT INTO hst.archive_file (%2$s) SELECT %2$s FROM %1$I.archive_file '
                   'WHERE observationid = ANY ($1)', remote,
                   harvest.shared_columns('hst.archive_file', format('%I.archive_file', remote)::regclass))
    USING observation_ids;
    -- a replaced tree is not a deletion: no tombstone for whoever harvests from here
    DELETE FROM caom2.deletedobservation WHERE id = ANY (ids);
    -- ObsCore's rows: the source's for the same trees, when its rows have this archive's columns
    obscore_columns := harvest.shared_columns('hstvo.obscore_rows',
                                              to_regclass(format('%I.obscore_rows', remote)));
    IF obscore_columns = harvest.shared_columns('hstvo.obscore_rows', 'hstvo.obscore_rows') THEN
        DELETE FROM hstvo.obscore_rows WHERE obsid = ANY (ids || coalesce(replaced, '{}'));
        -- (the footprint and its centre from the planes, made here: see shared_columns)
        EXECUTE format('INSERT INTO hstvo.obscore_rows (%2$s, s_region, position_bounds_center) '
                       'SELECT %3$s, p.position_bounds_spoly, p.position_bounds_center '
                       '  FROM %1$I.obscore_rows r JOIN caom2.plane p ON p.planeid = r.planeid '
                       ' WHERE r.obsid = ANY ($1)', remote, obscore_columns,
                       (SELECT string_agg('r.' || c, ', ') FROM unnest(string_to_array(obscore_columns, ', ')) AS c))
        USING ids;
        PERFORM caom2.set_flag('obscore_copied', true);
    END IF;
    -- the roll-up recomputes every accMetaChecksum from the copied metaChecksums: the check
    PERFORM caom2.set_flag('defer_rollup', false);
    PERFORM caom2.rollup(ARRAY(SELECT DISTINCT unnest(ids || coalesce(replaced, '{}'))), true);
    PERFORM caom2.set_flag('trusted', false), caom2.set_flag('harvested', false),
            caom2.set_flag('obscore_copied', false);
    SELECT array_agg(e.key::uuid) INTO differing
      FROM jsonb_each_text(expected -> 'checksums') AS e
      LEFT JOIN caom2.observation o ON o.obsid = e.key::uuid
     WHERE o.accmetachecksum IS DISTINCT FROM e.value;
    RETURN coalesce(differing, '{}');
END $$;

-- Copy a batch; where the batch fails (a constraint, a checksum that differs) copy it one
-- observation at a time, and write those that fail to harvest.skip. `batch` rows are
-- (obsid, collection, observationid, maxlastmodified, accmetachecksum) of the source.
-- Returns (copied, skipped).
CREATE OR REPLACE FUNCTION harvest.copy_batch(source_name text, batch jsonb,
                                              OUT copied integer, OUT skipped integer)
LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY(SELECT (b ->> 'obsid')::uuid FROM jsonb_array_elements(batch) AS b);
    one jsonb;
    differing uuid[];
BEGIN
    copied := 0; skipped := 0;
    IF cardinality(ids) = 0 THEN RETURN; END IF;
    BEGIN
        differing := harvest.copy_trees(source_name, ids, harvest.expected(batch));
        IF cardinality(differing) > 0 THEN
            RAISE EXCEPTION 'accMetaChecksum differs from the source''s' USING ERRCODE = 'HV000';
        END IF;
        copied := cardinality(ids);
        DELETE FROM harvest.skip WHERE source = source_name AND obsid = ANY (ids);
        RETURN;
    EXCEPTION
        WHEN connection_exception THEN  -- the source went away: the run fails, nothing skipped
            RAISE;
        WHEN OTHERS THEN
            NULL;  -- the batch is undone: one at a time below
    END;
    FOR one IN SELECT b FROM jsonb_array_elements(batch) AS b LOOP
        BEGIN
            differing := harvest.copy_trees(source_name, ARRAY[(one ->> 'obsid')::uuid],
                                            harvest.expected(jsonb_build_array(one)));
            IF cardinality(differing) > 0 THEN
                RAISE EXCEPTION 'accMetaChecksum % here, % at the source',
                    (SELECT accmetachecksum FROM caom2.observation WHERE obsid = differing[1]),
                    one ->> 'accmetachecksum';
            END IF;
            copied := copied + 1;
            DELETE FROM harvest.skip WHERE source = source_name AND obsid = (one ->> 'obsid')::uuid;
        EXCEPTION
            WHEN connection_exception THEN
                RAISE;
            WHEN OTHERS THEN
                skipped := skipped + 1;
                PERFORM harvest.record_skip(source_name, one, SQLERRM);
        END;
    END LOOP;
END $$;

-- what copy_trees checks a batch against: the source's accMetaChecksum per id, and the URIs
CREATE OR REPLACE FUNCTION harvest.expected(batch jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'checksums', coalesce(jsonb_object_agg(b ->> 'obsid', b ->> 'accmetachecksum'), '{}'),
        'uris', coalesce(jsonb_agg(jsonb_build_object('collection', b ->> 'collection',
                                                      'observationid', b ->> 'observationid')), '[]'))
      FROM jsonb_array_elements(batch) AS b $$;

CREATE OR REPLACE FUNCTION harvest.record_skip(source_name text, observation jsonb, error text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO harvest.skip AS k (source, obsid, collection, observationid, maxlastmodified, error)
    VALUES (source_name, (observation ->> 'obsid')::uuid, observation ->> 'collection',
            observation ->> 'observationid', (observation ->> 'maxlastmodified')::timestamp, error)
    ON CONFLICT (source, obsid) DO UPDATE
       SET error = EXCLUDED.error, maxlastmodified = EXCLUDED.maxlastmodified,
           attempts = k.attempts + 1, last_tried = now() $$;

-- ---------------------------------------------------------------------------------------------
-- One step of a run: each is a batch in the caller's transaction, which commits it with the
-- cursor it advanced
-- ---------------------------------------------------------------------------------------------

-- The next batch of observations after the cursor, copied; the cursor moved past it.
-- Returns how many observations the batch held (0: the harvest is current).
CREATE OR REPLACE FUNCTION harvest.copy_next(source_name text, run_id bigint,
                                             batch_size integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    src harvest.source;
    batch jsonb;
    last jsonb;
    outcome record;
BEGIN
    SELECT * INTO STRICT src FROM harvest.source WHERE name = source_name FOR UPDATE;
    -- (keyset order; every condition is sent to the source, which sorts and limits)
    EXECUTE format(
        'SELECT jsonb_agg(to_jsonb(b) ORDER BY b.maxlastmodified, b.obsid) FROM ('
        '  SELECT obsid, collection, observationid, maxlastmodified, accmetachecksum'
        '    FROM %I.observation'
        '   WHERE collection = $1 AND (maxlastmodified > $2 OR (maxlastmodified = $2 AND obsid > $3))'
        '   ORDER BY maxlastmodified, obsid LIMIT $4) AS b', harvest.remote_schema(source_name))
    INTO batch
    USING src.collection, coalesce(src.copied_to, '-infinity'::timestamp),
          coalesce(src.copied_id, '00000000-0000-0000-0000-000000000000'::uuid),
          coalesce(batch_size, src.batch_size);
    IF batch IS NULL THEN RETURN 0; END IF;
    outcome := harvest.copy_batch(source_name, batch);
    last := batch -> -1;
    UPDATE harvest.source SET copied_to = (last ->> 'maxlastmodified')::timestamp,
                              copied_id = (last ->> 'obsid')::uuid
     WHERE name = source_name;
    UPDATE harvest.run SET batches = batches + 1, copied = copied + outcome.copied,
                           skipped = skipped + outcome.skipped
     WHERE id = run_id;
    RETURN jsonb_array_length(batch);
END $$;

-- The skipped observations tried again (those the source still has); the cursor stays.
-- Returns how many were copied this time.
CREATE OR REPLACE FUNCTION harvest.retry_skipped(source_name text, run_id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY(SELECT obsid FROM harvest.skip WHERE source = source_name ORDER BY obsid);
    batch jsonb;
    outcome record;
BEGIN
    IF cardinality(ids) = 0 THEN RETURN 0; END IF;
    EXECUTE format(
        'SELECT jsonb_agg(to_jsonb(b) ORDER BY b.maxlastmodified, b.obsid) FROM ('
        '  SELECT obsid, collection, observationid, maxlastmodified, accmetachecksum'
        '    FROM %I.observation WHERE obsid = ANY ($1)) AS b', harvest.remote_schema(source_name))
    INTO batch USING ids;
    -- what the source no longer has is its deletions' business
    DELETE FROM harvest.skip WHERE source = source_name AND obsid = ANY (ids)
       AND NOT obsid IN (SELECT (b ->> 'obsid')::uuid FROM jsonb_array_elements(coalesce(batch, '[]')) AS b);
    IF batch IS NULL THEN RETURN 0; END IF;
    outcome := harvest.copy_batch(source_name, batch);
    UPDATE harvest.run SET copied = copied + outcome.copied WHERE id = run_id;
    RETURN outcome.copied;
END $$;

-- The source's next deletions after the deletion cursor, applied here; the cursor moved.
-- Returns how many tombstones the batch held (0: none left).
CREATE OR REPLACE FUNCTION harvest.delete_next(source_name text, run_id bigint,
                                               batch_size integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    src harvest.source;
    remote text := harvest.remote_schema(source_name);
    tombstones jsonb;
    ids uuid[];
    alive uuid[];
    removed integer;
BEGIN
    SELECT * INTO STRICT src FROM harvest.source WHERE name = source_name FOR UPDATE;
    EXECUTE format(
        'SELECT jsonb_agg(to_jsonb(d) ORDER BY d.lastmodified, d.id) FROM ('
        '  SELECT id, lastmodified FROM %I.deletedobservation'
        '   WHERE collection = $1 AND (lastmodified > $2 OR (lastmodified = $2 AND id > $3))'
        '   ORDER BY lastmodified, id LIMIT $4) AS d', remote)
    INTO tombstones
    USING src.collection, coalesce(src.deleted_to, '-infinity'::timestamp),
          coalesce(src.deleted_id, '00000000-0000-0000-0000-000000000000'::uuid),
          coalesce(batch_size, src.batch_size);
    IF tombstones IS NULL THEN RETURN 0; END IF;
    ids := ARRAY(SELECT (d ->> 'id')::uuid FROM jsonb_array_elements(tombstones) AS d);
    -- an id the source has again (deleted, then written anew) stays
    EXECUTE format('SELECT array_agg(obsid) FROM %I.observation WHERE obsid = ANY ($1)', remote)
    INTO alive USING ids;
    DELETE FROM caom2.observation WHERE obsid = ANY (ids) AND NOT obsid = ANY (coalesce(alive, '{}'));
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM harvest.skip WHERE source = source_name AND obsid = ANY (ids)
       AND NOT obsid = ANY (coalesce(alive, '{}'));
    UPDATE harvest.source SET deleted_to = (tombstones -> -1 ->> 'lastmodified')::timestamp,
                              deleted_id = (tombstones -> -1 ->> 'id')::uuid
     WHERE name = source_name;
    UPDATE harvest.run SET batches = batches + 1, deleted = deleted + removed WHERE id = run_id;
    RETURN jsonb_array_length(tombstones);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Steps of a harvest over HTTP (loaders/harvest_http.py lists and fetches; these store)
-- ---------------------------------------------------------------------------------------------

-- an entry's observation id: its document's, or (no document, or not a UUID there) the one
-- its URI would give
CREATE OR REPLACE FUNCTION harvest.entry_id(entry jsonb) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN coalesce((entry #>> '{document,observation,obsid}')::uuid,
                    md5('caom:' || (entry ->> 'collection') || '/' || (entry ->> 'observationid'))::uuid);
EXCEPTION WHEN invalid_text_representation THEN
    RETURN md5('caom:' || (entry ->> 'collection') || '/' || (entry ->> 'observationid'))::uuid;
END $$;

-- One fetched document stored whole or not at all, through the path every CAOM2 XML write
-- takes (caom2.put_observations, keeping the document's timestamps), and its accMetaChecksum
-- here compared with the one the source listed; one that could not be fetched or read, that
-- the database refuses, or whose checksum differs goes to harvest.skip. Returns whether it
-- was stored.
CREATE OR REPLACE FUNCTION harvest.store_document(source_name text, entry jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    entry_id uuid := harvest.entry_id(entry);
    here text;
BEGIN
    IF entry ? 'error' THEN
        RAISE EXCEPTION '%', entry ->> 'error';
    END IF;
    -- (an observation written anew under another id replaces the old one, as in a
    -- database harvest)
    DELETE FROM caom2.observation o
     WHERE o.collection = entry ->> 'collection'
       AND o.observationid = entry ->> 'observationid' AND o.obsid <> entry_id;
    here := caom2.put_observations(jsonb_build_array(entry -> 'document'), true) -> 0 ->> 'accmetachecksum';
    DELETE FROM caom2.deletedobservation d WHERE d.id = entry_id;
    IF here IS DISTINCT FROM entry ->> 'accmetachecksum' THEN
        RAISE EXCEPTION 'accMetaChecksum % here, % at the source', here,
            entry ->> 'accmetachecksum';
    END IF;
    DELETE FROM harvest.skip k
     WHERE k.source = source_name AND (k.obsid = entry_id OR (
           k.collection = entry ->> 'collection' AND k.observationid = entry ->> 'observationid'));
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    PERFORM harvest.record_skip(source_name,
        jsonb_build_object('obsid', entry_id, 'collection', entry ->> 'collection',
                           'observationid', entry ->> 'observationid',
                           'maxlastmodified', entry ->> 'maxlastmodified'), SQLERRM);
    RETURN false;
END $$;

-- A batch of fetched documents stored. All of them at once, set-wise, when every one of them
-- can be (harvest.store_all); else one at a time (harvest.store_document), so that one bad
-- document costs only itself. `entries`: [{collection, observationid, maxlastmodified,
-- accmetachecksum, document | error}] in listing order; the cursor moves past the last unless
-- `retrying`. Returns the entries stored.
CREATE OR REPLACE FUNCTION harvest.store_documents(source_name text, run_id bigint,
                                                   entries jsonb, retrying boolean DEFAULT false)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    entry jsonb;
    stored integer := 0;
    refused integer := 0;
BEGIN
    IF jsonb_array_length(entries) > 0 AND harvest.store_all(source_name, entries) THEN
        stored := jsonb_array_length(entries);
    ELSE
        FOR entry IN SELECT e FROM jsonb_array_elements(entries) AS e LOOP
            IF harvest.store_document(source_name, entry) THEN
                stored := stored + 1;
            ELSE
                refused := refused + 1;
            END IF;
        END LOOP;
    END IF;
    IF NOT retrying AND jsonb_array_length(entries) > 0 THEN
        UPDATE harvest.source SET copied_to = (entries -> -1 ->> 'maxlastmodified')::timestamp,
                                  copied_key = entries -> -1 ->> 'observationid'
         WHERE name = source_name;
    END IF;
    UPDATE harvest.run r SET batches = r.batches + 1, copied = r.copied + stored,
                             skipped = r.skipped + CASE WHEN retrying THEN 0 ELSE refused END
     WHERE r.id = run_id;
    RETURN stored;
END $$;

-- Every entry of a batch stored in one set-wise pass, or none of them (false: an entry had no
-- document, the database refused one, or a checksum here differs from the source's).
CREATE OR REPLACE FUNCTION harvest.store_all(source_name text, entries jsonb) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    results jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(entries) AS e WHERE NOT e ? 'document') THEN
        RETURN false;
    END IF;
    ids := ARRAY(SELECT harvest.entry_id(e) FROM jsonb_array_elements(entries) AS e);
    DELETE FROM caom2.observation o
     USING jsonb_array_elements(entries) AS e
     WHERE o.collection = e ->> 'collection' AND o.observationid = e ->> 'observationid'
       AND o.obsid <> harvest.entry_id(e);
    results := caom2.put_observations(
        (SELECT jsonb_agg(e -> 'document') FROM jsonb_array_elements(entries) AS e), true);
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(entries) WITH ORDINALITY AS e(entry, n)
                WHERE results -> (n::integer - 1) ->> 'accmetachecksum'
                      IS DISTINCT FROM entry ->> 'accmetachecksum') THEN
        RAISE EXCEPTION 'an accMetaChecksum differs' USING ERRCODE = 'HV000';
    END IF;
    DELETE FROM caom2.deletedobservation d WHERE d.id = ANY (ids);
    DELETE FROM harvest.skip k
     USING jsonb_array_elements(entries) AS e
     WHERE k.source = source_name AND (k.obsid = harvest.entry_id(e) OR (
           k.collection = e ->> 'collection' AND k.observationid = e ->> 'observationid'));
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;  -- (all undone: the caller stores them one at a time)
END $$;

-- A batch of the source's tombstones applied: an observation here with that id goes, unless
-- it changed after the deletion (it was written again). The deletion cursor moves past the
-- last. `tombstones`: [{id, lastmodified}] in listing order. Returns the observations deleted.
CREATE OR REPLACE FUNCTION harvest.apply_deletions(source_name text, run_id bigint, tombstones jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    removed integer;
BEGIN
    DELETE FROM caom2.observation o
     USING jsonb_to_recordset(tombstones) AS t(id uuid, lastmodified timestamp)
     WHERE o.obsid = t.id AND o.maxlastmodified <= t.lastmodified;
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM harvest.skip k USING jsonb_to_recordset(tombstones) AS t(id uuid)
     WHERE k.source = source_name AND k.obsid = t.id;
    IF jsonb_array_length(tombstones) > 0 THEN
        UPDATE harvest.source SET deleted_to = (tombstones -> -1 ->> 'lastmodified')::timestamp,
                                  deleted_id = (tombstones -> -1 ->> 'id')::uuid
         WHERE name = source_name;
    END IF;
    UPDATE harvest.run SET batches = batches + 1, deleted = deleted + removed WHERE id = run_id;
    RETURN removed;
END $$;

-- ---------------------------------------------------------------------------------------------
-- A run
-- ---------------------------------------------------------------------------------------------

-- A run begins: one at a time per source (a session lock, held until the run ends), earlier
-- runs that never ended marked interrupted, and, for a full harvest, the cursors reset.
CREATE OR REPLACE FUNCTION harvest.begin_run(source_name text, full_harvest boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    run_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM harvest.source WHERE name = source_name) THEN
        RAISE EXCEPTION 'there is no harvest source %', source_name
            USING HINT = 'hstvo harvest add-source adds one; hstvo harvest status lists them';
    END IF;
    IF NOT pg_try_advisory_lock(hashtext('hstvo harvest'), hashtext(source_name)) THEN
        RAISE EXCEPTION 'a harvest of % is running already', source_name;
    END IF;
    UPDATE harvest.run SET state = 'interrupted', ended = coalesce(ended, clock_timestamp())
     WHERE source = source_name AND state = 'running';
    IF full_harvest THEN
        UPDATE harvest.source SET copied_to = NULL, copied_id = NULL, copied_key = NULL,
                                  deleted_to = NULL, deleted_id = NULL
         WHERE name = source_name;
    END IF;
    INSERT INTO harvest.run (source) VALUES (source_name) RETURNING id INTO run_id;
    RETURN run_id;
END $$;

-- A run ends: done, or failed with the reason; the source's lock released
CREATE OR REPLACE FUNCTION harvest.end_run(run_id bigint, failure text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    source_name text;
    moved bigint;
BEGIN
    UPDATE harvest.run r SET state = CASE WHEN failure IS NULL THEN 'done' ELSE 'failed' END,
                             ended = clock_timestamp(), error = failure
     WHERE r.id = run_id RETURNING r.source, r.copied + r.deleted INTO source_name, moved;
    PERFORM harvest.analyze_after(moved);
    PERFORM pg_advisory_unlock(hashtext('hstvo harvest'), hashtext(source_name));
END $$;

-- After a run that moved a tenth of the archive or more (a first harvest, above all), the
-- planner's statistics of the CAOM tables and ObsCore's rows are made again at once, rather
-- than when autovacuum comes to them: planned on the empty archive's, the next harvest and
-- the first queries read whole tables (a 1% harvest after a first one of 100,000
-- observations took 8 s instead of 2.5).
CREATE OR REPLACE FUNCTION harvest.analyze_after(moved bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    counted real := (SELECT reltuples FROM pg_class WHERE oid = 'caom2.observation'::regclass);
BEGIN
    IF moved < 1000 OR (counted > 0 AND moved < counted / 10) THEN
        RETURN false;
    END IF;
    ANALYZE caom2.observation, caom2.plane, caom2.artifact, caom2.part, caom2.chunk,
            hstvo.obscore_rows;
    RETURN true;
END $$;

-- The harvest from a database source, from psql or pg_cron: the skipped observations tried
-- again, then the changes since the cursor, then the deletions, each batch committed with its
-- cursor. A failure (the source unreachable, say) ends the run as failed, with its reason in
-- harvest.run; what was committed before it stays, and the next run goes on from there.
CREATE OR REPLACE PROCEDURE caom2.harvest(source_name text, batch_size integer DEFAULT NULL,
                                          full_harvest boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    run_id bigint := harvest.begin_run(source_name, full_harvest);
    failure text;
BEGIN
    COMMIT;
    BEGIN
        PERFORM harvest.retry_skipped(source_name, run_id);
    EXCEPTION WHEN OTHERS THEN
        failure := SQLERRM;
    END;
    COMMIT;
    WHILE failure IS NULL LOOP
        BEGIN
            EXIT WHEN harvest.copy_next(source_name, run_id, batch_size) = 0;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        COMMIT;
    END LOOP;
    WHILE failure IS NULL LOOP
        BEGIN
            EXIT WHEN harvest.delete_next(source_name, run_id, batch_size) = 0;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        COMMIT;
    END LOOP;
    PERFORM harvest.end_run(run_id, failure);
    COMMIT;
    IF failure IS NOT NULL THEN
        RAISE EXCEPTION 'the harvest of % failed: %', source_name, failure;
    END IF;
END $$;
COMMENT ON PROCEDURE caom2.harvest IS 'harvest a database source: CALL caom2.harvest(''name'', batch_size => 1000)';

-- ---------------------------------------------------------------------------------------------
-- Watching and checking
-- ---------------------------------------------------------------------------------------------

-- how many observations of a database source are after its cursor (what a run has to copy)
CREATE OR REPLACE FUNCTION harvest.pending(source_name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    src harvest.source;
    waiting bigint;
BEGIN
    SELECT * INTO STRICT src FROM harvest.source WHERE name = source_name;
    EXECUTE format('SELECT count(*) FROM %I.observation WHERE collection = $1 '
                   'AND (maxlastmodified > $2 OR (maxlastmodified = $2 AND obsid > $3))',
                   harvest.remote_schema(source_name))
    INTO waiting
    USING src.collection, coalesce(src.copied_to, '-infinity'::timestamp),
          coalesce(src.copied_id, '00000000-0000-0000-0000-000000000000'::uuid);
    RETURN waiting;
END $$;

-- Source and destination compared by accMetaChecksum (observations changed at the source
-- since `since`, or all): what differs, what is missing here, and what is here that the source
-- no longer has (a deletion not applied). The destination's own observations of other
-- collections are not compared.
CREATE OR REPLACE FUNCTION harvest.differences(source_name text, since timestamp DEFAULT NULL)
RETURNS TABLE (obsid uuid, observationid text, difference text, here text, there text)
LANGUAGE plpgsql AS $$
DECLARE
    src harvest.source;
BEGIN
    SELECT * INTO STRICT src FROM harvest.source WHERE name = source_name;
    RETURN QUERY EXECUTE format(
        'WITH there AS (SELECT obsid, observationid, accmetachecksum FROM %I.observation'
        '                WHERE collection = $1 AND maxlastmodified >= $2),'
        '     here AS (SELECT obsid, observationid, accmetachecksum FROM caom2.observation'
        '               WHERE collection = $1'
        '                 AND (maxlastmodified >= $2 OR obsid IN (SELECT obsid FROM there)))'
        ' SELECT coalesce(t.obsid, h.obsid), coalesce(t.observationid, h.observationid),'
        '        CASE WHEN h.obsid IS NULL THEN ''missing'' WHEN t.obsid IS NULL THEN ''deleted there'''
        '             ELSE ''differs'' END, h.accmetachecksum, t.accmetachecksum'
        '   FROM there t FULL JOIN here h ON h.obsid = t.obsid'
        '  WHERE h.accmetachecksum IS DISTINCT FROM t.accmetachecksum'
        '    AND (t.obsid IS NOT NULL OR $2 = ''-infinity'' OR NOT EXISTS ('
        '         SELECT 1 FROM %I.observation x WHERE x.obsid = h.obsid))'
        '  ORDER BY 2', harvest.remote_schema(source_name), harvest.remote_schema(source_name))
    USING src.collection, coalesce(since, '-infinity'::timestamp);
END $$;

-- exactly the differences harvest.differences finds, mended: copied again, or deleted here.
-- Returns how many observations were mended.
CREATE OR REPLACE FUNCTION harvest.repair(source_name text, since timestamp DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    copy_ids uuid[];
    delete_ids uuid[];
    batch jsonb;
    outcome record;
    removed integer;
BEGIN
    SELECT array_agg(d.obsid) FILTER (WHERE d.difference <> 'deleted there'),
           array_agg(d.obsid) FILTER (WHERE d.difference = 'deleted there')
      INTO copy_ids, delete_ids
      FROM harvest.differences(source_name, since) AS d;
    DELETE FROM caom2.observation WHERE obsid = ANY (coalesce(delete_ids, '{}'));
    GET DIAGNOSTICS removed = ROW_COUNT;
    IF copy_ids IS NULL THEN RETURN removed; END IF;
    EXECUTE format(
        'SELECT jsonb_agg(to_jsonb(b)) FROM ('
        '  SELECT obsid, collection, observationid, maxlastmodified, accmetachecksum'
        '    FROM %I.observation WHERE obsid = ANY ($1)) AS b', harvest.remote_schema(source_name))
    INTO batch USING copy_ids;
    outcome := harvest.copy_batch(source_name, coalesce(batch, '[]'));
    RETURN removed + outcome.copied;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Schedules: pg_cron, where the server preloads it for this database (the embedded cluster
-- does: hstvo/cluster.py); elsewhere `hstvo harvest run NAME --every 1h`
-- ---------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_cron could not be installed (%): harvests are scheduled by hstvo harvest run --every', SQLERRM;
END $$;

-- a source's harvest run by pg_cron on `cron_schedule` (cron's five fields; hourly by default),
-- as the calling role; replaces an earlier schedule of the source. Returns the cron job's id.
CREATE OR REPLACE FUNCTION harvest.schedule(source_name text, cron_schedule text DEFAULT '0 * * * *')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    job bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM harvest.source WHERE name = source_name) THEN
        RAISE EXCEPTION 'there is no harvest source %', source_name
            USING HINT = 'hstvo harvest add-source adds one; hstvo harvest status lists them';
    END IF;
    IF to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING HINT = format('a DBA preloads it (shared_preload_libraries = pg_cron, cron.database_name '
                                '= %s; the embedded cluster does after hstvo db stop and start) and runs '
                                'hstvo db upgrade; or hstvo harvest run %s --every 1h runs it instead',
                                current_database(), source_name);
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'hstvo harvest ' || source_name, cron_schedule, format('CALL caom2.harvest(%L)', source_name);
    RETURN job;
END $$;
COMMENT ON FUNCTION harvest.schedule IS 'run a source''s harvest by pg_cron (hourly by default)';

-- a source's schedule removed; false when it had none
CREATE OR REPLACE FUNCTION harvest.unschedule(source_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    removed boolean := false;
BEGIN
    IF to_regnamespace('cron') IS NOT NULL THEN
        EXECUTE 'SELECT count(*) > 0 FROM cron.job WHERE jobname = $1' INTO removed
        USING 'hstvo harvest ' || source_name;
        IF removed THEN
            EXECUTE 'SELECT cron.unschedule($1)' USING 'hstvo harvest ' || source_name;
        END IF;
    END IF;
    RETURN removed;
END $$;

-- each source's schedule, where pg_cron has one
CREATE OR REPLACE FUNCTION harvest.schedules() RETURNS TABLE (source text, schedule text, active boolean)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regnamespace('cron') IS NOT NULL THEN
        RETURN QUERY EXECUTE 'SELECT substr(jobname, 15), schedule, active FROM cron.job '
                             'WHERE jobname LIKE ''hstvo harvest %'' ORDER BY 1';
    END IF;
END $$;

-- An HTTP source compared by accMetaChecksum: its listing (loaders/harvest_http.py reads it
-- whole: [{observationid, accmetachecksum}]) against this archive's observations of the
-- collection, by observationID: what differs, is missing here, or is here but not there
CREATE OR REPLACE FUNCTION harvest.differences_from_listing(collection_name text, listing jsonb)
RETURNS TABLE (obsid uuid, observationid text, difference text, here text, there text)
LANGUAGE sql STABLE AS $$
    WITH there AS (SELECT * FROM jsonb_to_recordset(listing) AS t(observationid text, accmetachecksum text)),
         here AS (SELECT o.obsid, o.observationid, o.accmetachecksum FROM caom2.observation o
                   WHERE o.collection = collection_name)
    SELECT h.obsid, coalesce(t.observationid, h.observationid),
           CASE WHEN h.observationid IS NULL THEN 'missing'
                WHEN t.observationid IS NULL THEN 'deleted there' ELSE 'differs' END,
           h.accmetachecksum, t.accmetachecksum
      FROM there t FULL JOIN here h ON h.observationid = t.observationid
     WHERE h.accmetachecksum IS DISTINCT FROM t.accmetachecksum
     ORDER BY 2 $$;

-- observations deleted here by observationID (a repair of what the source no longer has);
-- returns how many
CREATE OR REPLACE FUNCTION harvest.delete_observations(collection_name text, observation_ids text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    removed integer;
BEGIN
    DELETE FROM caom2.observation o
     WHERE o.collection = collection_name AND o.observationid = ANY (observation_ids);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
