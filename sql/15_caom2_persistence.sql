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
-- from the stored values so that caom2.rollup only moves what really changed.
CREATE OR REPLACE FUNCTION caom2.with_state(entity jsonb, meta text, previous jsonb, keep boolean)
RETURNS jsonb LANGUAGE sql STABLE AS
$$
SELECT entity || jsonb_build_object(
    'metachecksum', meta,
    'lastmodified', CASE
        WHEN keep AND entity ? 'lastmodified' THEN entity->'lastmodified'
        WHEN previous->>'meta' = meta THEN previous->'lm'
        ELSE to_jsonb(caom2.now_utc()) END,
    'maxlastmodified', CASE
        WHEN keep AND entity ? 'maxlastmodified' THEN entity->'maxlastmodified'
        ELSE coalesce(previous->'mlm', to_jsonb(caom2.now_utc())) END,
    'accmetachecksum', coalesce(previous->'acc', to_jsonb(meta)))
$$;

-- caom2.put_observation: create or replace an observation from a document.
-- Planes, artifacts, parts and chunks absent from the document are deleted (no tombstone: CAOM
-- keeps tombstones for observations only). Returns what a client needs to answer: the id, URI,
-- accMetaChecksum, maxLastModified, whether it was created, and whether the checksums the
-- document declared agree with the ones computed here.
-- jit = off: the row estimates of nested jsonb_array_elements (100 each) would make PostgreSQL
-- JIT-compile these small inserts, which costs half a second per call.
CREATE OR REPLACE FUNCTION caom2.put_observation(doc jsonb, keep_timestamps boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    o jsonb := doc->'observation';
    new_id uuid := (o->>'obsid')::uuid;
    uri text := 'caom:' || (o->>'collection') || '/' || (o->>'observationid');
    existing_id uuid;
    previous jsonb;
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
    PERFORM caom2.set_flag('replacing', true);
    DELETE FROM caom2.observation WHERE obsid = new_id;
    PERFORM caom2.set_flag('replacing', false);
    PERFORM caom2.set_flag('trusted', true);

    -- Each function runs in FROM (LATERAL), once per row: `(f(x)).*` in a select list would run
    -- f once per column and make the planner inline the checksum into every one of them.
    INSERT INTO caom2.observation
    SELECT r.*
      FROM jsonb_populate_record(NULL::caom2.observation, o) AS raw,
           LATERAL caom2.observation_meta_checksum(raw) AS m(meta),
           LATERAL jsonb_populate_record(NULL::caom2.observation, caom2.with_state(
               o, m.meta, previous->(new_id::text), keep_timestamps)) AS r;

    INSERT INTO caom2.plane
    SELECT r.*
      FROM (SELECT p || jsonb_build_object('obsid', new_id, 'seq', n) AS j
              FROM jsonb_array_elements(doc->'planes') WITH ORDINALITY AS t(p, n)) AS rows,
           LATERAL jsonb_populate_record(NULL::caom2.plane, rows.j) AS raw,
           LATERAL caom2.plane_meta_checksum(raw) AS m(meta),
           LATERAL jsonb_populate_record(NULL::caom2.plane, caom2.with_state(
               rows.j, m.meta, previous->(rows.j->>'planeid'), keep_timestamps)) AS r;

    INSERT INTO caom2.artifact
    SELECT r.*
      FROM (SELECT a || jsonb_build_object('obsid', new_id, 'planeid', p->'planeid', 'seq', n) AS j
              FROM jsonb_array_elements(doc->'planes') AS tp(p),
                   jsonb_array_elements(p->'artifacts') WITH ORDINALITY AS ta(a, n)) AS rows,
           LATERAL jsonb_populate_record(NULL::caom2.artifact, rows.j) AS raw,
           LATERAL caom2.artifact_meta_checksum(raw) AS m(meta),
           LATERAL jsonb_populate_record(NULL::caom2.artifact, caom2.with_state(
               rows.j, m.meta, previous->(rows.j->>'artifactid'), keep_timestamps)) AS r;

    INSERT INTO caom2.part
    SELECT r.*
      FROM (SELECT pa || jsonb_build_object('obsid', new_id, 'planeid', p->'planeid',
                                            'artifactid', a->'artifactid', 'seq', n) AS j
              FROM jsonb_array_elements(doc->'planes') AS tp(p),
                   jsonb_array_elements(p->'artifacts') AS ta(a),
                   jsonb_array_elements(a->'parts') WITH ORDINALITY AS tpa(pa, n)) AS rows,
           LATERAL jsonb_populate_record(NULL::caom2.part, rows.j) AS raw,
           LATERAL caom2.part_meta_checksum(raw) AS m(meta),
           LATERAL jsonb_populate_record(NULL::caom2.part, caom2.with_state(
               rows.j, m.meta, previous->(rows.j->>'partid'), keep_timestamps)) AS r;

    INSERT INTO caom2.chunk
    SELECT r.*
      FROM (SELECT c || jsonb_build_object('obsid', new_id, 'planeid', p->'planeid',
                                           'artifactid', a->'artifactid',
                                           'partid', pa->'partid', 'seq', n) AS j
              FROM jsonb_array_elements(doc->'planes') AS tp(p),
                   jsonb_array_elements(p->'artifacts') AS ta(a),
                   jsonb_array_elements(a->'parts') AS tpa(pa),
                   jsonb_array_elements(pa->'chunks') WITH ORDINALITY AS tc(c, n)) AS rows,
           LATERAL jsonb_populate_record(NULL::caom2.chunk, rows.j) AS raw,
           LATERAL caom2.chunk_meta_checksum(raw) AS m(meta),
           LATERAL jsonb_populate_record(NULL::caom2.chunk, caom2.with_state(
               rows.j, m.meta, previous->(rows.j->>'chunkid'), keep_timestamps)) AS r;

    PERFORM caom2.set_flag('trusted', false);
    PERFORM caom2.set_flag('defer_rollup', false);
    PERFORM caom2.rollup(ARRAY[new_id], keep_timestamps);

    SELECT jsonb_build_object(
               'obsid', obsid, 'uri', observationuri, 'created', previous = '{}'::jsonb,
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
