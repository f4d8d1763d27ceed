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
       caom2.energy_bands(o.em_min, o.em_max) AS bands, o.public_from, o.planeid
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

-- The least string after every string that begins with `beginning` (in byte order: UTF-8's
-- is the code points'): its last character's successor, or NULL when there is none
CREATE OR REPLACE FUNCTION portal.after_beginning(beginning text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CASE WHEN n <= 1114111 THEN left(beginning, -1) || chr(n) END
      FROM (SELECT CASE WHEN ascii(right(beginning, 1)) + 1 BETWEEN 55296 AND 57343 THEN 57344
                        ELSE ascii(right(beginning, 1)) + 1 END AS n) AS successor
     WHERE beginning <> '' $$;

-- The condition that a name column of portal.searchable begins with `beginning`, in any case
-- (% and _ are themselves): a range of hstvo.name_key(column), which an index of ObsCore's
-- answers under the row policies (its operators LEAKPROOF; sql/20_ivoa_obscore.sql), where
-- ILIKE 'beginning%' read every row, and starts_with to be exact
CREATE OR REPLACE FUNCTION portal.name_begins(column_name text, beginning text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT format('hstvo.name_key(s.%1$I) ~>=~ %2$L', column_name, k.key)
           || coalesce(format(' AND hstvo.name_key(s.%1$I) ~<~ %2$L', column_name,
                              portal.after_beginning(k.key)), '')
           || format(' AND starts_with(hstvo.name_key(s.%1$I), %2$L)', column_name, k.key)
      FROM (SELECT hstvo.name_key(beginning) AS key) AS k $$;

-- the condition of a search's constraints on portal.searchable (alias s)
CREATE OR REPLACE FUNCTION portal.condition(constraints jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c jsonb := coalesce(constraints, '{}');
    parts text[] := ARRAY['true'];
    rule record;
BEGIN
    -- lists: any of the values. One value is an equality, not '= ANY': an index on the column
    -- and the sort column (instrument, obs_id) then yields the page in order and stops after
    -- it, where '= ANY' has the rows sorted, or the sort column's index read until enough of
    -- them pass (obs_ids begin with the instrument's letter: a refinement to ACS read every
    -- WFC3 row first, two seconds on the million-observation archive)
    FOR rule IN SELECT * FROM (VALUES
            ('collection', 's.obs_collection', 'text'),
            ('instrument', 's.instrument_name', 'text'),
            ('filter', 's.filter', 'text'),
            ('calib_level', 's.calib_level', 'int'),
            ('dataproduct_type', 's.dataproduct_type', 'text')) AS r(field, col, type) LOOP
        IF cardinality(portal.text_array(c->rule.field)) = 1 THEN
            parts := parts || format('%s = %L::%s', rule.col, c->rule.field->>0, rule.type);
        ELSIF portal.text_array(c->rule.field) IS NOT NULL THEN
            parts := parts || format('%s = ANY (%L::%s[])', rule.col,
                                     portal.text_array(c->rule.field), rule.type);
        END IF;
    END LOOP;
    IF portal.text_array(c->'band') IS NOT NULL THEN
        parts := parts || format('string_to_array(s.bands, ''|'') && %L::text[]',
                                 portal.text_array(c->'band'));
    END IF;
    -- names by their beginning, in any case (portal.name_begins)
    IF c ? 'target' THEN
        parts := parts || portal.name_begins('target_name', c->>'target');
    END IF;
    IF c ? 'obs_id' THEN
        parts := parts || portal.name_begins('obs_id', c->>'obs_id');
    END IF;
    -- single values: numbers
    FOR rule IN SELECT * FROM (VALUES
            ('proposal_id', 's.proposal_id = %L'),
            ('date_min', 's.t_max >= %L::float8'),
            ('date_max', 's.t_min <= %L::float8'),
            ('exptime_min', 's.t_exptime >= %L::float8'),
            ('exptime_max', 's.t_exptime <= %L::float8')) AS r(field, test) LOOP
        IF c ? rule.field THEN
            parts := parts || format(rule.test, c->>rule.field);
        END IF;
    END LOOP;
    -- the filters under the results' columns: {"column", "op" (= < <= > >=), "value"} on a
    -- number, or {"column", "contains"}: the text shown has it, in any case
    FOR rule IN SELECT f FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c->'filters') = 'array'
                                                        THEN c->'filters' ELSE '[]' END) AS f LOOP
        IF NOT (rule.f->>'column') = ANY (portal.result_columns()) THEN
            RAISE EXCEPTION 'cannot filter column %', rule.f->>'column'
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF rule.f ? 'contains' THEN
            parts := parts || format('s.%I::text ILIKE %L', rule.f->>'column',
                '%' || replace(replace(rule.f->>'contains', '%', '\%'), '_', '\_') || '%');
        ELSIF (rule.f->>'op') IN ('=', '<', '<=', '>', '>=') THEN
            parts := parts || format('s.%I %s %L::float8', rule.f->>'column', rule.f->>'op',
                                     rule.f->>'value');
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
-- a search's time limit, for the rest of the transaction (the portal's requests are short),
-- and no JIT: compiling a plan costs 300 ms and more, which no time limit can cut short (a
-- facet count given 250 ms took 700), and a page is over in tens of milliseconds
CREATE OR REPLACE FUNCTION portal.begin_search(seconds float8 DEFAULT 10) RETURNS void
LANGUAGE sql AS $$
    SELECT set_config('statement_timeout', round(seconds * 1000)::text, true),
           set_config('jit', 'off', true) $$;

-- ---------------------------------------------------------------------------------------------
-- Facet counts
-- ---------------------------------------------------------------------------------------------

-- The facet cube: how many public rows each combination of facet values has, as of its last
-- refresh. A search constrained by facet values only (the first page of the portal, and its
-- refinements) is answered from it, plus the rows that were not public then and that the
-- caller may see (released since, or proprietary to the caller's groups), counted live:
-- milliseconds, where counting a million rows takes seconds. The cube answers only while no
-- write to ObsCore's rows has committed that it did not see, and the service refreshes it
-- (portal.refresh_facets: at most every portal_facet_refresh_seconds, 300) after one has.
INSERT INTO hstvo.setting (name, value, description) VALUES
    ('portal_facet_refresh_seconds', '300',
     'the portal''s facet cube is refreshed at most this often after writes')
ON CONFLICT (name) DO UPDATE SET description = excluded.description;  -- (a DBA's value stays)

CREATE TABLE IF NOT EXISTS portal.facet_cube_state (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    as_of      timestamp                   -- the public rows as of this instant (UTC)
);
-- seen: the transactions the cube has seen, as a snapshot taken before it was made (until
-- 0033, a flag that writes set, and a refresh that made writes wait for it)
ALTER TABLE portal.facet_cube_state ADD COLUMN IF NOT EXISTS seen pg_snapshot;
ALTER TABLE portal.facet_cube_state DROP COLUMN IF EXISTS stale;
INSERT INTO portal.facet_cube_state DEFAULT VALUES ON CONFLICT DO NOTHING;
COMMENT ON TABLE portal.facet_cube_state IS 'as of when the facet cube counts the public rows, and the transactions it has seen';

-- the transactions that wrote ObsCore's rows since the cube was made (one row each: a write
-- adds its own, a refresh removes those it has seen)
CREATE TABLE IF NOT EXISTS portal.obscore_writes (
    xid        xid8 PRIMARY KEY
);
COMMENT ON TABLE portal.obscore_writes IS 'transactions that wrote ObsCore''s rows and that the facet cube may not have seen';

DROP MATERIALIZED VIEW IF EXISTS portal.facet_cube;
CREATE MATERIALIZED VIEW portal.facet_cube AS
SELECT s.obs_collection, s.instrument_name, s.bands, s.filter, s.calib_level,
       s.dataproduct_type, count(*) AS rows
  FROM portal.searchable s
 WHERE s.public_from <= caom2.now_utc()
 GROUP BY 1, 2, 3, 4, 5, 6
WITH NO DATA;
COMMENT ON MATERIALIZED VIEW portal.facet_cube IS
    'public rows per combination of facet values (portal.facet_cube_state says as of when)';
UPDATE portal.facet_cube_state SET seen = NULL, as_of = NULL;

-- a write to ObsCore's rows records its transaction (once): the cube is not current for
-- anyone who sees that write until a refresh has seen it too. Writers never wait for a refresh.
CREATE OR REPLACE FUNCTION portal.facet_cube_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO portal.obscore_writes VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS facet_cube_stale ON hstvo.obscore_rows;
CREATE TRIGGER facet_cube_stale AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hstvo.obscore_rows
    FOR EACH STATEMENT EXECUTE FUNCTION portal.facet_cube_stale();

-- whether the cube holds every write to ObsCore's rows that the caller's snapshot sees: it was
-- made, and no transaction that wrote them and that the caller sees committed is outside the
-- snapshot taken before it was made
CREATE OR REPLACE FUNCTION portal.facet_cube_current() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT s.seen IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM portal.obscore_writes w
                            WHERE NOT pg_visible_in_snapshot(w.xid, s.seen))
      FROM portal.facet_cube_state s $$;

-- Refresh the cube if a write made it not current (the service asks every few seconds); true
-- when it did. Run by the tables' owner: the cube counts every public row. Writes go on
-- meanwhile: the snapshot recorded is taken before the cube's own, so the cube holds at least
-- what it says it has seen; a write it has not seen (one under way, or committed since) leaves
-- it not current, for a later refresh.
DROP FUNCTION IF EXISTS portal.refresh_facets();
CREATE OR REPLACE FUNCTION portal.refresh_facets(force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    before pg_snapshot;
BEGIN
    -- one refresher at a time; the state row locked until the new cube commits. Not more often
    -- than portal_facet_refresh_seconds (a refresh takes seconds on a million rows), unless
    -- forced
    PERFORM 1 FROM portal.facet_cube_state
     WHERE (force OR NOT portal.facet_cube_current())
       AND (force OR as_of IS NULL OR as_of < caom2.now_utc()
            - hstvo.setting('portal_facet_refresh_seconds')::float8 * interval '1 second')
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    before := pg_current_snapshot();
    DELETE FROM portal.obscore_writes w WHERE pg_visible_in_snapshot(w.xid, before);
    UPDATE portal.facet_cube_state SET seen = before, as_of = caom2.now_utc();
    REFRESH MATERIALIZED VIEW portal.facet_cube;
    RETURN true;
END $$;

-- may the cube answer this search? (constraints on facet values only, a cube as current as
-- ObsCore's rows). Whoever asks: the cube holds the public rows, which everyone sees, and the
-- rows that were not public when it was made are counted live under the caller's rules
CREATE OR REPLACE FUNCTION portal.cube_answers(constraints jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (SELECT 1 FROM jsonb_object_keys(coalesce(constraints, '{}')) k
                        WHERE k <> ALL (portal.facet_columns()))
       AND portal.facet_cube_current() $$;

-- how many rows of each facet's values the search selects (a value per band of a multi-band
-- row): from the cube when it may answer, else counted
CREATE OR REPLACE FUNCTION portal.facets(constraints jsonb)
RETURNS TABLE (facet text, value text, rows bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found text;
BEGIN
    IF portal.cube_answers(constraints) THEN
        found := format($q$
            SELECT s.obs_collection, s.instrument_name, s.bands, s.filter, s.calib_level,
                   s.dataproduct_type, s.rows
              FROM portal.facet_cube s WHERE %1$s
            UNION ALL  -- not public when the cube was made: released since, or the caller's
            SELECT s.obs_collection, s.instrument_name, s.bands, s.filter, s.calib_level,
                   s.dataproduct_type, 1          -- (the row policies decide which it sees)
              FROM portal.searchable s
             WHERE %1$s AND s.public_from > %2$L $q$,
            portal.condition(constraints), (SELECT as_of FROM portal.facet_cube_state));
    ELSE
        found := format($q$
            SELECT s.obs_collection, s.instrument_name, s.bands, s.filter, s.calib_level,
                   s.dataproduct_type, 1 AS rows
              FROM portal.searchable s WHERE %s $q$, portal.condition(constraints));
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH found AS MATERIALIZED (%s)
        SELECT 'collection', obs_collection, sum(rows)::bigint FROM found GROUP BY 2
        UNION ALL SELECT 'instrument', instrument_name, sum(rows)::bigint FROM found GROUP BY 2
        UNION ALL SELECT 'band', b, sum(rows)::bigint FROM found, unnest(string_to_array(bands, '|')) b GROUP BY 2
        UNION ALL SELECT 'filter', filter, sum(rows)::bigint FROM found GROUP BY 2
        UNION ALL SELECT 'calib_level', calib_level::text, sum(rows)::bigint FROM found GROUP BY 2
        UNION ALL SELECT 'dataproduct_type', dataproduct_type, sum(rows)::bigint FROM found GROUP BY 2
        ORDER BY 1, 3 DESC, 2 $q$, found);
END $$;

DROP FUNCTION IF EXISTS portal.page(jsonb, text, boolean, integer, integer);  -- (until 0033)
-- a page of a search's results, sorted by one of portal.result_columns() (ties by DID).
-- in_order: read the rows in the sort column's order (its index) and stop after the page: the
-- first page of a million rows costs what the first page of fifty does, when the rows the
-- constraints select are spread over that order. Where they are bunched at its far end (a
-- filter of one instrument, whose obs_ids begin with its letter), that reads most of the
-- archive first; the caller gives it a short time limit, and then asks again without
-- in_order: every row the constraints select is found first and sorted after.
CREATE OR REPLACE FUNCTION portal.page(constraints jsonb, sort_by text DEFAULT 'obs_id',
                                       descending boolean DEFAULT false, page int DEFAULT 1,
                                       page_size int DEFAULT 50, in_order boolean DEFAULT true)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    size int := greatest(1, least(page_size, 1000));
    skipped int := (greatest(page, 1) - 1) * size;
    direction text := CASE WHEN descending THEN 'DESC' ELSE 'ASC' END;
BEGIN
    IF NOT sort_by = ANY (portal.result_columns()) THEN
        RAISE EXCEPTION 'cannot sort by %: one of %', sort_by, array_to_string(portal.result_columns(), ', ')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT to_jsonb(r) FROM (
            SELECT %1$s,
                   -- its science file (the thumbnail's), and its footprint for the sky view
                   (SELECT hstvo.artifact_file_name(min(a.uri)) FROM caom2.artifact a
                     WHERE a.planeid = s.planeid AND a.producttype = 'science') AS science_file,
                   adql.vertices(s.s_region) AS outline
              FROM (%2$s) AS s
             ORDER BY s.%3$I %4$s NULLS LAST, s.obs_publisher_did) r $q$,
        (SELECT string_agg(format('s.%I', col), ', ') FROM unnest(portal.result_columns()) col),
        CASE WHEN in_order THEN format($q$
            SELECT * FROM portal.searchable s WHERE %1$s
             ORDER BY s.%2$I %3$s NULLS LAST, s.obs_publisher_did LIMIT %4$s OFFSET %5$s $q$,
            portal.condition(constraints), sort_by, direction, size, skipped)
        ELSE format($q$
            -- the rows selected, narrow (their id and what they are sorted by), then the page's
            WITH selected AS MATERIALIZED (
                SELECT s.planeid, s.%2$I AS sort_value, s.obs_publisher_did
                  FROM portal.searchable s WHERE %1$s
            ), chosen AS (
                SELECT planeid FROM selected
                 ORDER BY sort_value %3$s NULLS LAST, obs_publisher_did LIMIT %4$s OFFSET %5$s)
            SELECT s.* FROM chosen JOIN portal.searchable s ON s.planeid = chosen.planeid $q$,
            portal.condition(constraints), sort_by, direction, size, skipped) END,
        sort_by, direction);
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

-- ---------------------------------------------------------------------------------------------
-- Target names: the archive's own are its resolver (there is no outside one)
-- ---------------------------------------------------------------------------------------------

-- the target names that begin so (any case), the most observed first, among the rows the caller
-- may see
-- (the names that begin so: portal.name_begins, the portal's own condition)
CREATE OR REPLACE FUNCTION portal.target_suggestions(beginning text, how_many int DEFAULT 10)
RETURNS TABLE (target_name text, observations bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT s.target_name, count(*) FROM portal.searchable s WHERE %s
          GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s',
        portal.name_begins('target_name', beginning), greatest(1, least(how_many, 50)));
END $$;

-- where a target is: the mean direction of the caller's visible rows of that name (any case);
-- no row when the archive does not know it
CREATE OR REPLACE FUNCTION portal.resolve_target(name text)
RETURNS TABLE (target_name text, ra float8, "dec" float8, observations bigint)
LANGUAGE sql STABLE AS $$
    SELECT min(v.target_name), ((degrees(atan2(avg(v.y), avg(v.x))) + 360)::numeric % 360)::float8,
           degrees(atan2(avg(v.z), sqrt(avg(v.x) ^ 2 + avg(v.y) ^ 2))), count(*)
      FROM (SELECT s.target_name, cos(radians(s.s_ra)) * cos(radians(s.s_dec)) AS x,
                   sin(radians(s.s_ra)) * cos(radians(s.s_dec)) AS y, sin(radians(s.s_dec)) AS z
              FROM portal.searchable s
             WHERE hstvo.name_key(s.target_name) = hstvo.name_key(btrim(name))
               AND s.s_ra IS NOT NULL) v
    HAVING count(*) > 0 $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hstvo_reader') THEN
        GRANT USAGE ON SCHEMA portal TO hstvo_reader;
        GRANT SELECT ON portal.searchable, portal.facet_cube, portal.facet_cube_state,
                         portal.obscore_writes TO hstvo_reader;
    END IF;
END $$;
