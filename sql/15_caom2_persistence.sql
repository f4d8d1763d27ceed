-- Persistence API: whole observations in and out as JSON documents.
--
-- A document is {"observation": {column: value, ...}, "planes": [{..., "artifacts": [{...,
-- "parts": [{..., "chunks": [{...}]}]}]}]} with caom2 column names as keys. Python turns CAOM XML
-- into this shape and back (loaders/caom2xml); the repository service and the harvester use the
-- same two functions, so there is one way an observation enters or leaves the database.

-- The stored state of every entity of an observation: id -> {lm, meta, mlm, acc}
CREATE OR REPLACE FUNCTION caom2.entity_state(observation_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$ BEGIN RETURN (SELECT coalesce(jsonb_object_agg(id, jsonb_build_object('lm', lastmodified, 'meta', metachecksum,
                                                       'mlm', maxlastmodified,
                                                       'acc', accmetachecksum)), '{}')
  FROM (SELECT obsid AS id, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.observation WHERE obsid = observation_id
        UNION ALL
        SELECT planeid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.plane WHERE obsid = observation_id
        UNION ALL
        SELECT artifactid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.artifact WHERE obsid = observation_id
        UNION ALL
        SELECT partid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.part WHERE obsid = observation_id
        UNION ALL
        SELECT chunkid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.chunk WHERE obsid = observation_id) AS e); END $$;

-- One entity's row (as JSON) with the bookkeeping columns decided:
--   meta       its metaChecksum, computed by the caller;
--   previous   its stored state before the put (NULL when new);
--   keep       keep the document's timestamps (harvest/import) rather than the server's clock.
-- lastModified survives when metaChecksum is unchanged; accMetaChecksum/maxLastModified start
-- from the stored values so that caom2.rollup only moves what really changed. CAOM XML carries
-- timestamps to the millisecond: a kept document time that is the stored one to the millisecond
-- is the stored one (an export and import of an observation changes nothing).
CREATE OR REPLACE FUNCTION caom2.same_instant(document_time jsonb, stored_time jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS
$$ SELECT (document_time #>> '{}')::timestamp
          = date_trunc('milliseconds', (stored_time #>> '{}')::timestamp) $$;

CREATE OR REPLACE FUNCTION caom2.with_state(entity jsonb, meta text, previous jsonb, keep boolean)
RETURNS jsonb LANGUAGE sql STABLE AS
$$
SELECT entity || jsonb_build_object(
    'metachecksum', meta,
    'lastmodified', CASE
        WHEN keep AND caom2.same_instant(entity->'lastmodified', previous->'lm') THEN previous->'lm'
        WHEN keep AND entity ? 'lastmodified' THEN entity->'lastmodified'
        WHEN previous->>'meta' = meta THEN previous->'lm'
        ELSE to_jsonb(caom2.now_utc()) END,
    'maxlastmodified', CASE
        WHEN keep AND caom2.same_instant(entity->'maxlastmodified', previous->'mlm')
            THEN previous->'mlm'
        WHEN keep AND entity ? 'maxlastmodified' THEN entity->'maxlastmodified'
        ELSE coalesce(previous->'mlm', to_jsonb(caom2.now_utc())) END,
    'accmetachecksum', coalesce(previous->'acc', to_jsonb(meta)))
$$;

-- The rows of one entity type in a document, each with its parent ids and its position (seq):
-- 'observation', 'plane', 'artifact', 'part' or 'chunk'.
CREATE OR REPLACE FUNCTION caom2.document_entities(doc jsonb, entity text) RETURNS SETOF jsonb
LANGUAGE sql IMMUTABLE AS
$$
SELECT doc->'observation' WHERE entity = 'observation'
UNION ALL
SELECT p || jsonb_build_object('obsid', doc->'observation'->'obsid', 'seq', n)
  FROM jsonb_array_elements(doc->'planes') WITH ORDINALITY AS tp(p, n) WHERE entity = 'plane'
UNION ALL
SELECT a || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid', 'seq', n)
  FROM jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') WITH ORDINALITY AS ta(a, n) WHERE entity = 'artifact'
UNION ALL
SELECT pa || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid',
                                'artifactid', a->'artifactid', 'seq', n)
  FROM jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') AS ta(a),
       jsonb_array_elements(a->'parts') WITH ORDINALITY AS tpa(pa, n) WHERE entity = 'part'
UNION ALL
SELECT c || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid',
                               'artifactid', a->'artifactid', 'partid', pa->'partid', 'seq', n)
  FROM jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') AS ta(a),
       jsonb_array_elements(a->'parts') AS tpa(pa),
       jsonb_array_elements(pa->'chunks') WITH ORDINALITY AS tc(c, n) WHERE entity = 'chunk'
$$;

-- The columns of an entity's table that a document sets: all but those the BEFORE triggers
-- derive (URIs, publisher id, pgsphere and range forms of the bounds, and the observation's
-- access rules that a plane carries, sql/92_access_rules.sql: a document that set those would
-- clear them, and show the planes of a proprietary observation).
CREATE OR REPLACE FUNCTION caom2.document_columns(entity text) RETURNS text[]
LANGUAGE sql STABLE AS
$$
SELECT array_agg(a.attname::text ORDER BY a.attnum)
  FROM pg_attribute a
 WHERE a.attrelid = ('caom2.' || entity)::regclass AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname <> ALL (ARRAY['observationuri', 'planeuri', 'publisherid',
       'position_bounds_spoly', 'position_bounds_center', 'position_bounds_area',
       'position_bounds_size', 'energy_bounds', 'energy_bounds_width', 'time_bounds',
       'time_bounds_width', 'custom_bounds', 'custom_bounds_width',
       'obs_metarelease', 'obs_metareadgroups'])
$$;

-- The statement that merges a document's rows of one entity type into its table, in place:
--   $1 the document, $2 the observation's id, $3 the stored state (caom2.entity_state), $4 keep
--   the document's timestamps. A stored row that the document has unchanged is not written at
--   all; a changed one is updated where it stands, and a new one inserted. Rows are updated
--   rather than deleted and inserted again so that whatever refers to them (the HST tables of
--   a plane's calibration and reference files, ON DELETE CASCADE) stays: only an entity that
--   leaves the document takes its dependants with it. Returns the number of rows written.
-- A row whose id belongs to another observation is not moved: its INSERT fails on the key.
CREATE OR REPLACE FUNCTION caom2.merge_statement(entity text) RETURNS text
LANGUAGE sql STABLE AS
$$
SELECT format($f$
    WITH incoming AS (
        SELECT r.*
          FROM caom2.document_entities($1, %1$L) AS d(j),
               LATERAL jsonb_populate_record(NULL::caom2.%1$I, d.j) AS raw,
               LATERAL caom2.%1$s_meta_checksum(raw) AS m(meta),
               LATERAL jsonb_populate_record(NULL::caom2.%1$I,
                   caom2.with_state(d.j, m.meta, $3->(d.j->>%2$L), $4)) AS r
    ), updated AS (
        UPDATE caom2.%1$I AS t SET (%3$s) = (%4$s)
          FROM incoming AS i
         WHERE t.%2$I = i.%2$I AND t.obsid = $2 AND (%5$s) IS DISTINCT FROM (%4$s)
        RETURNING 1
    ), inserted AS (
        INSERT INTO caom2.%1$I (%3$s)
        SELECT %4$s FROM incoming AS i
         WHERE NOT EXISTS (SELECT 1 FROM caom2.%1$I AS t WHERE t.%2$I = i.%2$I AND t.obsid = $2)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)$f$,
    entity, CASE entity WHEN 'observation' THEN 'obsid' ELSE entity || 'id' END,
    (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) AS c),
    (SELECT string_agg('i.' || quote_ident(c), ', ') FROM unnest(cols) AS c),
    (SELECT string_agg('t.' || quote_ident(c), ', ') FROM unnest(cols) AS c))
  FROM (SELECT caom2.document_columns(entity) AS cols) AS c
$$;

-- The statement that deletes the stored rows of an entity type that the document no longer
-- has (their children go with them, ON DELETE CASCADE; $1 the document, $2 the observation).
CREATE OR REPLACE FUNCTION caom2.absent_rows_statement(entity text) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$
SELECT format('DELETE FROM caom2.%1$I WHERE obsid = $2 AND %2$I NOT IN ('
              'SELECT (j->>%2$L)::uuid FROM caom2.document_entities($1, %1$L) AS j)',
              entity, CASE entity WHEN 'observation' THEN 'obsid' ELSE entity || 'id' END)
$$;

-- caom2.merge_observation(doc, observation_id, previous, keep), caom2.merge_plane(...), ...: for each
-- entity type, top down, delete what left the document, then merge what it has. Written here
-- from the tables' columns (so they cannot drift from the tables) and planned once per session
-- instead of once per call (caom2.put_observation, their caller, sets the generic plan).
DO $$
DECLARE
    entity text;
BEGIN
    FOREACH entity IN ARRAY ARRAY['observation', 'plane', 'artifact', 'part', 'chunk'] LOOP
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION caom2.%I(doc jsonb, observation_id uuid, previous jsonb,
                                               keep boolean)
            RETURNS bigint LANGUAGE plpgsql AS $body$
            DECLARE
                deleted bigint := 0;
                written bigint;
            BEGIN
                IF previous <> '{}' THEN  -- nothing is stored of a new observation
                    %s;
                    GET DIAGNOSTICS deleted = ROW_COUNT;
                END IF;
                %s INTO written;
                RETURN deleted + written;
            END $body$
            $f$, 'merge_' || entity, caom2.absent_rows_statement(entity),
            caom2.merge_statement(entity));
        EXECUTE format('COMMENT ON FUNCTION caom2.%I(jsonb, uuid, jsonb, boolean) IS %L',
                       'merge_' || entity, 'merges the ' || entity || ' rows of an observation '
                       'document into caom2.' || entity || ' (see caom2.merge_statement)');
    END LOOP;
END $$;

-- caom2.put_observation: create or replace an observation from a document.
-- The document is merged into what is stored (caom2.merge_statement): unchanged rows are not
-- touched, changed rows are updated in place, and planes, artifacts, parts and chunks absent
-- from the document are deleted (no tombstone: CAOM keeps tombstones for observations only).
-- Rows of other tables that refer to a kept plane (hst.plane_calibration, ...) stay.
-- Returns what a client needs to answer: the id, URI, accMetaChecksum, maxLastModified,
-- whether it was created, whether anything changed, and whether the checksums the document
-- declared agree with the ones computed here.
-- jit = off: the row estimates of nested jsonb_array_elements (100 each) would make PostgreSQL
-- JIT-compile these small inserts, which costs half a second per call. A generic plan: its
-- statements are the same for every document, and planning them anew cost more than running.
CREATE OR REPLACE FUNCTION caom2.put_observation(doc jsonb, keep_timestamps boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    o jsonb := doc->'observation';
    new_id uuid := (o->>'obsid')::uuid;
    uri text := 'caom:' || (o->>'collection') || '/' || (o->>'observationid');
    existing_id uuid;
    previous jsonb;
    written bigint;
    result jsonb;
BEGIN
    IF new_id IS NULL OR o->>'collection' IS NULL OR o->>'observationid' IS NULL THEN
        RAISE EXCEPTION 'observation document lacks its id, collection or observationID'
            USING ERRCODE = '22023';
    END IF;
    -- concurrent puts of one observation queue here instead of failing on the unique keys
    PERFORM pg_advisory_xact_lock(hashtextextended(uri, 0));
    SELECT obsid INTO existing_id FROM caom2.observation WHERE observationuri = uri;
    IF existing_id IS NOT NULL AND existing_id <> new_id THEN
        RAISE EXCEPTION 'observation % exists with id %, the document has id %', uri, existing_id,
            new_id USING ERRCODE = '23505',
            HINT = 'delete the stored observation first, or keep its id';
    END IF;

    previous := caom2.entity_state(new_id);
    PERFORM caom2.set_flag('defer_rollup', true);

    PERFORM caom2.set_flag('trusted', true);
    written := caom2.merge_observation(doc, new_id, previous, keep_timestamps)
                       + caom2.merge_plane(doc, new_id, previous, keep_timestamps)
                       + caom2.merge_artifact(doc, new_id, previous, keep_timestamps)
                       + caom2.merge_part(doc, new_id, previous, keep_timestamps)
                       + caom2.merge_chunk(doc, new_id, previous, keep_timestamps);
    PERFORM caom2.set_flag('trusted', false);
    PERFORM caom2.set_flag('defer_rollup', false);
    IF written > 0 THEN
        PERFORM caom2.rollup(ARRAY[new_id], keep_timestamps);
    END IF;

    SELECT jsonb_build_object(
               'obsid', obsid, 'uri', observationuri, 'created', previous = '{}'::jsonb,
               'changed', written > 0,
               'metachecksum', metachecksum, 'accmetachecksum', accmetachecksum,
               'maxlastmodified', maxlastmodified,
               'declared_accmetachecksum', o->>'accmetachecksum',
               'checksums_match', coalesce(o->>'accmetachecksum' = accmetachecksum, true))
      INTO result FROM caom2.observation WHERE obsid = new_id;
    RETURN result;
END $$;

-- caom2.delete_observation: delete by collection and observationID (writes a tombstone).
-- Returns the deleted observation's id, or NULL when there was none.
CREATE OR REPLACE FUNCTION caom2.delete_observation(obs_collection text, obs_id text)
RETURNS uuid LANGUAGE sql AS
$$ DELETE FROM caom2.observation WHERE collection = obs_collection AND observationid = obs_id
   RETURNING obsid $$;

-- JSON of one row without the columns the database derives (they are not part of the document)
CREATE OR REPLACE FUNCTION caom2.document_row(r jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_strip_nulls(r - ARRAY['seq', 'observationuri', 'planeuri', 'publisherid',
    'position_bounds_spoly', 'position_bounds_center', 'position_bounds_area',
    'position_bounds_size', 'energy_bounds', 'energy_bounds_width', 'time_bounds',
    'time_bounds_width', 'custom_bounds', 'custom_bounds_width']) $$;

-- caom2.observation_document: the stored observation as a document (NULL when absent)
CREATE OR REPLACE FUNCTION caom2.observation_document(observation_id uuid) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
SELECT jsonb_build_object(
    'observation', caom2.document_row(to_jsonb(o)),
    'planes', coalesce((
        SELECT jsonb_agg(caom2.document_row(to_jsonb(p)) || jsonb_build_object(
            'publisherid', p.publisherid,
            'artifacts', coalesce((
                SELECT jsonb_agg(caom2.document_row(to_jsonb(a)) || jsonb_build_object(
                    'parts', coalesce((
                        SELECT jsonb_agg(caom2.document_row(to_jsonb(pa)) || jsonb_build_object(
                            'chunks', coalesce((
                                SELECT jsonb_agg(caom2.document_row(to_jsonb(c)) ORDER BY c.seq)
                                  FROM caom2.chunk c WHERE c.partid = pa.partid), '[]')
                        ) ORDER BY pa.seq)
                          FROM caom2.part pa WHERE pa.artifactid = a.artifactid), '[]')
                ) ORDER BY a.seq)
                  FROM caom2.artifact a WHERE a.planeid = p.planeid), '[]')
        ) ORDER BY p.seq)
          FROM caom2.plane p WHERE p.obsid = o.obsid), '[]'))
  FROM caom2.observation o WHERE o.obsid = observation_id
$$;

CREATE OR REPLACE FUNCTION caom2.observation_document(obs_collection text, obs_id text)
RETURNS jsonb LANGUAGE sql STABLE AS
$$ SELECT caom2.observation_document(obsid) FROM caom2.observation
    WHERE collection = obs_collection AND observationid = obs_id $$;
