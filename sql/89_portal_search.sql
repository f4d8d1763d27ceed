-- The portal's Advanced Search (/search): the constraints of its form as one condition on
-- ObsCore's rows, the facet counts of what they select, and a page of results. The portal reads
-- as hstvo_reader, like every read path, so the row policies of sql/92_access_rules.sql decide:
-- a count never includes a row the caller may not see. Each search runs under a time limit.
--
-- Constraints are a jsonb object (the form's fields, parsed and typed by pyserver/portal/):
--   collection, instrument, band, filter, calib_level, dataproduct_type   arrays of values
--   target, obs_id, proposal_id                                           text (target and
--                                                                         obs_id: prefix, any case)
--   ra, dec, radius                                                       degrees: a cone that
--                                                                         meets the footprint
--   date_min, date_max                                                    MJD, of t_min / t_max
--   exptime_min, exptime_max                                              seconds
-- Every value reaches the SQL through format('%L'): the condition is data, never code.

CREATE SCHEMA IF NOT EXISTS portal;
COMMENT ON SCHEMA portal IS 'the web portal''s searches: conditions, facets, pages';

-- the columns a results page shows and may be sorted by, in order
CREATE OR REPLACE FUNCTION portal.result_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['obs_id', 'target_name', 's_ra', 's_dec', 't_min', 't_exptime', 'instrument_name',
                 'filter', 'calib_level', 'dataproduct_type', 'proposal_id', 'em_min', 'em_max',
                 'obs_collection', 'obs_publisher_did', 'access_estsize'] $$;

-- the facets, as (name, the expression of each row's value)
CREATE OR REPLACE FUNCTION portal.facet_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['collection', 'instrument', 'band', 'filter', 'calib_level', 'dataproduct_type'] $$;

-- the rows a search reads: ObsCore's, with each plane's filter and energy bands
CREATE OR REPLACE VIEW portal.searchable AS
SELECT o.obs_id, o.target_name, o.s_ra, o.s_dec, o.t_min, o.t_max, o.t_exptime,
       o.instrument_name, p.energy_bandpassname AS filter, o.calib_level, o.dataproduct_type,
       o.proposal_id, o.em_min, o.em_max, o.obs_collection, o.obs_publisher_did,
       o.access_estsize, o.s_region, o.position_bounds_center,
       caom2.energy_bands(o.em_min, o.em_max) AS bands
  FROM hstvo.obscore_rows o
  LEFT JOIN caom2.plane p ON p.planeid = o.planeid;
COMMENT ON VIEW portal.searchable IS 'ObsCore''s rows as the portal searches them (under the caller''s access rules)';
-- the row policies of the tables apply to the caller (hstvo_reader), not to the view's owner,
-- who is not bound by them
ALTER VIEW portal.searchable SET (security_invoker = true);

CREATE OR REPLACE FUNCTION portal.text_array(value jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(value)) END $$;

-- the condition of a search's constraints on portal.searchable (alias s)
CREATE OR REPLACE FUNCTION portal.condition(constraints jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c jsonb := coalesce(constraints, '{}');
    parts text[] := ARRAY['true'];
BEGIN
    IF portal.text_array(c->'collection') IS NOT NULL THEN
        parts := parts || format('s.obs_collection = ANY (%L::text[])', portal.text_array(c->'collection'));
    END IF;
    IF portal.text_array(c->'instrument') IS NOT NULL THEN
        parts := parts || format('s.instrument_name = ANY (%L::text[])', portal.text_array(c->'instrument'));
    END IF;
    IF portal.text_array(c->'filter') IS NOT NULL THEN
        parts := parts || format('s.filter = ANY (%L::text[])', portal.text_array(c->'filter'));
    END IF;
    IF portal.text_array(c->'band') IS NOT NULL THEN
        parts := parts || format('string_to_array(s.bands, ''|'') && %L::text[]', portal.text_array(c->'band'));
    END IF;
    IF portal.text_array(c->'calib_level') IS NOT NULL THEN
        parts := parts || format('s.calib_level = ANY (%L::int[])', portal.text_array(c->'calib_level'));
    END IF;
    IF portal.text_array(c->'dataproduct_type') IS NOT NULL THEN
        parts := parts || format('s.dataproduct_type = ANY (%L::text[])', portal.text_array(c->'dataproduct_type'));
    END IF;
    IF c ? 'target' THEN
        parts := parts || format('s.target_name ILIKE %L', replace(replace(c->>'target', '%', '\%'), '_', '\_') || '%');
    END IF;
    IF c ? 'obs_id' THEN
        parts := parts || format('s.obs_id ILIKE %L', replace(replace(c->>'obs_id', '%', '\%'), '_', '\_') || '%');
    END IF;
    IF c ? 'proposal_id' THEN
        parts := parts || format('s.proposal_id = %L', c->>'proposal_id');
    END IF;
    IF c ? 'ra' AND c ? 'dec' THEN
        parts := parts || format(
            's.s_region && scircle(spoint(radians(%L::float8), radians(%L::float8)), radians(%L::float8))',
            c->>'ra', c->>'dec', coalesce(c->>'radius', '0.05'));
    END IF;
    IF c ? 'date_min' THEN
        parts := parts || format('s.t_max >= %L::float8', c->>'date_min');
    END IF;
    IF c ? 'date_max' THEN
        parts := parts || format('s.t_min <= %L::float8', c->>'date_max');
    END IF;
    IF c ? 'exptime_min' THEN
        parts := parts || format('s.t_exptime >= %L::float8', c->>'exptime_min');
    END IF;
    IF c ? 'exptime_max' THEN
        parts := parts || format('s.t_exptime <= %L::float8', c->>'exptime_max');
    END IF;
    RETURN array_to_string(parts, ' AND ');
END $$;

-- a search's time limit: the rest of the transaction (the portal's requests are short)
CREATE OR REPLACE FUNCTION portal.begin_search(seconds int DEFAULT 10) RETURNS void
LANGUAGE sql AS $$ SELECT set_config('statement_timeout', (seconds * 1000)::text, true) $$;

-- how many rows of each facet's values the search selects (a value per band of a multi-band row)
CREATE OR REPLACE FUNCTION portal.facets(constraints jsonb)
RETURNS TABLE (facet text, value text, rows bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH found AS MATERIALIZED (
            SELECT s.obs_collection, s.instrument_name, s.bands, s.filter, s.calib_level,
                   s.dataproduct_type
              FROM portal.searchable s WHERE %s)
        SELECT 'collection', obs_collection, count(*) FROM found GROUP BY 2
        UNION ALL SELECT 'instrument', instrument_name, count(*) FROM found GROUP BY 2
        UNION ALL SELECT 'band', b, count(*) FROM found, unnest(string_to_array(bands, '|')) b GROUP BY 2
        UNION ALL SELECT 'filter', filter, count(*) FROM found GROUP BY 2
        UNION ALL SELECT 'calib_level', calib_level::text, count(*) FROM found GROUP BY 2
        UNION ALL SELECT 'dataproduct_type', dataproduct_type, count(*) FROM found GROUP BY 2
        ORDER BY 1, 3 DESC, 2 $q$, portal.condition(constraints));
END $$;

-- a page of a search's results, sorted by one of portal.result_columns(), with the total
CREATE OR REPLACE FUNCTION portal.page(constraints jsonb, sort_by text DEFAULT 'obs_id',
                                       descending boolean DEFAULT false, page int DEFAULT 1,
                                       page_size int DEFAULT 50)
RETURNS TABLE (total bigint, result jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT sort_by = ANY (portal.result_columns()) THEN
        RAISE EXCEPTION 'cannot sort by %: one of %', sort_by, array_to_string(portal.result_columns(), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT count(*) OVER (), to_jsonb(r) FROM (
            SELECT %s FROM portal.searchable s WHERE %s) r
         ORDER BY r.%I %s NULLS LAST, r.obs_publisher_did
         LIMIT %s OFFSET %s $q$,
        (SELECT string_agg(format('s.%I', col), ', ') FROM unnest(portal.result_columns()) col),
        portal.condition(constraints), sort_by, CASE WHEN descending THEN 'DESC' ELSE 'ASC' END,
        greatest(1, least(page_size, 1000)), (greatest(page, 1) - 1) * greatest(1, least(page_size, 1000)));
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hstvo_reader') THEN
        GRANT USAGE ON SCHEMA portal TO hstvo_reader;
        GRANT SELECT ON portal.searchable TO hstvo_reader;
    END IF;
END $$;
