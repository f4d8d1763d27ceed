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
    rule record;
BEGIN
    -- lists: any of the values
    FOR rule IN SELECT * FROM (VALUES
            ('collection', 's.obs_collection = ANY (%L::text[])'),
            ('instrument', 's.instrument_name = ANY (%L::text[])'),
            ('filter', 's.filter = ANY (%L::text[])'),
            ('band', 'string_to_array(s.bands, ''|'') && %L::text[]'),
            ('calib_level', 's.calib_level = ANY (%L::int[])'),
            ('dataproduct_type', 's.dataproduct_type = ANY (%L::text[])')) AS r(field, test) LOOP
        IF portal.text_array(c->rule.field) IS NOT NULL THEN
            parts := parts || format(rule.test, portal.text_array(c->rule.field));
        END IF;
    END LOOP;
    -- single values: names by their beginning (any case; % and _ are themselves), numbers
    FOR rule IN SELECT * FROM (VALUES
            ('target', 's.target_name ILIKE %L', true),
            ('obs_id', 's.obs_id ILIKE %L', true),
            ('proposal_id', 's.proposal_id = %L', false),
            ('date_min', 's.t_max >= %L::float8', false),
            ('date_max', 's.t_min <= %L::float8', false),
            ('exptime_min', 's.t_exptime >= %L::float8', false),
            ('exptime_max', 's.t_exptime <= %L::float8', false)) AS r(field, test, prefix) LOOP
        IF c ? rule.field THEN
            parts := parts || format(rule.test, CASE WHEN rule.prefix
                THEN replace(replace(c->>rule.field, '%', '\%'), '_', '\_') || '%'
                ELSE c->>rule.field END);
        END IF;
    END LOOP;
    -- a cone that meets the footprint
    IF c ? 'ra' AND c ? 'dec' THEN
        parts := parts || format(
            's.s_region && scircle(spoint(radians(%L::float8), radians(%L::float8)), radians(%L::float8))',
            c->>'ra', c->>'dec', coalesce(c->>'radius', '0.05'));
    END IF;
    RETURN array_to_string(parts, ' AND ');
END $$;

DROP FUNCTION IF EXISTS portal.begin_search(integer);
-- a search's time limit, for the rest of the transaction (the portal's requests are short)
CREATE OR REPLACE FUNCTION portal.begin_search(seconds float8 DEFAULT 10) RETURNS void
LANGUAGE sql AS $$ SELECT set_config('statement_timeout', round(seconds * 1000)::text, true) $$;

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

DROP FUNCTION IF EXISTS portal.page(jsonb, text, boolean, integer, integer);  -- (returned the total too)
-- a page of a search's results, sorted by one of portal.result_columns() (ties by DID). Sorted
-- by an indexed column, a page reads its rows from the index and stops: the first page of a
-- million rows costs what the first page of fifty does.
CREATE OR REPLACE FUNCTION portal.page(constraints jsonb, sort_by text DEFAULT 'obs_id',
                                       descending boolean DEFAULT false, page int DEFAULT 1,
                                       page_size int DEFAULT 50)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    size int := greatest(1, least(page_size, 1000));
BEGIN
    IF NOT sort_by = ANY (portal.result_columns()) THEN
        RAISE EXCEPTION 'cannot sort by %: one of %', sort_by, array_to_string(portal.result_columns(), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT to_jsonb(r) FROM (
            SELECT %s FROM portal.searchable s WHERE %s
             ORDER BY s.%I %s NULLS LAST, s.obs_publisher_did
             LIMIT %s OFFSET %s) r $q$,
        (SELECT string_agg(format('s.%I', col), ', ') FROM unnest(portal.result_columns()) col),
        portal.condition(constraints), sort_by, CASE WHEN descending THEN 'DESC' ELSE 'ASC' END,
        size, (greatest(page, 1) - 1) * size);
END $$;

-- how many rows a search selects, counted up to `cap` (cap + 1: "more than cap"), so that a
-- search of the whole archive answers at once
CREATE OR REPLACE FUNCTION portal.total(constraints jsonb, cap int DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    counted bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM portal.searchable s WHERE %s LIMIT %s) c',
                   portal.condition(constraints), cap + 1) INTO counted;
    RETURN counted;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hstvo_reader') THEN
        GRANT USAGE ON SCHEMA portal TO hstvo_reader;
        GRANT SELECT ON portal.searchable TO hstvo_reader;
    END IF;
END $$;
