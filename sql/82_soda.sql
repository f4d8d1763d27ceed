-- SODA cutouts (pyserver/soda.py): which file a cutout of an ID reads, and whether the plane
-- overlaps the BAND, TIME and POL filters at all (sky filters are checked on the pixels).

-- hstvo.soda_target: the file of the plane's science artifact, and whether the plane is in
-- every BAND (metres) and TIME (MJD) interval and POL state asked for; NULL path when the ID
-- names nothing this archive holds the file of
CREATE OR REPLACE FUNCTION hstvo.soda_target(id text, bands double precision[] DEFAULT NULL,
                                             times double precision[] DEFAULT NULL,
                                             pols text[] DEFAULT NULL,
                                             OUT path text, OUT in_range boolean, OUT why text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    plane caom2.plane;
    i integer;
BEGIN
    SELECT p.* INTO plane FROM caom2.plane p
     WHERE p.planeid = hstvo.datalink_plane(id)
       AND (p.datarelease IS NULL OR p.datarelease <= caom2.now_utc());
    IF plane.planeid IS NULL THEN
        RETURN;
    END IF;
    SELECT hstvo.file_path('HST', hstvo.artifact_file_name(a.uri)) INTO path
      FROM caom2.artifact a
     WHERE a.planeid = plane.planeid AND a.producttype = 'science'
       AND hstvo.file_path('HST', hstvo.artifact_file_name(a.uri)) IS NOT NULL
     ORDER BY a.uri LIMIT 1;
    IF path IS NULL THEN
        RETURN;
    END IF;
    in_range := true;
    FOR i IN 1 .. coalesce(array_length(bands, 1), 0) LOOP
        IF plane.energy_bounds_lower IS NULL OR bands[i][1] > plane.energy_bounds_upper
           OR bands[i][2] < plane.energy_bounds_lower THEN
            in_range := false;
            why := format('BAND %s %s m is outside the product''s %s to %s m', bands[i][1],
                          bands[i][2], plane.energy_bounds_lower, plane.energy_bounds_upper);
            RETURN;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(times, 1), 0) LOOP
        IF plane.time_bounds_lower IS NULL OR times[i][1] > plane.time_bounds_upper
           OR times[i][2] < plane.time_bounds_lower THEN
            in_range := false;
            why := format('TIME %s %s (MJD) is outside the product''s %s to %s', times[i][1],
                          times[i][2], plane.time_bounds_lower, plane.time_bounds_upper);
            RETURN;
        END IF;
    END LOOP;
    IF pols IS NOT NULL AND NOT (coalesce(plane.polarization_states, 'I')
                                 ~ ('(^|/)(' || array_to_string(pols, '|') || ')(/|$)')) THEN
        in_range := false;
        why := format('POL %s: the product has %s', array_to_string(pols, ' '),
                      coalesce(plane.polarization_states, 'I'));
    END IF;
END $$;
