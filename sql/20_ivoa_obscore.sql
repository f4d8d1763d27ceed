-- ivoa.ObsCore (ObsCore 1.1): one row per plane, a view over caom2 so it can never disagree
-- with the model. Columns follow the ObsCore 1.1 mandatory list, then the common optional ones,
-- then CADC's extras; units, UCDs and utypes are in tap_schema (31_tap_schema_content.sql).
--
-- Choices, where CADC's view differs:
--   * calibration observations are included (HST users search darks and flats too);
--   * CAOM's 'eventlist' is ObsCore's 'event'; vocabulary URIs keep only their term;
--   * planes whose metadata is still proprietary (metaRelease in the future) are hidden;
--     a NULL metaRelease means public (the access-control work refines this);
--   * access_url is this service's DataLink URL for the plane, built from the publisherID by
--     hstvo.datalink_url, the same function DataLink itself uses.

-- percent-encoding of a query-string value (RFC 3986 unreserved characters stay as they are)
-- one character at a time: any text
CREATE OR REPLACE FUNCTION hstvo.url_encode_any(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$ BEGIN RETURN (SELECT string_agg(CASE WHEN b ~ '^[A-Za-z0-9._~-]$' THEN b
                       ELSE upper(regexp_replace(encode(convert_to(b, 'UTF8'), 'hex'),
                                                 '(..)', '%\1', 'g')) END, '' ORDER BY n)
  FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(b, n)); END $$;

-- the same, fast for the ASCII that publisher DIDs and URIs hold: a chain of replace() calls
-- instead of a pass per character (every ObsCore row calls it for access_url)
CREATE OR REPLACE FUNCTION hstvo.url_encode(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN value ~ '^[A-Za-z0-9._~:/?#@!$&''()*+,;=\[\]-]*$'
   THEN replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
        replace(replace(replace(replace(replace(replace(replace(replace(value,
        ':', '%3A'), '/', '%2F'), '?', '%3F'), '#', '%23'), '@', '%40'), '!', '%21'),
        '$', '%24'), '&', '%26'), '''', '%27'), '(', '%28'), ')', '%29'), '*', '%2A'),
        '+', '%2B'), ',', '%2C'), ';', '%3B'), '=', '%3D'), '[', '%5B'), ']', '%5D')
   ELSE hstvo.url_encode_any(value) END $$;

CREATE OR REPLACE FUNCTION hstvo.datalink_url(publisher_did text) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT hstvo.setting('service_url') || '/datalink?ID=' || hstvo.url_encode(publisher_did) $$;

-- CAOM dataProductType -> ObsCore dataproduct_type
CREATE OR REPLACE FUNCTION ivoa.obscore_dataproduct_type(caom_type text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN caom_type = 'eventlist' THEN 'event'
               WHEN caom_type LIKE '%#%' THEN split_part(caom_type, '#', 2)
               ELSE caom_type END $$;

CREATE OR REPLACE VIEW ivoa.obscore AS
SELECT
    ivoa.obscore_dataproduct_type(p.dataproducttype)        AS dataproduct_type,
    p.calibrationlevel                                      AS calib_level,
    o.collection                                            AS obs_collection,
    o.observationid                                         AS obs_id,
    p.publisherid                                           AS obs_publisher_did,
    hstvo.datalink_url(p.publisherid)                       AS access_url,
    'application/x-votable+xml;content=datalink'::text      AS access_format,
    (SELECT (sum(a.contentlength) + 1023) / 1024 FROM caom2.artifact a
      WHERE a.planeid = p.planeid)::bigint                  AS access_estsize,
    o.target_name                                           AS target_name,
    degrees(long(p.position_bounds_center))                 AS s_ra,
    degrees(lat(p.position_bounds_center))                  AS s_dec,
    p.position_bounds_size                                  AS s_fov,
    p.position_bounds_spoly                                 AS s_region,
    p.position_resolution                                   AS s_resolution,
    p.time_bounds_lower                                     AS t_min,
    p.time_bounds_upper                                     AS t_max,
    p.time_exposure                                         AS t_exptime,
    p.time_resolution * 86400.0                             AS t_resolution,
    p.energy_bounds_lower                                   AS em_min,
    p.energy_bounds_upper                                   AS em_max,
    p.energy_resolvingpower                                 AS em_res_power,
    coalesce(p.observable_ucd, 'phot.count')                AS o_ucd,
    p.polarization_states                                   AS pol_states,
    o.telescope_name                                        AS facility_name,
    o.instrument_name                                       AS instrument_name,
    -- optional ObsCore columns
    p.position_dimension_naxis1                             AS s_xel1,
    p.position_dimension_naxis2                             AS s_xel2,
    p.time_dimension                                        AS t_xel,
    p.energy_dimension                                      AS em_xel,
    p.polarization_dimension                                AS pol_xel,
    p.position_samplesize                                   AS s_pixel_scale,
    CASE WHEN p.energy_bounds_lower IS NOT NULL THEN 'em.wl' END AS em_ucd,
    (SELECT min(a.uri) FROM caom2.artifact a
      WHERE a.planeid = p.planeid AND a.producttype IN ('preview', 'thumbnail')) AS preview,
    o.proposal_id                                           AS proposal_id,
    o.target_type                                           AS target_class,
    p.datarelease                                           AS obs_release_date,
    p.creatorid                                             AS obs_creator_did,
    o.proposal_title                                        AS obs_title,
    p.lastmodified                                          AS lastmodified,
    -- hidden from TAP_SCHEMA: what access control and the ADQL translator use
    p.planeid                                               AS planeid,
    p.position_bounds_center                                AS position_bounds_center,
    p.position_bounds_area                                  AS position_bounds_area,
    p.metarelease                                           AS metarelease,
    p.metareadgroups                                        AS metareadgroups,
    p.datareadgroups                                        AS datareadgroups
  FROM caom2.observation o
  JOIN caom2.plane p ON p.obsid = o.obsid
-- who may see which rows is the row policies' business (sql/92_access_rules.sql): this view
-- belongs to hstvo_reader, whose reads they govern
 WHERE p.calibrationlevel BETWEEN 0 AND 4;

COMMENT ON VIEW ivoa.obscore IS 'ObsCore 1.1: one row per CAOM plane (data product)';
