-- ADQL geometry in pgsphere: the functions the ADQL translator (pyserver/adql) writes calls to.
--
-- ADQL speaks degrees, pgsphere radians. Each function here is a one-line SQL function that
-- PostgreSQL inlines into the query, so that `CONTAINS(POINT(...), CIRCLE(...)) = 1`, which
-- becomes `adql.point(...) <@ adql.circle(...)`, still reaches the GiST indexes of the
-- pgsphere columns. CONTAINS and INTERSECTS themselves are pgsphere's operators <@ and &&,
-- written by the translator.

CREATE SCHEMA IF NOT EXISTS adql;
COMMENT ON SCHEMA adql IS 'ADQL 2.1 geometry functions on pgsphere, in degrees (pyserver/adql)';

-- POINT(ra, dec): degrees
CREATE OR REPLACE FUNCTION adql.point(lon double precision, lat double precision) RETURNS spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT spoint(radians(lon), radians(lat)) $$;

-- CIRCLE(center, radius): degrees
CREATE OR REPLACE FUNCTION adql.circle(center spoint, radius double precision) RETURNS scircle
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT scircle(center, radians(radius)) $$;

-- POLYGON(ra1, dec1, ra2, dec2, ...): at least three vertices, degrees, either orientation
CREATE OR REPLACE FUNCTION adql.polygon(VARIADIC corners double precision[]) RETURNS spoly
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    -- a missing coordinate makes no polygon (SQL's NULL); pgsphere's polygon aggregate must
    -- never see a NULL point: it crashes the server process
    IF corners IS NULL OR array_position(corners, NULL) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    IF cardinality(corners) < 6 OR cardinality(corners) % 2 <> 0 THEN
        RAISE EXCEPTION 'POLYGON needs at least three vertices, as pairs of coordinates; it has % numbers',
            cardinality(corners) USING ERRCODE = '22AD0';
    END IF;
    RETURN (SELECT spoly(spoint(radians(corners[2 * i - 1]), radians(corners[2 * i])) ORDER BY i)
              FROM generate_series(1, cardinality(corners) / 2) AS i);
END $$;

-- BOX(ra, dec, width, height): degrees; the polygon of the corners ra -/+ width/2,
-- dec -/+ height/2 (deprecated in ADQL 2.1, kept for the queries that still use it)
CREATE OR REPLACE FUNCTION adql.box(lon double precision, lat double precision,
                                   width double precision, height double precision) RETURNS spoly
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT adql.polygon(lon - width / 2, lat - height / 2, lon + width / 2, lat - height / 2,
                       lon + width / 2, lat + height / 2, lon - width / 2, lat + height / 2) $$;

-- RAND(seed): a number in [0, 1) that the seed decides (PostgreSQL's random() takes no seed;
-- RAND() without one is random())
CREATE OR REPLACE FUNCTION adql.rand(seed double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ('x' || substr(md5(seed::text), 1, 8))::bit(32)::bigint / 4294967296.0 $$;

-- MOD(x, y) of any numeric type: the remainder with the sign of x (PostgreSQL's % and mod()
-- take integers and numerics only)
CREATE OR REPLACE FUNCTION adql.mod(x bigint, y bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x % y $$;
CREATE OR REPLACE FUNCTION adql.mod(x numeric, y numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT mod(x, y) $$;
CREATE OR REPLACE FUNCTION adql.mod(x double precision, y double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x - y * trunc(x / y) $$;

-- DISTANCE(p1, p2): degrees
CREATE OR REPLACE FUNCTION adql.distance(a spoint, b spoint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT degrees(a <-> b) $$;

-- AREA(region): square degrees
CREATE OR REPLACE FUNCTION adql.area(region scircle) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT degrees(degrees(area(region))) $$;
CREATE OR REPLACE FUNCTION adql.area(region spoly) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT degrees(degrees(area(region))) $$;
CREATE OR REPLACE FUNCTION adql.area(region spoint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0.0::double precision $$;

-- CENTROID(region): the centre of a circle; a point is its own
CREATE OR REPLACE FUNCTION adql.centroid(region scircle) RETURNS spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT center(region) $$;
CREATE OR REPLACE FUNCTION adql.centroid(region spoint) RETURNS spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT region $$;

-- adql.vertices(polygon): its corners as (lon, lat) pairs in degrees. pgsphere 1.2 gives a
-- polygon's vertices only as text, in the session's output format (set_sphere_output): radians
-- (the default), degrees ('12.5d', the service's connections), or DMS/HMS ('12d 30m 0s',
-- '0h 50m 0s'); every form is read.
CREATE OR REPLACE FUNCTION adql.sphere_degrees(coordinate text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT CASE
    WHEN coordinate !~ '[dhms]' THEN degrees(coordinate::double precision)
    ELSE sign * (coalesce(substring(c FROM '([0-9.eE+]+)[dh]')::double precision, 0)
                 + coalesce(substring(c FROM '([0-9.eE+]+)m')::double precision, 0) / 60
                 + coalesce(substring(c FROM '([0-9.eE+]+)s')::double precision, 0) / 3600)
         * CASE WHEN c ~ 'h' THEN 15 ELSE 1 END
END
  FROM (SELECT btrim(coordinate) AS t) AS trimmed,
       LATERAL (SELECT CASE WHEN t LIKE '-%' THEN -1 ELSE 1 END AS sign,
                       ltrim(t, '+-') AS c) AS parts
$$;

CREATE OR REPLACE FUNCTION adql.vertices(region spoly) RETURNS double precision[]
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT array_agg(adql.sphere_degrees(part) ORDER BY vertex, axis)
  FROM regexp_matches(region::text, '\(([^,()]+),([^,()]+)\)', 'g') WITH ORDINALITY AS m(pair, vertex),
       LATERAL unnest(pair) WITH ORDINALITY AS c(part, axis)
$$;

-- CENTROID(polygon): the centroid of its surface, found as the area-weighted mean of the
-- centroids of the triangles fanned out from its first corner (in 3-D unit vectors, each
-- weight signed by the triangle's turn, so that concave polygons come out right), projected
-- back onto the sphere. Exact for a triangle; for the small polygons of HST footprints it
-- agrees with the centre of the spherical surface to far below a pixel.
CREATE OR REPLACE FUNCTION adql.centroid(region spoly) RETURNS spoint
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
WITH corner AS (
    SELECT i, cos(radians(v[2 * i])) * cos(radians(v[2 * i - 1])) AS x,
              cos(radians(v[2 * i])) * sin(radians(v[2 * i - 1])) AS y,
              sin(radians(v[2 * i])) AS z
      FROM (SELECT adql.vertices(region) AS v) AS p,
           generate_series(1, cardinality(v) / 2) AS i),
triangle AS (  -- corners 1, i, i + 1: centroid c = a + b + c, weight = (b - a) x (c - a) . c
    SELECT a.x + b.x + c.x AS cx, a.y + b.y + c.y AS cy, a.z + b.z + c.z AS cz,
           ((b.y - a.y) * (c.z - a.z) - (b.z - a.z) * (c.y - a.y)) * (a.x + b.x + c.x)
         + ((b.z - a.z) * (c.x - a.x) - (b.x - a.x) * (c.z - a.z)) * (a.y + b.y + c.y)
         + ((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)) * (a.z + b.z + c.z) AS w
      FROM corner AS a JOIN corner AS b ON a.i = 1 AND b.i > 1
      JOIN corner AS c ON c.i = b.i + 1),
-- divided by the total weight: a polygon given clockwise has negative weights
total AS (SELECT sum(w * cx) / sum(w) AS x, sum(w * cy) / sum(w) AS y, sum(w * cz) / sum(w) AS z
            FROM triangle)
SELECT spoint(atan2(y, x), atan2(z, sqrt(x * x + y * y))) FROM total
$$;

-- CAST(x AS POINT | CIRCLE | POLYGON) (ADQL 2.1 section 4.7.1): from a DALI string ('ra dec',
-- 'ra dec radius', 'ra1 dec1 ra2 dec2 ...'; degrees), or a geometry of the same type
CREATE OR REPLACE FUNCTION adql.dali_numbers(value text, shape text) RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n double precision[];
    valid boolean;
BEGIN
    BEGIN
        n := regexp_split_to_array(btrim(value), '\s+')::double precision[];
    EXCEPTION WHEN invalid_text_representation THEN
        n := NULL;
    END;
    valid := CASE shape WHEN 'point' THEN cardinality(n) = 2
                        WHEN 'circle' THEN cardinality(n) = 3
                        ELSE cardinality(n) >= 6 AND cardinality(n) % 2 = 0 END;
    IF n IS NULL OR NOT valid THEN
        RAISE EXCEPTION 'a DALI % is %, not %', shape,
            CASE shape WHEN 'point' THEN 'two numbers (ra dec)'
                       WHEN 'circle' THEN 'three numbers (ra dec radius)'
                       ELSE 'three or more pairs of numbers (ra1 dec1 ra2 dec2 ...)' END,
            quote_literal(value) USING ERRCODE = '22AD0';
    END IF;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION adql.cast_point(value text) RETURNS spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT adql.point(n[1], n[2]) FROM adql.dali_numbers(value, 'point') AS n $$;
CREATE OR REPLACE FUNCTION adql.cast_point(value spoint) RETURNS spoint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT value $$;

CREATE OR REPLACE FUNCTION adql.cast_circle(value text) RETURNS scircle
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT adql.circle(adql.point(n[1], n[2]), n[3]) FROM adql.dali_numbers(value, 'circle') AS n $$;
CREATE OR REPLACE FUNCTION adql.cast_circle(value scircle) RETURNS scircle
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT value $$;

CREATE OR REPLACE FUNCTION adql.cast_polygon(value text) RETURNS spoly
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT adql.polygon(VARIADIC n) FROM adql.dali_numbers(value, 'polygon') AS n $$;
CREATE OR REPLACE FUNCTION adql.cast_polygon(value spoly) RETURNS spoly
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT value $$;

-- COORD1(point), COORD2(point): degrees, longitude in [0, 360)
CREATE OR REPLACE FUNCTION adql.coord1(p spoint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT degrees(long(p)) $$;
CREATE OR REPLACE FUNCTION adql.coord2(p spoint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT degrees(lat(p)) $$;

-- ROUND(x, n) and TRUNCATE(x, n) of a double: PostgreSQL has them for numeric only
CREATE OR REPLACE FUNCTION adql.round(x double precision, places integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(x::numeric, places)::double precision $$;
CREATE OR REPLACE FUNCTION adql.truncate(x double precision, places integer DEFAULT 0)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT trunc(x::numeric, places)::double precision $$;
