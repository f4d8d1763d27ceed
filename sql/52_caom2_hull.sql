-- z of the cross product (b - a) x (c - a): > 0 for a left (counter-clockwise) turn
CREATE OR REPLACE FUNCTION caom2.hull_turn(ax double precision, ay double precision,
                                           bx double precision, by double precision,
                                           cx double precision, cy double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) $$;

-- one half of Andrew's monotone chain: walk the points in the given order, keeping only left
-- turns; the lower hull walks them by increasing x, the upper by decreasing x
CREATE OR REPLACE FUNCTION caom2.hull_chain(walk integer[], xs double precision[],
                                            ys double precision[])
RETURNS integer[] LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    chain integer[] := '{}';
    k integer;
    m integer;
BEGIN
    FOREACH k IN ARRAY walk LOOP
        m := cardinality(chain);
        WHILE m >= 2 AND caom2.hull_turn(xs[chain[m - 1]], ys[chain[m - 1]],
                                         xs[chain[m]], ys[chain[m]], xs[k], ys[k]) <= 0 LOOP
            chain := chain[1:m - 1];
            m := m - 1;
        END LOOP;
        chain := chain || k;
    END LOOP;
    RETURN chain;
END $$;

-- caom2.hull(points): the footprint of a plane from its chunks' corners, as CAOM computes it
-- (PolygonUtil.getOuterHull): the convex hull of all corners, counter-clockwise as seen on the
-- sky (east to the left of north), which CAOM validators require.
--
-- points is [ra1, dec1, ra2, dec2, ...] in degrees. The corners are projected gnomonically about
-- their mean direction, so RA 0/360 and the poles need no special case (a footprint must be
-- smaller than a hemisphere, as pgsphere requires anyway). Returns [ra, dec, ...] of the hull's
-- vertices, or NULL for fewer than three distinct points.
CREATE OR REPLACE FUNCTION caom2.hull(points double precision[]) RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n integer := coalesce(cardinality(points), 0) / 2;
    cx double precision := 0; cy double precision := 0; cz double precision := 0;
    ra0 double precision; dec0 double precision;
    xs double precision[] := '{}'; ys double precision[] := '{}';
    ras double precision[] := '{}'; decs double precision[] := '{}';
    hull integer[] := '{}';
    i integer; k integer; ra double precision; dec double precision; c double precision;
    order_idx integer[];
    lower_part integer[] := '{}'; upper_part integer[] := '{}';
    result double precision[] := '{}';
BEGIN
    IF n < 3 THEN RETURN NULL; END IF;
    -- the mean direction: the projection centre
    FOR i IN 0 .. n - 1 LOOP
        ra := radians(points[2*i + 1]); dec := radians(points[2*i + 2]);
        cx := cx + cos(dec) * cos(ra); cy := cy + cos(dec) * sin(ra); cz := cz + sin(dec);
    END LOOP;
    ra0 := atan2(cy, cx); dec0 := atan2(cz, sqrt(cx * cx + cy * cy));
    -- gnomonic projection; x grows to the west so that (x, y) is the sky as seen (east left)
    FOR i IN 0 .. n - 1 LOOP
        ra := radians(points[2*i + 1]); dec := radians(points[2*i + 2]);
        c := sin(dec0) * sin(dec) + cos(dec0) * cos(dec) * cos(ra - ra0);
        IF c <= 0 THEN
            RAISE EXCEPTION 'footprint spans more than a hemisphere (point %, %)',
                points[2*i + 1], points[2*i + 2] USING ERRCODE = '22023';
        END IF;
        xs := xs || (-(cos(dec) * sin(ra - ra0)) / c);
        ys := ys || ((cos(dec0) * sin(dec) - sin(dec0) * cos(dec) * cos(ra - ra0)) / c);
        ras := ras || points[2*i + 1]; decs := decs || points[2*i + 2];
    END LOOP;
    -- Andrew's monotone chain on the projected points
    SELECT array_agg(j ORDER BY xs[j], ys[j]) INTO order_idx FROM generate_series(1, n) AS j;
    lower_part := caom2.hull_chain(order_idx, xs, ys);
    upper_part := caom2.hull_chain(ARRAY(SELECT order_idx[j] FROM generate_series(n, 1, -1) AS j),
                                   xs, ys);
    hull := lower_part[1:cardinality(lower_part) - 1] || upper_part[1:cardinality(upper_part) - 1];
    IF cardinality(hull) < 3 THEN RETURN NULL; END IF;
    FOREACH k IN ARRAY hull LOOP
        result := result || ras[k] || decs[k];
    END LOOP;
    RETURN result;
END $$;
