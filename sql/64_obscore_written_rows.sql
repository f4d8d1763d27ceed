-- ObsCore's rows written out ahead: each row of hstvo.obscore_rows also holds its own
-- VOTable TABLEDATA <TR>, CSV line and BINARY2 record, computed when the row is, so that
-- `SELECT * FROM ivoa.ObsCore` streams stored text instead of formatting 39 values a row.
--
-- Why: a full-width row costs some 35 µs to write out (the polygon's text alone about 8 µs),
-- which holds a full-width stream to under 30,000 rows/s; reading a stored row costs about
-- 1 µs. The TAP service uses these columns when a query selects exactly ObsCore's published
-- columns, in order, from ivoa.ObsCore alone (pyserver/tap_sync.py, pyserver/votable.py);
-- any other query is written out as it runs (sql/63_votable.sql).
--
-- Each serialisation is stored in three parts, around access_url and preview: their URLs are
-- wherever the service answers now (their base is the setting service_url), so they are
-- written when the row is read, and nothing needs computing again when the service moves.
--
-- The cells are exactly those sql/63_votable.sql writes for the same columns (DALI values,
-- TAP_SCHEMA's datatypes: char for text and timestamps, int, long, double); the suite checks
-- that a stored row equals the row written out as it runs, byte for byte, in every format
-- (tests/test_obscore_written_rows.py). A change to ObsCore's columns or to how a value is
-- written changes this file too.

-- pgsphere writes a polygon in the session's output format (set_sphere_output), and has no
-- setting to read it back: the format a known point is written in tells it
CREATE OR REPLACE FUNCTION votable.sphere_output() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN t LIKE '%h%' THEN 'HMS' WHEN t LIKE '%m%' THEN 'DMS'
               WHEN t LIKE '%d%' THEN 'DEG' ELSE 'RAD' END
     FROM (SELECT spoint(0.5, 0.25)::text AS t) AS written $$;

-- ---------------------------------------------------------------------------------------------
-- One cell, as sql/63_votable.sql writes it (cells of TABLEDATA and CSV; NULL is empty)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION votable.td(cell text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT '<TD>' || coalesce(cell, '') || '</TD>' $$;

CREATE OR REPLACE FUNCTION votable.td_text(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT votable.td(votable.xml_text(t)) $$;

CREATE OR REPLACE FUNCTION votable.csv_text(t text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT coalesce(votable.delimited_text(t, ','), '') $$;

-- ---------------------------------------------------------------------------------------------
-- The row's three serialisations, each around access_url (ObsCore's sixth column)
-- ---------------------------------------------------------------------------------------------

DROP FUNCTION IF EXISTS hstvo.obscore_written(hstvo.obscore_source);  -- (returned six parts)
CREATE OR REPLACE FUNCTION hstvo.obscore_written(r hstvo.obscore_source)
RETURNS TABLE (tabledata_head text, tabledata_tail text, csv_head text, csv_tail text,
               binary2_head bytea, binary2_tail bytea, tabledata_rest text, csv_rest text,
               binary2_rest bytea)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT
    -- TABLEDATA: text cells escaped for XML, numbers and dates as they are
    '<TR>' || votable.td_text(r.dataproduct_type) || votable.td(votable.cell(r.calib_level))
        || votable.td_text(r.obs_collection) || votable.td_text(r.obs_id)
        || votable.td_text(r.obs_publisher_did),
    votable.td_text(r.access_format) || votable.td(votable.cell(r.access_estsize))
        || votable.td_text(r.target_name) || votable.td(votable.cell(r.s_ra))
        || votable.td(votable.cell(r.s_dec)) || votable.td(votable.cell(r.s_fov))
        || votable.td(c.region) || votable.td(votable.cell(r.s_resolution))
        || votable.td(votable.cell(r.t_min)) || votable.td(votable.cell(r.t_max))
        || votable.td(votable.cell(r.t_exptime)) || votable.td(votable.cell(r.t_resolution))
        || votable.td(votable.cell(r.em_min)) || votable.td(votable.cell(r.em_max))
        || votable.td(votable.cell(r.em_res_power)) || votable.td_text(r.o_ucd)
        || votable.td_text(r.pol_states) || votable.td_text(r.facility_name)
        || votable.td_text(r.instrument_name) || votable.td(votable.cell(r.s_xel1))
        || votable.td(votable.cell(r.s_xel2)) || votable.td(votable.cell(r.t_xel))
        || votable.td(votable.cell(r.em_xel)) || votable.td(votable.cell(r.pol_xel))
        || votable.td(votable.cell(r.s_pixel_scale)) || votable.td_text(r.em_ucd),
    -- CSV (RFC 4180): text quoted when it must be, the region too
    concat_ws(',', votable.csv_text(r.dataproduct_type), coalesce(votable.cell(r.calib_level), ''),
              votable.csv_text(r.obs_collection), votable.csv_text(r.obs_id),
              votable.csv_text(r.obs_publisher_did)) || ',',
    ',' || concat_ws(',', votable.csv_text(r.access_format),
              coalesce(votable.cell(r.access_estsize), ''), votable.csv_text(r.target_name),
              coalesce(votable.cell(r.s_ra), ''), coalesce(votable.cell(r.s_dec), ''),
              coalesce(votable.cell(r.s_fov), ''), votable.csv_text(c.region),
              coalesce(votable.cell(r.s_resolution), ''), coalesce(votable.cell(r.t_min), ''),
              coalesce(votable.cell(r.t_max), ''), coalesce(votable.cell(r.t_exptime), ''),
              coalesce(votable.cell(r.t_resolution), ''), coalesce(votable.cell(r.em_min), ''),
              coalesce(votable.cell(r.em_max), ''), coalesce(votable.cell(r.em_res_power), ''),
              votable.csv_text(r.o_ucd), votable.csv_text(r.pol_states),
              votable.csv_text(r.facility_name), votable.csv_text(r.instrument_name),
              coalesce(votable.cell(r.s_xel1), ''), coalesce(votable.cell(r.s_xel2), ''),
              coalesce(votable.cell(r.t_xel), ''), coalesce(votable.cell(r.em_xel), ''),
              coalesce(votable.cell(r.pol_xel), ''), coalesce(votable.cell(r.s_pixel_scale), ''),
              votable.csv_text(r.em_ucd)) || ',',
    -- BINARY2: the NULL mask of all 39 columns (access_url is NULL when the DataLink ID is),
    -- then the values before access_url ...
    votable.mask_byte(r.dataproduct_type IS NULL, r.calib_level IS NULL, r.obs_collection IS NULL,
                      r.obs_id IS NULL, r.obs_publisher_did IS NULL, r.datalink_id IS NULL,
                      r.access_format IS NULL, r.access_estsize IS NULL)
        || votable.mask_byte(r.target_name IS NULL, r.s_ra IS NULL, r.s_dec IS NULL,
                             r.s_fov IS NULL, r.s_region IS NULL, r.s_resolution IS NULL,
                             r.t_min IS NULL, r.t_max IS NULL)
        || votable.mask_byte(r.t_exptime IS NULL, r.t_resolution IS NULL, r.em_min IS NULL,
                             r.em_max IS NULL, r.em_res_power IS NULL, r.o_ucd IS NULL,
                             r.pol_states IS NULL, r.facility_name IS NULL)
        || votable.mask_byte(r.instrument_name IS NULL, r.s_xel1 IS NULL, r.s_xel2 IS NULL,
                             r.t_xel IS NULL, r.em_xel IS NULL, r.pol_xel IS NULL,
                             r.s_pixel_scale IS NULL, r.em_ucd IS NULL)
        || votable.mask_byte(r.preview IS NULL, r.proposal_id IS NULL, r.target_class IS NULL,
                             r.obs_release_date IS NULL, r.obs_creator_did IS NULL,
                             r.obs_title IS NULL, r.lastmodified IS NULL)
        || votable.b2_chars(r.dataproduct_type) || votable.b2(r.calib_level)
        || votable.b2_chars(r.obs_collection) || votable.b2_chars(r.obs_id)
        || votable.b2_chars(r.obs_publisher_did),
    -- ... and after it
    votable.b2_chars(r.access_format) || votable.b2(r.access_estsize)
        || votable.b2_chars(r.target_name) || votable.b2(r.s_ra) || votable.b2(r.s_dec)
        || votable.b2(r.s_fov) || votable.b2_chars(c.region)
        || votable.b2(r.s_resolution) || votable.b2(r.t_min) || votable.b2(r.t_max)
        || votable.b2(r.t_exptime) || votable.b2(r.t_resolution) || votable.b2(r.em_min)
        || votable.b2(r.em_max) || votable.b2(r.em_res_power) || votable.b2_chars(r.o_ucd)
        || votable.b2_chars(r.pol_states) || votable.b2_chars(r.facility_name)
        || votable.b2_chars(r.instrument_name) || votable.b2(r.s_xel1) || votable.b2(r.s_xel2)
        || votable.b2(r.t_xel) || votable.b2(r.em_xel) || votable.b2(r.pol_xel)
        || votable.b2(r.s_pixel_scale) || votable.b2_chars(r.em_ucd),
    -- after preview (whose URL is written when the row is read, as access_url's): TABLEDATA,
    -- CSV, BINARY2
    votable.td_text(r.proposal_id)
        || votable.td_text(r.target_class) || votable.td(c.released)
        || votable.td_text(r.obs_creator_did) || votable.td_text(r.obs_title)
        || votable.td(c.modified) || E'</TR>\n',
    ',' || concat_ws(',', votable.csv_text(r.proposal_id), votable.csv_text(r.target_class),
              coalesce(c.released, ''), votable.csv_text(r.obs_creator_did),
              votable.csv_text(r.obs_title), coalesce(c.modified, ''))
        || E'\r\n',
    votable.b2_chars(r.proposal_id)
        || votable.b2_chars(r.target_class) || votable.b2_chars(c.released)
        || votable.b2_chars(r.obs_creator_did) || votable.b2_chars(r.obs_title)
        || votable.b2_chars(c.modified)
  -- (the cells that cost most to write, written once for the three)
  FROM (SELECT votable.region_cell(r.s_region) AS region, votable.cell(r.obs_release_date) AS released,
               votable.cell(r.lastmodified) AS modified) AS c
$$;
COMMENT ON FUNCTION hstvo.obscore_written(hstvo.obscore_source) IS
    'an ObsCore row''s TABLEDATA, CSV and BINARY2, around access_url and preview (degrees: call with set_sphere_output(''DEG''))';

-- The ObsCore rows of these observations, computed again (NULL: every row) and written out:
-- the rows of deleted observations or planes removed. The polygons are written in degrees
-- whatever this session's pgsphere output is, which is put back after; floats as
-- PostgreSQL's shortest exact text (extra_float_digits 1, as the service reads them).
CREATE OR REPLACE FUNCTION hstvo.write_obscore_rows(obsids uuid[]) RETURNS bigint
LANGUAGE plpgsql SET jit = off SET extra_float_digits = 1 AS $$
DECLARE
    sphere_output text := votable.sphere_output();
    written bigint;
BEGIN
    PERFORM set_sphere_output('DEG');
    BEGIN
        -- (OFFSET 0 keeps each row's values computed once: written out from the flattened
        -- view, every cell that names a column would compute it again, its subqueries too)
        IF obsids IS NULL THEN
            DELETE FROM hstvo.obscore_rows;
            INSERT INTO hstvo.obscore_rows
            SELECT s.*, w.* FROM (SELECT * FROM hstvo.obscore_source OFFSET 0) AS s
             CROSS JOIN LATERAL hstvo.obscore_written(s) w;
        ELSE
            DELETE FROM hstvo.obscore_rows r WHERE r.obsid = ANY (obsids);
            INSERT INTO hstvo.obscore_rows
            SELECT s.*, w.* FROM (SELECT * FROM hstvo.obscore_source o WHERE o.obsid = ANY (obsids)
                                   OFFSET 0) AS s
             CROSS JOIN LATERAL hstvo.obscore_written(s) w;
        END IF;
        GET DIAGNOSTICS written = ROW_COUNT;
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_sphere_output(sphere_output::cstring);
        RAISE;
    END;
    PERFORM set_sphere_output(sphere_output::cstring);
    RETURN written;
END $$;
COMMENT ON FUNCTION hstvo.write_obscore_rows(uuid[]) IS
    'ObsCore rows of these observations (NULL: all) computed and written out again';

-- rows made before their serialisations were stored (or before they were cut around preview,
-- whose column then held an artifact's URI, not a path) get them once
DO $$
BEGIN
    IF (SELECT csv_head IS NULL OR csv_rest IS NULL FROM hstvo.obscore_rows LIMIT 1) THEN
        PERFORM hstvo.refresh_obscore_all();
    END IF;
END $$;

-- How far ObsCore's table is from what the CAOM tables say now, written out included: rows
-- it holds that a computation afresh would not give (stale), and rows it lacks (missing).
-- Both 0 after every write; a DBA's check that ObsCore is current.
CREATE OR REPLACE FUNCTION hstvo.obscore_differences(OUT stale bigint, OUT missing bigint)
LANGUAGE plpgsql SET jit = off SET extra_float_digits = 1 AS $$
DECLARE
    sphere_output text := votable.sphere_output();
BEGIN
    -- (rows compared as text: polygons in degrees on both sides)
    PERFORM set_sphere_output('DEG');
    BEGIN
        WITH afresh AS (SELECT (s.*, w.*)::text AS row_text
                          FROM hstvo.obscore_source s
                         CROSS JOIN LATERAL hstvo.obscore_written(s) w),
             held AS (SELECT r::text AS row_text FROM hstvo.obscore_rows r)
        SELECT (SELECT count(*) FROM (SELECT row_text FROM held
                                      EXCEPT ALL SELECT row_text FROM afresh) AS d),
               (SELECT count(*) FROM (SELECT row_text FROM afresh
                                      EXCEPT ALL SELECT row_text FROM held) AS d)
          INTO stale, missing;
    EXCEPTION WHEN OTHERS THEN
        PERFORM set_sphere_output(sphere_output::cstring);
        RAISE;
    END;
    PERFORM set_sphere_output(sphere_output::cstring);
END $$;
COMMENT ON FUNCTION hstvo.obscore_differences() IS
    'rows of ObsCore''s table that differ from the CAOM tables now (stale) or are lacking (missing): both 0 when current';
