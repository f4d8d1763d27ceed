-- Geometry helpers: CAOM shapes (degrees, in double[]) to pgsphere (radians) and the derived
-- position metadata CADC precomputes (centre, area, size).
--
-- A Plane's position_bounds is [ra1, dec1, ra2, dec2, ...] for a Polygon or [ra, dec, radius]
-- for a Circle (CADC's PostgreSQLGenerator encoding). pgsphere ignores vertex orientation, so a
-- polygon and its reverse give the same spoly.

-- regular n-gon circumscribing a circle (all in degrees)
CREATE OR REPLACE FUNCTION caom2.circle_spoly(ra_deg double precision, dec_deg double precision,
                                              radius_deg double precision, n integer)
RETURNS spoly
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$ BEGIN RETURN (
WITH v AS (
    -- vertex k at angular distance d = atan(tan(r) / cos(pi/n)), so the edges clear the circle,
    -- in direction az from the centre (the spherical "destination point" formulae)
    SELECT k, atan(tan(radians(radius_deg)) / cos(pi() / n)) AS d, 2 * pi() * k / n AS az,
           radians(dec_deg) AS lat0, radians(ra_deg) AS lon0
      FROM generate_series(0, n - 1) AS k
), w AS (
    SELECT k, d, az, lat0, lon0,
           asin(sin(lat0) * cos(d) + cos(lat0) * sin(d) * cos(az)) AS lat
      FROM v
)
SELECT spoly(spoint(lon0 + atan2(sin(az) * sin(d) * cos(lat0), cos(d) - sin(lat0) * sin(lat)),
                    lat) ORDER BY k)
  FROM w); END $$;

-- the footprint as a pgsphere polygon; a circle becomes its circumscribed 16-gon so that one
-- GiST-indexed column serves every spatial query (CADC uses a 13-gon the same way)
-- (The vertices are added one by one with the polygon aggregate's own transition and final
-- functions, in a loop of PL/pgSQL expressions: the same polygon as spoly(point ORDER BY i)
-- over the vertices, at a fifth of the cost of running that as a query for every plane.)
CREATE OR REPLACE FUNCTION caom2.bounds_spoly(bounds double precision[]) RETURNS spoly
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    polygon spoly;
BEGIN
    -- (a NULL point would crash pgsphere's polygon aggregate, and the server process with it)
    IF bounds IS NULL OR array_position(bounds, NULL) IS NOT NULL THEN RETURN NULL; END IF;
    IF cardinality(bounds) = 3 THEN
        RETURN caom2.circle_spoly(bounds[1], bounds[2], bounds[3], 16);
    END IF;
    FOR i IN 0 .. cardinality(bounds) / 2 - 1 LOOP
        polygon := spoly_add_point_aggr(polygon,
                                        spoint(radians(bounds[2*i+1]), radians(bounds[2*i+2])));
    END LOOP;
    RETURN spoly_add_points_fin_aggr(polygon);
END $$;

-- centre of a footprint: the circle centre, or the normalised mean of the polygon's vertex
-- vectors (exact for symmetric footprints, well inside any small HST footprint otherwise).
-- (A loop of PL/pgSQL expressions, not a query: a third of the time it took as one; the sums
-- start from the first vertex, as sum() does, so the values are the same to the last bit.)
CREATE OR REPLACE FUNCTION caom2.bounds_center(bounds double precision[]) RETURNS spoint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    sx double precision;
    sy double precision;
    sz double precision;
BEGIN
    -- (a NULL point would crash pgsphere's polygon aggregate, and the server process with it)
    IF bounds IS NULL OR array_position(bounds, NULL) IS NOT NULL OR cardinality(bounds) < 2 THEN
        RETURN NULL;
    END IF;
    IF cardinality(bounds) = 3 THEN
        RETURN spoint(radians(bounds[1]), radians(bounds[2]));
    END IF;
    FOR i IN 0 .. cardinality(bounds) / 2 - 1 LOOP
        IF i = 0 THEN
            sx := cos(radians(bounds[2]))* cos(radians(bounds[1]));
            sy := cos(radians(bounds[2])) * sin(radians(bounds[1]));
            sz := sin(radians(bounds[2]));
        ELSE
            sx := sx + cos(radians(bounds[2*i+2])) * cos(radians(bounds[2*i+1]));
            sy := sy + cos(radians(bounds[2*i+2])) * sin(radians(bounds[2*i+1]));
            sz := sz + sin(radians(bounds[2*i+2]));
        END IF;
    END LOOP;
    RETURN spoint(atan2(sy, sx), atan2(sz, sqrt(sx * sx + sy * sy)));
END $$;

-- area in square degrees
CREATE OR REPLACE FUNCTION caom2.bounds_area(bounds double precision[]) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$ BEGIN RETURN (SELECT CASE
    -- (a NULL point would crash pgsphere's polygon aggregate, and the server process with it)
    WHEN bounds IS NULL OR array_position(bounds, NULL) IS NOT NULL THEN NULL
    WHEN cardinality(bounds) = 3 THEN degrees(degrees(2 * pi() * (1 - cos(radians(bounds[3])))))
    ELSE degrees(degrees(area(caom2.bounds_spoly(bounds))))
END); END $$;

-- size: diameter (degrees) of the circle about the centre that holds every vertex (ObsCore s_fov)
CREATE OR REPLACE FUNCTION caom2.bounds_size(bounds double precision[]) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    center spoint;
    farthest double precision;
BEGIN
    -- (a NULL point would crash pgsphere's polygon aggregate, and the server process with it)
    IF bounds IS NULL OR array_position(bounds, NULL) IS NOT NULL THEN RETURN NULL; END IF;
    IF cardinality(bounds) = 3 THEN RETURN 2 * bounds[3]; END IF;
    center := caom2.bounds_center(bounds);
    FOR i IN 0 .. cardinality(bounds) / 2 - 1 LOOP
        farthest := greatest(farthest, center <-> spoint(radians(bounds[2*i+1]), radians(bounds[2*i+2])));
    END LOOP;
    RETURN 2 * degrees(farthest);
END $$;

-- an interval's range (closed); NULL when either end is missing
CREATE OR REPLACE FUNCTION caom2.interval_range(lower double precision, upper double precision)
RETURNS caom2.float8range LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN lower IS NULL OR upper IS NULL THEN NULL
               ELSE caom2.float8range(lower, upper, '[]') END $$;
