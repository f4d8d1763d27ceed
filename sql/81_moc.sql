-- Coverage MOCs (MOC 2.0): the union of the sky footprints of the planes a query selects,
-- computed by pgsphere's smoc type, at a HEALPix order, cached until planes change.
--
--   hstvo.coverage_moc(collection, instrument, filter, calib_level, order)  -> smoc
--
-- instrument matches the instrument and its detectors (ACS matches ACS/WFC and ACS/HRC),
-- filter the plane's bandpass name (F606W); NULL selects everything. Only the planes the
-- caller may see count (the row policies of sql/92_access_rules.sql: the service reads as
-- hstvo_reader); the cache holds what anonymous callers get, and serves only them.

CREATE TABLE IF NOT EXISTS hstvo.moc_cache (
    query     text PRIMARY KEY,            -- the parameters, as a key
    moc       smoc NOT NULL,
    planes    bigint NOT NULL,             -- how many footprints went into it
    computed  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hstvo.moc_cache IS 'coverage MOCs already computed; emptied whenever caom2.plane changes';

-- any change of the planes forgets every cached MOC (one statement, whatever it changed)
CREATE OR REPLACE FUNCTION hstvo.forget_mocs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM hstvo.moc_cache;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS plane_forgets_mocs ON caom2.plane;
CREATE TRIGGER plane_forgets_mocs AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON caom2.plane
    FOR EACH STATEMENT EXECUTE FUNCTION hstvo.forget_mocs();

-- hstvo.moc_footprint: a plane's footprint as pgsphere's smoc() takes it. The hull of two
-- adjacent chips has a vertex on the great circle through its neighbours (where the chips'
-- common edge meets the hull: a gnomonic projection maps that edge to a great circle), and
-- smoc() refuses such a corner ("MOC processing error: degenerate corner"), which failed the
-- coverage MOC of a whole archive of WFC3 and ACS exposures. Those vertices (within 1e-7 of
-- the great circle, a fraction of a milliarcsecond) are left out: the same region.
CREATE OR REPLACE FUNCTION hstvo.moc_footprint(bounds double precision[], polygon spoly) RETURNS spoly
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n integer := cardinality(bounds) / 2;
    x double precision[];
    y double precision[];
    z double precision[];
    kept double precision[] := '{}';
    p integer;
    q integer;
    ux double precision; uy double precision; uz double precision;
    vx double precision; vy double precision; vz double precision;
    turn double precision;
BEGIN
    IF polygon IS NULL OR n < 4 OR cardinality(bounds) % 2 = 1 THEN
        RETURN polygon;  -- a circle, a triangle: nothing to leave out
    END IF;
    FOR i IN 1 .. n LOOP
        x[i] := cos(radians(bounds[2*i])) * cos(radians(bounds[2*i-1]));
        y[i] := cos(radians(bounds[2*i])) * sin(radians(bounds[2*i-1]));
        z[i] := sin(radians(bounds[2*i]));
    END LOOP;
    FOR i IN 1 .. n LOOP
        p := CASE WHEN i = 1 THEN n ELSE i - 1 END;
        q := CASE WHEN i = n THEN 1 ELSE i + 1 END;
        -- how far vertex i is off the great circle through its neighbours: the triple
        -- product p . (i x q), the volume the three span with the centre, against the
        -- lengths of the two edges (a right-angled corner gives about 1)
        ux := x[i] - x[p]; uy := y[i] - y[p]; uz := z[i] - z[p];
        vx := x[q] - x[i]; vy := y[q] - y[i]; vz := z[q] - z[i];
        turn := abs(x[p] * (y[i]*z[q] - z[i]*y[q]) + y[p] * (z[i]*x[q] - x[i]*z[q])
                    + z[p] * (x[i]*y[q] - y[i]*x[q]))
                / nullif(sqrt(ux*ux + uy*uy + uz*uz) * sqrt(vx*vx + vy*vy + vz*vz), 0);
        IF turn IS NULL OR turn > 1e-7 THEN
            kept := kept || ARRAY[bounds[2*i-1], bounds[2*i]];
        END IF;
    END LOOP;
    IF cardinality(kept) = cardinality(bounds) OR cardinality(kept) < 6 THEN
        RETURN polygon;
    END IF;
    RETURN caom2.bounds_spoly(kept);
END $$;

-- hstvo.coverage_moc: the MOC of the matching planes' footprints (an empty MOC when none)
CREATE OR REPLACE FUNCTION hstvo.coverage_moc(collection text, instrument text, filter text,
                                              calib_level integer, moc_order integer,
                                              OUT moc smoc, OUT planes bigint, OUT cached boolean)
LANGUAGE plpgsql AS $$
DECLARE
    key text := concat_ws('|', collection, upper(instrument), upper(filter), calib_level, moc_order);
BEGIN
    IF moc_order NOT BETWEEN 0 AND 29 THEN
        RAISE EXCEPTION 'MOC order % is not between 0 and 29', moc_order USING ERRCODE = 'MO001';
    END IF;
    IF auth.caller() IS NOT NULL THEN
        key := NULL;  -- a member may see more than anonymous: neither read nor fill the cache
    END IF;
    SELECT c.moc, c.planes, true INTO moc, planes, cached FROM hstvo.moc_cache c WHERE c.query = key;
    IF FOUND THEN
        RETURN;
    END IF;
    -- the union as a tree (4096 groups, then 64, then one): sum(smoc) merges each footprint
    -- into the whole union so far, which costs the union's size every time; small groups first
    -- keep the merged MOCs small (100,000 footprints: 34 s in one sum, 3 s as a tree)
    SELECT coalesce(sum(middle.moc), '0/'::smoc), coalesce(sum(middle.planes), 0), false
      INTO moc, planes, cached
      FROM (SELECT sum(leaf.moc) AS moc, sum(leaf.planes) AS planes
              FROM (SELECT sum(smoc(moc_order, hstvo.moc_footprint(p.position_bounds,
                                                                   p.position_bounds_spoly))) AS moc,
                           count(*) AS planes, abs(hashtext(p.planeid::text)) % 4096 AS bucket
                      FROM caom2.plane p JOIN caom2.observation o ON o.obsid = p.obsid
                     WHERE o.collection = coverage_moc.collection
                       AND p.position_bounds_spoly IS NOT NULL
                       AND (coverage_moc.instrument IS NULL
                            OR upper(o.instrument_name) = upper(coverage_moc.instrument)
                            OR upper(o.instrument_name) LIKE upper(coverage_moc.instrument) || '/%')
                       AND (coverage_moc.filter IS NULL
                            OR upper(p.energy_bandpassname) = upper(coverage_moc.filter))
                       AND (coverage_moc.calib_level IS NULL
                            OR p.calibrationlevel = coverage_moc.calib_level)
                     GROUP BY 3) AS leaf
             GROUP BY leaf.bucket % 64) AS middle;
    -- (a read-only standby reads the primary's cache, replicated, but cannot add to it)
    IF key IS NOT NULL AND NOT pg_is_in_recovery() THEN
        INSERT INTO hstvo.moc_cache (query, moc, planes) VALUES (key, moc, planes)
        ON CONFLICT (query) DO NOTHING;
    END IF;
END $$;
