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
    IF cardinality(corners) < 6 OR cardinality(corners) % 2 <> 0 THEN
        RAISE EXCEPTION 'POLYGON needs at least three vertices, as pairs of coordinates; it has % numbers',
            cardinality(corners) USING ERRCODE = '22023';
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
