-- Lifecycle of CAOM rows: checksums, lastModified/maxLastModified, derived columns, tombstones.
--
-- The rules are CADC's (ObservationDAO.put, caom2-and-hst.md section 1.6), enforced here so that
-- every writer obeys them, psql included:
--   * metaChecksum is recomputed on every insert and update (BEFORE row triggers);
--   * lastModified moves to now() only when metaChecksum changes (or the row is new);
--   * accMetaChecksum = MD5(own metaChecksum digest + children's accMetaChecksum digests in id
--     order); maxLastModified moves to now() only when accMetaChecksum changes. caom2.rollup()
--     recomputes both bottom-up for a set of observations; AFTER statement triggers call it
--     once per statement, for the observations the statement touched;
--   * deleting an observation writes a DeletedObservation tombstone.
--
-- Transaction-local flags (set_config('caom2.<flag>', 'on', true)) let caom2.put_observation do
-- the same work in bulk: 'defer_rollup' (it calls rollup once at the end), 'trusted' (it has
-- computed metaChecksum and decided lastModified already) and 'rollup' (set by rollup itself:
-- only accMetaChecksum/maxLastModified are being written). A harvest (sql/85_harvest.sql) sets
-- 'harvested': its rows are copies of another archive's, derived columns, checksums, publisherID
-- and member lists included, written as they are (the roll-up then checks them).

CREATE OR REPLACE FUNCTION caom2.now_utc() RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (now() AT TIME ZONE 'UTC')::timestamp $$;

CREATE OR REPLACE FUNCTION caom2.flag(flag_name text) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('caom2.' || flag_name, true), '') = 'on' $$;

CREATE OR REPLACE FUNCTION caom2.set_flag(flag_name text, on_off boolean) RETURNS void
LANGUAGE sql AS $$ SELECT set_config('caom2.' || flag_name, CASE WHEN on_off THEN 'on' ELSE 'off' END, true) $$;

-- ---------------------------------------------------------------------------------------------
-- BEFORE row triggers: derived columns, metaChecksum, lastModified
-- ---------------------------------------------------------------------------------------------

-- Shared timestamp rule; the caller has set new_meta already.
CREATE OR REPLACE FUNCTION caom2.next_lastmodified(op text, new_lm timestamp, old_lm timestamp,
                                                   new_meta text, old_meta text)
RETURNS timestamp LANGUAGE sql STABLE AS
$$ SELECT CASE
       WHEN op = 'INSERT' THEN coalesce(new_lm, caom2.now_utc())
       -- caom2.put_observation has decided lastModified already (caom2.with_state)
       WHEN caom2.flag('trusted') AND new_lm IS NOT NULL THEN new_lm
       WHEN new_meta IS DISTINCT FROM old_meta AND new_lm IS NOT DISTINCT FROM old_lm
           THEN caom2.now_utc()
       ELSE coalesce(new_lm, old_lm)
   END $$;

CREATE OR REPLACE FUNCTION caom2.observation_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('rollup') OR caom2.flag('harvested') THEN RETURN NEW; END IF;
    NEW.observationuri := 'caom:' || NEW.collection || '/' || NEW.observationid;
    IF NEW.members IS NOT NULL THEN NEW.typecode := 'C'; END IF;
    IF NOT caom2.flag('trusted') OR NEW.metachecksum IS NULL THEN
        NEW.metachecksum := caom2.observation_meta_checksum(NEW);
    END IF;
    NEW.lastmodified := caom2.next_lastmodified(TG_OP, NEW.lastmodified,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lastmodified END, NEW.metachecksum,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.metachecksum END);
    NEW.maxlastmodified := greatest(NEW.lastmodified, NEW.maxlastmodified);
    NEW.accmetachecksum := coalesce(NEW.accmetachecksum, NEW.metachecksum);  -- until rollup
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION caom2.plane_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    obs record;
BEGIN
    IF caom2.flag('rollup') THEN RETURN NEW; END IF;
    IF caom2.flag('harvested') THEN  -- only the pgsphere values, which a harvest cannot copy
        NEW.position_bounds_spoly := caom2.bounds_spoly(NEW.position_bounds);
        NEW.position_bounds_center := caom2.bounds_center(NEW.position_bounds);
        RETURN NEW;
    END IF;
    SELECT collection, observationid INTO obs FROM caom2.observation WHERE obsid = NEW.obsid;
    NEW.planeuri := 'caom:' || obs.collection || '/' || obs.observationid || '/' || NEW.productid;
    NEW.publisherid := hstvo.setting('publisher_authority') || '/' || obs.collection || '?'
                       || obs.observationid || '/' || NEW.productid;
    IF TG_OP = 'INSERT' OR NEW.position_bounds IS DISTINCT FROM OLD.position_bounds THEN
        NEW.position_bounds_spoly := caom2.bounds_spoly(NEW.position_bounds);
        NEW.position_bounds_center := caom2.bounds_center(NEW.position_bounds);
        -- (a polygon's area from the polygon just made, rather than making it again)
        NEW.position_bounds_area := CASE WHEN cardinality(NEW.position_bounds) = 3
                                         THEN caom2.bounds_area(NEW.position_bounds)
                                         ELSE degrees(degrees(area(NEW.position_bounds_spoly))) END;
        NEW.position_bounds_size := caom2.bounds_size(NEW.position_bounds);
    END IF;
    NEW.energy_bounds := caom2.interval_range(NEW.energy_bounds_lower, NEW.energy_bounds_upper);
    NEW.energy_bounds_width := NEW.energy_bounds_upper - NEW.energy_bounds_lower;
    NEW.time_bounds := caom2.interval_range(NEW.time_bounds_lower, NEW.time_bounds_upper);
    NEW.time_bounds_width := NEW.time_bounds_upper - NEW.time_bounds_lower;
    NEW.custom_bounds := caom2.interval_range(NEW.custom_bounds_lower, NEW.custom_bounds_upper);
    NEW.custom_bounds_width := NEW.custom_bounds_upper - NEW.custom_bounds_lower;
    IF NOT caom2.flag('trusted') OR NEW.metachecksum IS NULL THEN
        NEW.metachecksum := caom2.plane_meta_checksum(NEW);
    END IF;
    NEW.lastmodified := caom2.next_lastmodified(TG_OP, NEW.lastmodified,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lastmodified END, NEW.metachecksum,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.metachecksum END);
    NEW.maxlastmodified := greatest(NEW.lastmodified, NEW.maxlastmodified);
    NEW.accmetachecksum := coalesce(NEW.accmetachecksum, NEW.metachecksum);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION caom2.artifact_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('rollup') OR caom2.flag('harvested') THEN RETURN NEW; END IF;
    IF NOT caom2.flag('trusted') OR NEW.metachecksum IS NULL THEN
        NEW.metachecksum := caom2.artifact_meta_checksum(NEW);
    END IF;
    NEW.lastmodified := caom2.next_lastmodified(TG_OP, NEW.lastmodified,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lastmodified END, NEW.metachecksum,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.metachecksum END);
    NEW.maxlastmodified := greatest(NEW.lastmodified, NEW.maxlastmodified);
    NEW.accmetachecksum := coalesce(NEW.accmetachecksum, NEW.metachecksum);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION caom2.part_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('rollup') OR caom2.flag('harvested') THEN RETURN NEW; END IF;
    IF NOT caom2.flag('trusted') OR NEW.metachecksum IS NULL THEN
        NEW.metachecksum := caom2.part_meta_checksum(NEW);
    END IF;
    NEW.lastmodified := caom2.next_lastmodified(TG_OP, NEW.lastmodified,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lastmodified END, NEW.metachecksum,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.metachecksum END);
    NEW.maxlastmodified := greatest(NEW.lastmodified, NEW.maxlastmodified);
    NEW.accmetachecksum := coalesce(NEW.accmetachecksum, NEW.metachecksum);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION caom2.chunk_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('rollup') OR caom2.flag('harvested') THEN RETURN NEW; END IF;
    IF NOT caom2.flag('trusted') OR NEW.metachecksum IS NULL THEN
        NEW.metachecksum := caom2.chunk_meta_checksum(NEW);
    END IF;
    NEW.lastmodified := caom2.next_lastmodified(TG_OP, NEW.lastmodified,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lastmodified END, NEW.metachecksum,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.metachecksum END);
    NEW.maxlastmodified := greatest(NEW.lastmodified, NEW.maxlastmodified);
    NEW.accmetachecksum := coalesce(NEW.accmetachecksum, NEW.metachecksum);
    RETURN NEW;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Roll-up: accMetaChecksum and maxLastModified, bottom-up, for whole observations
-- ---------------------------------------------------------------------------------------------

-- keep_timestamps: a harvested or imported document's maxLastModified values are kept as given
CREATE OR REPLACE FUNCTION caom2.rollup(obsids uuid[], keep_timestamps boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    t timestamp := caom2.now_utc();
BEGIN
    IF cardinality(obsids) = 0 THEN RETURN; END IF;
    PERFORM caom2.set_flag('rollup', true);

    UPDATE caom2.chunk c
       SET accmetachecksum = n.acc,
           maxlastmodified = CASE WHEN keep_timestamps THEN c.maxlastmodified ELSE t END
      FROM (SELECT chunkid, caom2.acc_checksum(metachecksum, '{}') AS acc
              FROM caom2.chunk WHERE obsid = ANY (obsids)) AS n
     WHERE c.chunkid = n.chunkid AND c.accmetachecksum IS DISTINCT FROM n.acc;

    UPDATE caom2.part p
       SET accmetachecksum = n.acc,
           maxlastmodified = CASE WHEN keep_timestamps THEN p.maxlastmodified ELSE t END
      FROM (SELECT p.partid, caom2.acc_checksum(p.metachecksum, coalesce(
                       array_agg(c.accmetachecksum ORDER BY c.chunkid)
                           FILTER (WHERE c.chunkid IS NOT NULL), '{}')) AS acc
              FROM caom2.part p LEFT JOIN caom2.chunk c ON c.partid = p.partid
             WHERE p.obsid = ANY (obsids) GROUP BY p.partid) AS n
     WHERE p.partid = n.partid AND p.accmetachecksum IS DISTINCT FROM n.acc;

    UPDATE caom2.artifact a
       SET accmetachecksum = n.acc,
           maxlastmodified = CASE WHEN keep_timestamps THEN a.maxlastmodified ELSE t END
      FROM (SELECT a.artifactid, caom2.acc_checksum(a.metachecksum, coalesce(
                       array_agg(p.accmetachecksum ORDER BY p.partid)
                           FILTER (WHERE p.partid IS NOT NULL), '{}')) AS acc
              FROM caom2.artifact a LEFT JOIN caom2.part p ON p.artifactid = a.artifactid
             WHERE a.obsid = ANY (obsids) GROUP BY a.artifactid) AS n
     WHERE a.artifactid = n.artifactid AND a.accmetachecksum IS DISTINCT FROM n.acc;

    UPDATE caom2.plane p
       SET accmetachecksum = n.acc,
           maxlastmodified = CASE WHEN keep_timestamps THEN p.maxlastmodified ELSE t END
      FROM (SELECT p.planeid, caom2.acc_checksum(p.metachecksum, coalesce(
                       array_agg(a.accmetachecksum ORDER BY a.artifactid)
                           FILTER (WHERE a.artifactid IS NOT NULL), '{}')) AS acc
              FROM caom2.plane p LEFT JOIN caom2.artifact a ON a.planeid = p.planeid
             WHERE p.obsid = ANY (obsids) GROUP BY p.planeid) AS n
     WHERE p.planeid = n.planeid AND p.accmetachecksum IS DISTINCT FROM n.acc;

    UPDATE caom2.observation o
       SET accmetachecksum = n.acc,
           maxlastmodified = CASE WHEN keep_timestamps THEN o.maxlastmodified ELSE t END
      FROM (SELECT o.obsid, caom2.acc_checksum(o.metachecksum, coalesce(
                       array_agg(p.accmetachecksum ORDER BY p.planeid)
                           FILTER (WHERE p.planeid IS NOT NULL), '{}')) AS acc
              FROM caom2.observation o LEFT JOIN caom2.plane p ON p.obsid = o.obsid
             WHERE o.obsid = ANY (obsids) GROUP BY o.obsid) AS n
     WHERE o.obsid = n.obsid AND o.accmetachecksum IS DISTINCT FROM n.acc;

    -- ObsCore's rows of these observations, in the same transaction (sql/20_ivoa_obscore.sql)
    PERFORM hstvo.refresh_obscore(obsids);
    PERFORM caom2.set_flag('rollup', false);
END $$;

-- AFTER statement triggers: one roll-up per statement for the observations it touched
CREATE OR REPLACE FUNCTION caom2.after_change_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('rollup') OR caom2.flag('defer_rollup') THEN RETURN NULL; END IF;
    PERFORM caom2.rollup(ARRAY(SELECT DISTINCT obsid FROM changed_rows));
    RETURN NULL;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Tombstones and the normalised member/input lists
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION caom2.observation_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO caom2.deletedobservation (id, collection, observationid, lastmodified)
    VALUES (OLD.obsid, OLD.collection, OLD.observationid, caom2.now_utc())
    ON CONFLICT (id) DO UPDATE SET lastmodified = EXCLUDED.lastmodified;
    RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION caom2.observation_sync_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('harvested') THEN RETURN NULL; END IF;  -- the harvest copies the list's rows
    DELETE FROM caom2.observationmember WHERE parentid = NEW.obsid;
    INSERT INTO caom2.observationmember (parentid, memberid)
    SELECT DISTINCT NEW.obsid, m FROM unnest(string_to_array(NEW.members, ' ')) AS m WHERE m <> '';
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION caom2.plane_sync_inputs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF caom2.flag('harvested') THEN RETURN NULL; END IF;  -- the harvest copies the list's rows
    DELETE FROM caom2.provenanceinput WHERE outputid = NEW.planeid;
    INSERT INTO caom2.provenanceinput (outputid, inputid)
    SELECT DISTINCT NEW.planeid, i FROM unnest(string_to_array(NEW.provenance_inputs, ' ')) AS i
     WHERE i <> '';
    RETURN NULL;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Trigger wiring (transition tables need one trigger per event)
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    entity text;
BEGIN
    FOREACH entity IN ARRAY ARRAY['observation', 'plane', 'artifact', 'part', 'chunk'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_before_write ON caom2.%1$I', entity);
        EXECUTE format('CREATE TRIGGER %1$s_before_write BEFORE INSERT OR UPDATE ON caom2.%1$I '
                       'FOR EACH ROW EXECUTE FUNCTION caom2.%1$s_before_write()', entity);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_rollup_insert ON caom2.%1$I', entity);
        EXECUTE format('CREATE TRIGGER %1$s_rollup_insert AFTER INSERT ON caom2.%1$I '
                       'REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION caom2.after_change_rollup()', entity);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_rollup_update ON caom2.%1$I', entity);
        EXECUTE format('CREATE TRIGGER %1$s_rollup_update AFTER UPDATE ON caom2.%1$I '
                       'REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION caom2.after_change_rollup()', entity);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_rollup_delete ON caom2.%1$I', entity);
        EXECUTE format('CREATE TRIGGER %1$s_rollup_delete AFTER DELETE ON caom2.%1$I '
                       'REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION caom2.after_change_rollup()', entity);
    END LOOP;
END $$;

DROP TRIGGER IF EXISTS observation_after_delete ON caom2.observation;
CREATE TRIGGER observation_after_delete AFTER DELETE ON caom2.observation
    FOR EACH ROW EXECUTE FUNCTION caom2.observation_after_delete();

-- The lists' rows are written only where there is a list, or it changed: a new row without
-- one has none to delete (they go with their parent, ON DELETE CASCADE), and a set-wise merge
-- names every column in its UPDATE, so "UPDATE OF members" alone fired for every row, two
-- statements each (a tenth of the cost of storing a plane).
DROP TRIGGER IF EXISTS observation_sync_members ON caom2.observation;
DROP TRIGGER IF EXISTS observation_sync_members_insert ON caom2.observation;
DROP TRIGGER IF EXISTS observation_sync_members_update ON caom2.observation;
CREATE TRIGGER observation_sync_members_insert AFTER INSERT ON caom2.observation
    FOR EACH ROW WHEN (NEW.members IS NOT NULL)
    EXECUTE FUNCTION caom2.observation_sync_members();
CREATE TRIGGER observation_sync_members_update AFTER UPDATE OF members ON caom2.observation
    FOR EACH ROW WHEN (OLD.members IS DISTINCT FROM NEW.members)
    EXECUTE FUNCTION caom2.observation_sync_members();

DROP TRIGGER IF EXISTS plane_sync_inputs ON caom2.plane;
DROP TRIGGER IF EXISTS plane_sync_inputs_insert ON caom2.plane;
DROP TRIGGER IF EXISTS plane_sync_inputs_update ON caom2.plane;
CREATE TRIGGER plane_sync_inputs_insert AFTER INSERT ON caom2.plane
    FOR EACH ROW WHEN (NEW.provenance_inputs IS NOT NULL)
    EXECUTE FUNCTION caom2.plane_sync_inputs();
CREATE TRIGGER plane_sync_inputs_update AFTER UPDATE OF provenance_inputs ON caom2.plane
    FOR EACH ROW WHEN (OLD.provenance_inputs IS DISTINCT FROM NEW.provenance_inputs)
    EXECUTE FUNCTION caom2.plane_sync_inputs();
