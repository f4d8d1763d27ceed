-- SODA cutouts (pyserver/soda.py): which file a cutout of an ID reads, and whether the plane
-- overlaps the BAND, TIME and POL filters at all (sky filters are checked on the pixels).

-- why the first of some intervals (rows of lower, upper) misses [lower, upper]; NULL when
-- none does
CREATE OR REPLACE FUNCTION hstvo.interval_miss(parameter text, unit text,
                                               intervals double precision[],
                                               lower double precision, upper double precision)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('%s %s %s %s is outside the product''s %s to %s', parameter,
                  intervals[i][1], intervals[i][2], unit, lower, upper)
      FROM generate_series(1, coalesce(array_length(intervals, 1), 0)) AS i
     WHERE lower IS NULL OR intervals[i][1] > upper OR intervals[i][2] < lower
     ORDER BY i LIMIT 1 $$;

-- hstvo.soda_target: the file of the plane's science artifact, whether the caller may read
-- it (`access`: auth.plane_data_access), and whether the plane is in every BAND (metres) and
-- TIME (MJD) interval and POL state asked for; NULL path when the ID names nothing this
-- archive holds the file of, or a plane hidden from the caller (sql/92_access_rules.sql)
DROP FUNCTION IF EXISTS hstvo.soda_target(text, double precision[], double precision[], text[]);
CREATE OR REPLACE FUNCTION hstvo.soda_target(id text, bands double precision[] DEFAULT NULL,
                                             times double precision[] DEFAULT NULL,
                                             pols text[] DEFAULT NULL,
                                             OUT path text, OUT in_range boolean, OUT why text,
                                             OUT access text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    plane caom2.plane;
BEGIN
    SELECT p.* INTO plane FROM caom2.plane p WHERE p.planeid = hstvo.datalink_plane(id);
    IF plane.planeid IS NULL THEN
        RETURN;
    END IF;
    access := auth.plane_data_access(plane.planeid);
    SELECT hstvo.file_path('HST', hstvo.artifact_file_name(a.uri)) INTO path
      FROM caom2.artifact a
     WHERE a.planeid = plane.planeid AND a.producttype = 'science'
       AND hstvo.file_path('HST', hstvo.artifact_file_name(a.uri)) IS NOT NULL
     ORDER BY a.uri LIMIT 1;
    IF path IS NULL THEN
        RETURN;
    END IF;
    in_range := true;
    why := hstvo.interval_miss('BAND', 'm', bands, plane.energy_bounds_lower,
                               plane.energy_bounds_upper);
    IF why IS NULL THEN
        why := hstvo.interval_miss('TIME', 'MJD', times, plane.time_bounds_lower,
                                   plane.time_bounds_upper);
    END IF;
    IF why IS NOT NULL THEN
        in_range := false;
        RETURN;
    END IF;
    -- the states are compared as names, never as patterns
    IF pols IS NOT NULL AND NOT (string_to_array(coalesce(plane.polarization_states, 'I'), '/')
                                 && pols) THEN
        in_range := false;
        why := format('POL %s: the product has %s', array_to_string(pols, ' '),
                      coalesce(plane.polarization_states, 'I'));
    END IF;
END $$;
