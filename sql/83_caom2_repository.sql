-- The CAOM2 repository service (pyserver/caom2repo.py): what incremental harvesters list.
-- Observations are listed by maxLastModified (then observationID) ascending, START and END
-- inclusive, as CADC's torkeep does; deletions (tombstones) by lastModified.

-- (observations: observation_maxlastmodified_idx of sql/11_caom2_indexes.sql)
CREATE INDEX IF NOT EXISTS deletedobservation_harvest_idx
    ON caom2.deletedobservation (collection, lastmodified);

-- the collections the repository holds
CREATE OR REPLACE FUNCTION caom2.repository_collections() RETURNS SETOF text
LANGUAGE sql STABLE AS $$ SELECT DISTINCT collection FROM caom2.observation ORDER BY 1 $$;

-- caom2.observation_states: a page of a collection's observations for a harvester
CREATE OR REPLACE FUNCTION caom2.observation_states(collection_name text, start_at timestamp,
                                                    end_at timestamp, maxrec integer,
                                                    descending boolean DEFAULT false)
RETURNS TABLE (collection text, observationid text, maxlastmodified timestamp,
               accmetachecksum text)
LANGUAGE sql STABLE AS $$
    SELECT o.collection, o.observationid, o.maxlastmodified, o.accmetachecksum
      FROM caom2.observation o
     WHERE o.collection = collection_name
       AND (start_at IS NULL OR o.maxlastmodified >= start_at)
       AND (end_at IS NULL OR o.maxlastmodified <= end_at)
     ORDER BY CASE WHEN descending THEN NULL ELSE o.maxlastmodified END,
              CASE WHEN descending THEN o.maxlastmodified END DESC, o.observationid
     LIMIT maxrec $$;

-- caom2.deletion_states: a page of a collection's tombstones for a harvester
CREATE OR REPLACE FUNCTION caom2.deletion_states(collection_name text, start_at timestamp,
                                                 end_at timestamp, maxrec integer)
RETURNS TABLE (id uuid, collection text, observationid text, lastmodified timestamp)
LANGUAGE sql STABLE AS $$
    SELECT d.id, d.collection, d.observationid, d.lastmodified
      FROM caom2.deletedobservation d
     WHERE d.collection = collection_name
       AND (start_at IS NULL OR d.lastmodified >= start_at)
       AND (end_at IS NULL OR d.lastmodified <= end_at)
     ORDER BY d.lastmodified, d.id
     LIMIT maxrec $$;
