-- Persistence API: whole observations in and out as JSON documents.
--
-- A document is {"observation": {column: value, ...}, "planes": [{..., "artifacts": [{...,
-- "parts": [{..., "chunks": [{...}]}]}]}]} with caom2 column names as keys. Python turns CAOM XML
-- into this shape and back (loaders/caom2xml); the repository service and the harvester use the
-- same two functions, so there is one way an observation enters or leaves the database.

-- The stored state of every entity of these observations: id -> {lm, meta, mlm, acc}
DROP FUNCTION IF EXISTS caom2.entity_state(uuid);
CREATE OR REPLACE FUNCTION caom2.entity_state(observation_ids uuid[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$ BEGIN RETURN (SELECT coalesce(jsonb_object_agg(id, jsonb_build_object('lm', lastmodified, 'meta', metachecksum,
                                                       'mlm', maxlastmodified,
                                                       'acc', accmetachecksum)), '{}')
  FROM (SELECT obsid AS id, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.observation WHERE obsid = ANY (observation_ids)
        UNION ALL
        SELECT planeid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.plane WHERE obsid = ANY (observation_ids)
        UNION ALL
        SELECT artifactid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.artifact WHERE obsid = ANY (observation_ids)
        UNION ALL
        SELECT partid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.part WHERE obsid = ANY (observation_ids)
        UNION ALL
        SELECT chunkid, lastmodified, metachecksum, maxlastmodified, accmetachecksum
          FROM caom2.chunk WHERE obsid = ANY (observation_ids)) AS e); END $$;

-- One entity's row (as JSON) with the bookkeeping columns decided:
--   meta       its metaChecksum, computed by the caller;
--   previous   its stored state before the put (NULL when new);
--   keep       keep the document's timestamps (harvest/import) rather than the server's clock.
-- lastModified survives when metaChecksum is unchanged; accMetaChecksum/maxLastModified start
-- from the stored values so that caom2.rollup only moves what really changed. CAOM XML carries
-- timestamps to the millisecond: a kept document time that is the stored one to the millisecond
-- is the stored one (an export and import of an observation changes nothing).
CREATE OR REPLACE FUNCTION caom2.same_instant(document_time jsonb, stored_time jsonb) RETURNS boolean
LANGUAGE sql STABLE AS
$$ SELECT (document_time #>> '{}')::timestamp
          = date_trunc('milliseconds', (stored_time #>> '{}')::timestamp) $$;

DROP FUNCTION IF EXISTS caom2.with_state(jsonb, text, jsonb, boolean);
CREATE OR REPLACE FUNCTION caom2.with_state(entity jsonb, computed jsonb, previous jsonb, keep boolean)
RETURNS jsonb LANGUAGE sql STABLE AS
$$
SELECT entity || jsonb_build_object(
    'metachecksum', computed->0,
    'lastmodified', CASE
        WHEN keep AND caom2.same_instant(entity->'lastmodified', previous->'lm') THEN previous->'lm'
        WHEN keep AND entity ? 'lastmodified' THEN entity->'lastmodified'
        WHEN previous->>'meta' = computed->>0 THEN previous->'lm'
        ELSE to_jsonb(caom2.now_utc()) END,
    'maxlastmodified', CASE
        WHEN keep AND caom2.same_instant(entity->'maxlastmodified', previous->'mlm')
            THEN previous->'mlm'
        WHEN keep AND entity ? 'maxlastmodified' THEN entity->'maxlastmodified'
        ELSE coalesce(previous->'mlm', to_jsonb(caom2.now_utc())) END,
    -- the document's own accMetaChecksum where the roll-up would give it that (a new entity,
    -- or a harvested or imported one, whose maxLastModified the roll-up keeps): the roll-up
    -- then rewrites no row just written. Else the stored one, which the roll-up moves, with
    -- maxLastModified, where it changed.
    'accmetachecksum', CASE WHEN keep OR previous IS NULL THEN computed->1
                            ELSE coalesce(previous->'acc', computed->0) END)
$$;

-- (until 0022 its first parameter was named doc: CREATE OR REPLACE cannot rename a parameter,
-- so a database upgraded from then drops the old one first)
DO $$
BEGIN
    IF (SELECT proargnames[1] FROM pg_proc
         WHERE oid = to_regprocedure('caom2.document_entities(jsonb, text)')) = 'doc' THEN
        DROP FUNCTION caom2.document_entities(jsonb, text);
    END IF;
END $$;

-- The rows of one entity type in documents (a JSON array), each with its parent ids and its
-- position (seq): 'observation', 'plane', 'artifact', 'part' or 'chunk'.
-- (PL/pgSQL, called once per batch, with an estimate of a few rows: inlined, its nested
-- jsonb_array_elements would count 100 rows each, ten thousand million chunks a batch, and the
-- merges planned on that would read whole tables rather than look up the rows in hand by key)
CREATE OR REPLACE FUNCTION caom2.document_entities(docs jsonb, entity text) RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE ROWS 10 AS
$$ BEGIN
CASE entity
WHEN 'observation' THEN RETURN QUERY
SELECT doc->'observation' FROM jsonb_array_elements(docs) AS d(doc);
WHEN 'plane' THEN RETURN QUERY
SELECT p || jsonb_build_object('obsid', doc->'observation'->'obsid', 'seq', n)
  FROM jsonb_array_elements(docs) AS d(doc),
       jsonb_array_elements(doc->'planes') WITH ORDINALITY AS tp(p, n);
WHEN 'artifact' THEN RETURN QUERY
SELECT a || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid', 'seq', n)
  FROM jsonb_array_elements(docs) AS d(doc),
       jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') WITH ORDINALITY AS ta(a, n);
WHEN 'part' THEN RETURN QUERY
SELECT pa || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid',
                                'artifactid', a->'artifactid', 'seq', n)
  FROM jsonb_array_elements(docs) AS d(doc),
       jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') AS ta(a),
       jsonb_array_elements(a->'parts') WITH ORDINALITY AS tpa(pa, n);
WHEN 'chunk' THEN RETURN QUERY
SELECT c || jsonb_build_object('obsid', doc->'observation'->'obsid', 'planeid', p->'planeid',
                               'artifactid', a->'artifactid', 'partid', pa->'partid', 'seq', n)
  FROM jsonb_array_elements(docs) AS d(doc),
       jsonb_array_elements(doc->'planes') AS tp(p),
       jsonb_array_elements(p->'artifacts') AS ta(a),
       jsonb_array_elements(a->'parts') AS tpa(pa),
       jsonb_array_elements(pa->'chunks') WITH ORDINALITY AS tc(c, n);
END CASE;
END $$;

-- Each entity of these documents: id -> [metaChecksum, accMetaChecksum], computed bottom-up
-- from the documents alone (the same functions as caom2.rollup: children's accMetaChecksums
-- in order of their ids)
-- (PL/pgSQL, so that its plan is made once per session, not once per call)
CREATE OR REPLACE FUNCTION caom2.document_checksums(docs jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS
$$ BEGIN RETURN (
WITH chunk AS (
    SELECT (j->>'chunkid')::uuid AS id, (j->>'partid')::uuid AS parent, m.meta,
           caom2.acc_checksum(m.meta, '{}') AS acc
      FROM caom2.document_entities(docs, 'chunk') AS j,
           LATERAL caom2.chunk_meta_checksum(jsonb_populate_record(NULL::caom2.chunk, j)) AS m(meta)
), part AS (
    SELECT e.id, e.parent, e.meta, caom2.acc_checksum(e.meta, coalesce(
               array_agg(c.acc ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}')) AS acc
      FROM (SELECT (j->>'partid')::uuid AS id, (j->>'artifactid')::uuid AS parent,
                   caom2.part_meta_checksum(jsonb_populate_record(NULL::caom2.part, j)) AS meta
              FROM caom2.document_entities(docs, 'part') AS j) AS e
      LEFT JOIN chunk c ON c.parent = e.id
     GROUP BY e.id, e.parent, e.meta
), artifact AS (
    SELECT e.id, e.parent, e.meta, caom2.acc_checksum(e.meta, coalesce(
               array_agg(c.acc ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}')) AS acc
      FROM (SELECT (j->>'artifactid')::uuid AS id, (j->>'planeid')::uuid AS parent,
                   caom2.artifact_meta_checksum(jsonb_populate_record(NULL::caom2.artifact, j)) AS meta
              FROM caom2.document_entities(docs, 'artifact') AS j) AS e
      LEFT JOIN part c ON c.parent = e.id
     GROUP BY e.id, e.parent, e.meta
), plane AS (
    SELECT e.id, e.parent, e.meta, caom2.acc_checksum(e.meta, coalesce(
               array_agg(c.acc ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}')) AS acc
      FROM (SELECT (j->>'planeid')::uuid AS id, (j->>'obsid')::uuid AS parent,
                   caom2.plane_meta_checksum(jsonb_populate_record(NULL::caom2.plane, j)) AS meta
              FROM caom2.document_entities(docs, 'plane') AS j) AS e
      LEFT JOIN artifact c ON c.parent = e.id
     GROUP BY e.id, e.parent, e.meta
), observation AS (
    SELECT e.id, e.meta, caom2.acc_checksum(e.meta, coalesce(
               array_agg(c.acc ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL), '{}')) AS acc
      FROM (SELECT (j->>'obsid')::uuid AS id,
                   caom2.observation_meta_checksum(jsonb_populate_record(NULL::caom2.observation, j)) AS meta
              FROM caom2.document_entities(docs, 'observation') AS j) AS e
      LEFT JOIN plane c ON c.parent = e.id
     GROUP BY e.id, e.meta
)
SELECT coalesce(jsonb_object_agg(id, jsonb_build_array(meta, acc)), '{}')
  FROM (SELECT id, meta, acc FROM observation UNION ALL SELECT id, meta, acc FROM plane
        UNION ALL SELECT id, meta, acc FROM artifact UNION ALL SELECT id, meta, acc FROM part
        UNION ALL SELECT id, meta, acc FROM chunk) AS e); END
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

-- The statement that merges the documents' rows of one entity type into its table, in place:
--   $1 the documents (a JSON array), $2 their observations' ids, $3 the stored state
--   (caom2.entity_state), $4 keep the documents' timestamps, $5 the checksums of the
--   documents' entities (caom2.document_checksums). A stored row that a document has
--   unchanged is not written at all; a changed one is updated where it stands, and a new one
--   inserted. Rows are updated rather than deleted and inserted again so that whatever refers
--   to them (the HST tables of a plane's calibration and reference files, ON DELETE CASCADE)
--   stays: only an entity that leaves its document takes its dependants with it. Every
--   document of a batch is merged by the one statement (set-wise: a batch of a thousand costs
--   little more than one). Returns the ids of the observations a row was written for.
-- A row whose id belongs to another observation is not moved: its INSERT fails on the key.
CREATE OR REPLACE FUNCTION caom2.merge_statement(entity text) RETURNS text
LANGUAGE sql STABLE AS
$$
SELECT format($f$
    WITH incoming AS (
        SELECT r.*
          FROM caom2.document_entities($1, %1$L) AS d(j),
               LATERAL jsonb_populate_record(NULL::caom2.%1$I,
                   caom2.with_state(d.j, $5->(d.j->>%2$L), $3->(d.j->>%2$L), $4)) AS r
    ), updated AS (
        UPDATE caom2.%1$I AS t SET (%3$s) = (%4$s)
          FROM incoming AS i
         WHERE t.%2$I = i.%2$I AND t.obsid = i.obsid AND (%5$s) IS DISTINCT FROM (%4$s)
        RETURNING t.obsid
    ), inserted AS (
        INSERT INTO caom2.%1$I (%3$s)
        SELECT %4$s FROM incoming AS i
         WHERE NOT EXISTS (SELECT 1 FROM caom2.%1$I AS t WHERE t.%2$I = i.%2$I AND t.obsid = i.obsid)
        RETURNING obsid
    )
    SELECT ARRAY(SELECT obsid FROM updated UNION SELECT obsid FROM inserted)$f$,
    entity, CASE entity WHEN 'observation' THEN 'obsid' ELSE entity || 'id' END,
    (SELECT string_agg(quote_ident(c), ', ') FROM unnest(cols) AS c),
    (SELECT string_agg('i.' || quote_ident(c), ', ') FROM unnest(cols) AS c),
    (SELECT string_agg('t.' || quote_ident(c), ', ') FROM unnest(cols) AS c))
  FROM (SELECT caom2.document_columns(entity) AS cols) AS c
$$;

-- The statement that deletes the stored rows of an entity type that the documents no longer
-- have (their children go with them, ON DELETE CASCADE; $1 the documents, $2 their
-- observations). Returns the ids of the observations that lost a row.
CREATE OR REPLACE FUNCTION caom2.absent_rows_statement(entity text) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$
SELECT format('WITH gone AS (DELETE FROM caom2.%1$I WHERE obsid = ANY ($2) AND %2$I NOT IN ('
              'SELECT (j->>%2$L)::uuid FROM caom2.document_entities($1, %1$L) AS j) RETURNING obsid) '
              'SELECT ARRAY(SELECT DISTINCT obsid FROM gone)',
              entity, CASE entity WHEN 'observation' THEN 'obsid' ELSE entity || 'id' END)
$$;

-- caom2.merge_observation(docs, observation_ids, previous, keep, checksums), caom2.merge_plane(...), ...:
-- for each entity type, top down, delete what left the documents, then merge what they have.
-- Written here from the tables' columns (so they cannot drift from the tables) and planned once
-- per session instead of once per call (caom2.put_observations, their caller, sets the generic
-- plan). Each returns the ids of the observations it wrote a row of.
DO $$
DECLARE
    entity text;
BEGIN
    FOREACH entity IN ARRAY ARRAY['observation', 'plane', 'artifact', 'part', 'chunk'] LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS caom2.%I(jsonb, uuid, jsonb, boolean)',
                       'merge_' || entity);
        EXECUTE format('DROP FUNCTION IF EXISTS caom2.%I(jsonb, uuid[], jsonb, boolean)',
                       'merge_' || entity);
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION caom2.%I(docs jsonb, observation_ids uuid[],
                                               previous jsonb, keep boolean, checksums jsonb)
            RETURNS uuid[] LANGUAGE plpgsql AS $body$
            DECLARE
                deleted uuid[] := '{}';
                written uuid[];
            BEGIN
                IF previous <> '{}' THEN  -- nothing is stored of new observations
                    %s INTO deleted;
                END IF;
                %s INTO written;
                RETURN deleted || written;
            END $body$
            $f$, 'merge_' || entity, caom2.absent_rows_statement(entity),
            caom2.merge_statement(entity));
        EXECUTE format('COMMENT ON FUNCTION caom2.%I(jsonb, uuid[], jsonb, boolean, jsonb) IS %L',
                       'merge_' || entity, 'merges the ' || entity || ' rows of observation '
                       'documents into caom2.' || entity || ' (see caom2.merge_statement)');
    END LOOP;
END $$;

-- caom2.put_observations: create or replace observations from documents (a JSON array), all in
-- one set-wise pass: what the repository service, an XML import, ingest and the HTTP harvest
-- write. Each document is merged into what is stored (caom2.merge_statement): unchanged rows
-- are not touched, changed rows are updated in place, and planes, artifacts, parts and chunks
-- absent from its document are deleted (no tombstone: CAOM keeps tombstones for observations
-- only). Rows of other tables that refer to a kept plane (hst.plane_calibration, ...) stay.
-- The batch is written whole or not at all: a document that cannot be stored fails it (a
-- caller that wants the others stored puts them one at a time then, caom2.put_observation).
-- Returns, per document in order, what a client needs to answer: the id, URI,
-- accMetaChecksum, maxLastModified, whether it was created, whether anything changed, and
-- whether the checksums the document declared agree with the ones computed here.
-- jit = off: the row estimates of nested jsonb_array_elements would make PostgreSQL
-- JIT-compile these small statements, which costs half a second per call. A generic plan: its
-- statements are the same for every batch, and planning them anew cost more than running.
CREATE OR REPLACE FUNCTION caom2.put_observations(docs jsonb, keep_timestamps boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    ids uuid[];
    previous jsonb;
    checksums jsonb;
    written uuid[];
    clash record;
    result jsonb;
BEGIN
    IF jsonb_typeof(docs) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'observation documents come as a JSON array' USING ERRCODE = '22023';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(docs) AS d(doc)
                WHERE jsonb_typeof(doc->'observation') IS DISTINCT FROM 'object'
                   OR doc->'observation'->>'obsid' IS NULL
                   OR doc->'observation'->>'collection' IS NULL
                   OR doc->'observation'->>'observationid' IS NULL) THEN
        RAISE EXCEPTION 'observation document lacks its id, collection or observationID'
            USING ERRCODE = '22023';
    END IF;
    ids := ARRAY(SELECT (doc->'observation'->>'obsid')::uuid
                   FROM jsonb_array_elements(docs) WITH ORDINALITY AS d(doc, n) ORDER BY n);
    IF (SELECT count(DISTINCT u) FROM (
            SELECT doc->'observation'->>'obsid' FROM jsonb_array_elements(docs) AS d(doc)
            UNION ALL
            SELECT (doc->'observation'->>'collection') || '/' || (doc->'observation'->>'observationid')
              FROM jsonb_array_elements(docs) AS d(doc)) AS k(u)) <> 2 * cardinality(ids) THEN
        RAISE EXCEPTION 'a batch holds one document per observation' USING ERRCODE = '22023';
    END IF;
    -- concurrent puts of one observation queue here instead of failing on the unique keys
    -- (taken in one order, so that two batches cannot wait for each other)
    PERFORM pg_advisory_xact_lock(k)
       FROM (SELECT hashtextextended('caom:' || (doc->'observation'->>'collection') || '/'
                                     || (doc->'observation'->>'observationid'), 0) AS k
               FROM jsonb_array_elements(docs) AS d(doc) ORDER BY 1) AS locks;
    SELECT o.observationuri AS uri, o.obsid AS stored_id, d.id AS new_id INTO clash
      FROM (SELECT 'caom:' || (doc->'observation'->>'collection') || '/'
                   || (doc->'observation'->>'observationid') AS uri,
                   (doc->'observation'->>'obsid')::uuid AS id
              FROM jsonb_array_elements(docs) AS d(doc)) AS d
      CROSS JOIN LATERAL (SELECT * FROM caom2.observation o WHERE o.observationuri = d.uri) AS o
     WHERE o.obsid <> d.id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'observation % exists with id %, the document has id %', clash.uri,
            clash.stored_id, clash.new_id USING ERRCODE = '23505',
            HINT = 'delete the stored observation first, or keep its id';
    END IF;

    previous := caom2.entity_state(ids);
    checksums := caom2.document_checksums(docs);
    PERFORM caom2.set_flag('defer_rollup', true);
    PERFORM caom2.set_flag('trusted', true);
    written := caom2.merge_observation(docs, ids, previous, keep_timestamps, checksums)
               || caom2.merge_plane(docs, ids, previous, keep_timestamps, checksums)
               || caom2.merge_artifact(docs, ids, previous, keep_timestamps, checksums)
               || caom2.merge_part(docs, ids, previous, keep_timestamps, checksums)
               || caom2.merge_chunk(docs, ids, previous, keep_timestamps, checksums);
    PERFORM caom2.set_flag('trusted', false);
    PERFORM caom2.set_flag('defer_rollup', false);
    written := ARRAY(SELECT DISTINCT unnest(written));
    IF cardinality(written) > 0 THEN
        -- A new observation, and any whose documents' timestamps are kept, is stored with the
        -- accMetaChecksums and maxLastModifieds its document gives (caom2.with_state): rolling
        -- it up would compute every checksum again to change nothing, which was a fifth of an
        -- ingest's time. Only a stored observation replaced with new timestamps rolls up;
        -- ObsCore is written for all of them.
        PERFORM caom2.rollup(ARRAY(SELECT w FROM unnest(written) AS w
                                    WHERE NOT keep_timestamps AND previous ? w::text),
                             keep_timestamps);
        PERFORM hstvo.refresh_obscore(ARRAY(SELECT w FROM unnest(written) AS w
                                             WHERE keep_timestamps OR NOT previous ? w::text));
    END IF;

    SELECT jsonb_agg(jsonb_build_object(
               'obsid', o.obsid, 'uri', o.observationuri, 'created', NOT previous ? o.obsid::text,
               'changed', o.obsid = ANY (written),
               'metachecksum', o.metachecksum, 'accmetachecksum', o.accmetachecksum,
               'maxlastmodified', o.maxlastmodified,
               'declared_accmetachecksum', d.doc->'observation'->>'accmetachecksum',
               'checksums_match', coalesce(d.doc->'observation'->>'accmetachecksum'
                                           = o.accmetachecksum, true)) ORDER BY d.n)
      INTO result
      FROM jsonb_array_elements(docs) WITH ORDINALITY AS d(doc, n)
      CROSS JOIN LATERAL (SELECT * FROM caom2.observation o
                           WHERE o.obsid = (d.doc->'observation'->>'obsid')::uuid) AS o;
    RETURN coalesce(result, '[]');
END $$;
COMMENT ON FUNCTION caom2.put_observations IS
    'create or replace observations from documents (a JSON array), set-wise, all or none';

-- caom2.put_observation: create or replace one observation from a document (a batch of one
-- for caom2.put_observations, whose summary it returns).
CREATE OR REPLACE FUNCTION caom2.put_observation(doc jsonb, keep_timestamps boolean DEFAULT false)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT caom2.put_observations(jsonb_build_array(doc), keep_timestamps) -> 0 $$;

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
