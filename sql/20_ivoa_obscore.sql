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

-- ObsCore is served from a table, hstvo.obscore_rows: one row per plane, computed by
-- hstvo.obscore_source (the joins, the artifacts' sizes and previews, the encoded DataLink ID),
-- and kept current by the database on every write: caom2.rollup, which every write to an
-- observation, plane, artifact, part or chunk ends in (sql/14_caom2_lifecycle.sql), calls
-- hstvo.refresh_obscore for the observations it touched, in the same transaction. So a write
-- is in ObsCore for the next query, and a query reads plain rows: COUNT(*), GROUP BY and a
-- full-width stream cost what they cost on a table. ivoa.obscore is a view over it that adds
-- the access URL (the service's URL may change; the rows need not).

-- (the observation's access rules, which a plane carries: sql/92_access_rules.sql keeps them)
ALTER TABLE caom2.plane ADD COLUMN IF NOT EXISTS obs_metarelease timestamp,
                        ADD COLUMN IF NOT EXISTS obs_metareadgroups text;

CREATE OR REPLACE VIEW hstvo.obscore_source AS
SELECT
    -- what the row policy reads (sql/92_access_rules.sql), first: PostgreSQL takes a row apart
    -- up to the last column a condition names, so that a policy over these costs the same
    -- whatever the row holds after them. public_from is from when everyone may see the row
    -- (its plane's and its observation's metaRelease), the whole test for a public row.
    greatest(coalesce(p.metarelease, '-infinity'::timestamp),
             coalesce(p.obs_metarelease, '-infinity'::timestamp)) AS public_from,
    p.metarelease                                           AS metarelease,
    p.metareadgroups                                        AS metareadgroups,
    p.obs_metarelease                                       AS obs_metarelease,
    p.obs_metareadgroups                                    AS obs_metareadgroups,
    -- then the short columns that queries count and group by (the same reason)
    p.calibrationlevel                                      AS calib_level,
    ivoa.obscore_dataproduct_type(p.dataproducttype)        AS dataproduct_type,
    o.collection                                            AS obs_collection,
    o.telescope_name                                        AS facility_name,
    o.instrument_name                                       AS instrument_name,
    o.observationid                                         AS obs_id,
    p.publisherid                                           AS obs_publisher_did,
    hstvo.url_encode(p.publisherid)                         AS datalink_id,
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
    -- optional ObsCore columns
    p.position_dimension_naxis1                             AS s_xel1,
    p.position_dimension_naxis2                             AS s_xel2,
    p.time_dimension                                        AS t_xel,
    p.energy_dimension                                      AS em_xel,
    p.polarization_dimension                                AS pol_xel,
    p.position_samplesize                                   AS s_pixel_scale,
    CASE WHEN p.energy_bounds_lower IS NOT NULL THEN 'em.wl' END AS em_ucd,
    -- the preview's path on this service (ivoa.obscore puts the service's URL before it): the
    -- plane's own preview file, else the quick look made from its science file (/preview)
    coalesce((SELECT '/files/HST/' || regexp_replace(min(a.uri), '^.*[/:]', '')
                FROM caom2.artifact a
               WHERE a.planeid = p.planeid AND a.producttype IN ('preview', 'thumbnail')
              HAVING count(*) > 0),
             (SELECT '/preview/' || regexp_replace(min(a.uri), '^.*[/:]', '')
                FROM caom2.artifact a
               WHERE a.planeid = p.planeid AND a.producttype = 'science'
              HAVING count(*) > 0)) AS preview,
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
    p.datareadgroups                                        AS datareadgroups,
    p.obsid                                                 AS obsid
  FROM caom2.observation o
  JOIN caom2.plane p ON p.obsid = o.obsid
 WHERE p.calibrationlevel BETWEEN 0 AND 4;


-- (made once from the source's columns: a change to those needs a migration that makes the
-- table again and fills it, hstvo.refresh_obscore_all)
CREATE TABLE IF NOT EXISTS hstvo.obscore_rows AS SELECT * FROM hstvo.obscore_source WITH NO DATA;
COMMENT ON TABLE hstvo.obscore_rows IS 'the rows of ivoa.ObsCore, kept current by hstvo.refresh_obscore';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'obscore_rows_pkey') THEN
        ALTER TABLE hstvo.obscore_rows ADD CONSTRAINT obscore_rows_pkey PRIMARY KEY (planeid);
    END IF;
END $$;
-- each row written out ahead as TABLEDATA, CSV and BINARY2, in two parts around access_url
-- (sql/64_obscore_written_rows.sql writes them). A row is then some 2 kB, which PostgreSQL
-- would compress (TOAST, from 2 kB): it stays whole up to 4 kB, as reading it back
-- uncompressed is what a full-width stream is paced by
ALTER TABLE hstvo.obscore_rows SET (toast_tuple_target = 4080);
ALTER TABLE hstvo.obscore_rows
    ADD COLUMN IF NOT EXISTS tabledata_head text,
    ADD COLUMN IF NOT EXISTS tabledata_tail text,
    ADD COLUMN IF NOT EXISTS csv_head text,
    ADD COLUMN IF NOT EXISTS csv_tail text,
    ADD COLUMN IF NOT EXISTS binary2_head bytea,
    ADD COLUMN IF NOT EXISTS binary2_tail bytea,
    -- the cells after preview (whose URL, like access_url's, is written when the row is read)
    ADD COLUMN IF NOT EXISTS tabledata_rest text,
    ADD COLUMN IF NOT EXISTS csv_rest text,
    ADD COLUMN IF NOT EXISTS binary2_rest bytea;
COMMENT ON COLUMN hstvo.obscore_rows.tabledata_head IS 'the row''s TABLEDATA, <TR> to the cell before access_url';
COMMENT ON COLUMN hstvo.obscore_rows.tabledata_tail IS 'the row''s TABLEDATA, the cells after access_url and before preview';
COMMENT ON COLUMN hstvo.obscore_rows.tabledata_rest IS 'the row''s TABLEDATA, the cells after preview to </TR>';
COMMENT ON COLUMN hstvo.obscore_rows.csv_rest IS 'the row''s CSV line after preview (from its comma to CRLF)';
COMMENT ON COLUMN hstvo.obscore_rows.binary2_rest IS 'the row''s BINARY2 record: values after preview';
COMMENT ON COLUMN hstvo.obscore_rows.preview IS 'the path of the preview on this service (ivoa.obscore.preview is the URL)';
COMMENT ON COLUMN hstvo.obscore_rows.csv_head IS 'the row''s CSV line up to access_url (with its comma)';
COMMENT ON COLUMN hstvo.obscore_rows.csv_tail IS 'the row''s CSV line after access_url, to the comma before preview';
COMMENT ON COLUMN hstvo.obscore_rows.binary2_head IS 'the row''s BINARY2 record: NULL mask and values before access_url';
COMMENT ON COLUMN hstvo.obscore_rows.binary2_tail IS 'the row''s BINARY2 record: values after access_url and before preview';

-- A name as it is compared in any case: lower(name). A function of its own, so that it can be
-- LEAKPROOF (below; lower() is not): under the row policies of sql/92_access_rules.sql, a
-- caller's condition on a function that is not waits until after the policy, row by row, and
-- no index serves it (a target name that matched nothing read all 2.9 million rows of the
-- million-observation archive). PL/pgSQL: a SQL function would be inlined as lower() again.
CREATE OR REPLACE FUNCTION hstvo.name_key(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ BEGIN RETURN lower(name); END $$;
COMMENT ON FUNCTION hstvo.name_key(text) IS 'a name as compared in any case (lower; LEAKPROOF, indexed on ObsCore''s target_name and obs_id)';
DO $$
BEGIN
    ALTER FUNCTION hstvo.name_key(text) LEAKPROOF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'hstvo.name_key is not marked LEAKPROOF (needs a superuser): name searches under access rules will not use their indexes';
END $$;

-- what ObsCore queries select on (the same as the caom2 tables' indexes)
CREATE INDEX IF NOT EXISTS obscore_rows_obsid_idx ON hstvo.obscore_rows (obsid);
CREATE INDEX IF NOT EXISTS obscore_rows_center_idx ON hstvo.obscore_rows USING gist (position_bounds_center);
CREATE INDEX IF NOT EXISTS obscore_rows_region_idx ON hstvo.obscore_rows USING gist (s_region);
CREATE INDEX IF NOT EXISTS obscore_rows_obs_id_idx ON hstvo.obscore_rows (obs_id);
CREATE INDEX IF NOT EXISTS obscore_rows_did_idx ON hstvo.obscore_rows (obs_publisher_did);
CREATE INDEX IF NOT EXISTS obscore_rows_t_min_idx ON hstvo.obscore_rows (t_min);
CREATE INDEX IF NOT EXISTS obscore_rows_em_min_idx ON hstvo.obscore_rows (em_min);
-- COUNT(*) and GROUP BY instrument_name read these alone (index-only scans: the row policy's
-- columns are in them too)
CREATE INDEX IF NOT EXISTS obscore_rows_rules_idx ON hstvo.obscore_rows (public_from)
    INCLUDE (metarelease, metareadgroups, obs_metarelease, obs_metareadgroups);
-- (and with obs_id after instrument_name, the portal's default order: a page of one
-- instrument's rows is read from it in order, sql/89_portal_search.sql)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass('hstvo.obscore_rows_instrument_idx')
                                          AND i.indnkeyatts = 1) THEN
        DROP INDEX hstvo.obscore_rows_instrument_idx;  -- (until 0033: instrument_name alone)
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS obscore_rows_instrument_idx ON hstvo.obscore_rows (instrument_name, obs_id)
    INCLUDE (public_from, metarelease, metareadgroups, obs_metarelease, obs_metareadgroups);
CREATE INDEX IF NOT EXISTS obscore_rows_target_idx ON hstvo.obscore_rows (target_name);
-- names in any case and by their beginning, as the portal and its suggestions ask for them:
-- ranges of hstvo.name_key(name) (text_pattern_ops: byte order, since the database's collation
-- is not C; portal.condition, sql/89_portal_search.sql)
CREATE INDEX IF NOT EXISTS obscore_rows_target_key_idx
    ON hstvo.obscore_rows (hstvo.name_key(target_name) text_pattern_ops);
CREATE INDEX IF NOT EXISTS obscore_rows_obs_id_key_idx
    ON hstvo.obscore_rows (hstvo.name_key(obs_id) text_pattern_ops);

-- the ObsCore rows of these observations, computed again: their planes' rows replaced, the
-- rows of deleted observations or planes removed (each row with its serialisations:
-- hstvo.write_obscore_rows, sql/64_obscore_written_rows.sql)
CREATE OR REPLACE FUNCTION hstvo.refresh_obscore(obsids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- (a harvest copies the rows the source computed for the same trees: sql/85_harvest.sql)
    IF cardinality(obsids) = 0 OR caom2.flag('obscore_copied') THEN RETURN; END IF;
    PERFORM hstvo.write_obscore_rows(obsids);
END $$;
COMMENT ON FUNCTION hstvo.refresh_obscore(uuid[]) IS 'ObsCore rows of these observations computed again (called by caom2.rollup)';

-- every row computed again: for a database loaded with the triggers off (bench/, a DBA's bulk
-- load), or a first load
CREATE OR REPLACE FUNCTION hstvo.refresh_obscore_all() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint := hstvo.write_obscore_rows(NULL);
BEGIN
    ANALYZE hstvo.obscore_rows;
    RETURN written;
END $$;

-- filled once, when the table is made (later, the writes keep it; the rows' serialisations
-- are added by sql/64_obscore_written_rows.sql, loaded after the functions it writes them with)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM hstvo.obscore_rows)
       AND EXISTS (SELECT 1 FROM caom2.plane) THEN
        INSERT INTO hstvo.obscore_rows SELECT * FROM hstvo.obscore_source;
    END IF;
END $$;

-- The start of every access URL (this service's DataLink endpoint), written out as a cell of
-- each format begins: escaped for XML; opened, and closed, with a quote when CSV needs one
-- (it would for a comma in the URL: the DataLink ID after it holds none); BINARY2's UTF-8.
-- (plpgsql: the writers of sql/63_votable.sql are loaded after this file)
CREATE OR REPLACE FUNCTION hstvo.datalink_base_written(OUT tabledata text, OUT csv_opening text,
                                                       OUT csv_closing text, OUT binary2 bytea)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    base text := hstvo.setting('service_url') || '/datalink?ID=';
    quoted boolean := votable.delimited_text(base, ',') <> base;
BEGIN
    tabledata := votable.xml_text(base);
    csv_opening := CASE WHEN quoted THEN '"' || replace(base, '"', '""') ELSE base END;
    csv_closing := CASE WHEN quoted THEN '"' ELSE '' END;
    binary2 := convert_to(base, 'UTF8');
END $$;

-- ObsCore 1.1, as TAP serves it: the rows, and the access URL of each (the DataLink service of
-- wherever this service answers now: hstvo.setting service_url, read once per query)
CREATE OR REPLACE VIEW ivoa.obscore AS
SELECT
    r.dataproduct_type, r.calib_level, r.obs_collection, r.obs_id, r.obs_publisher_did,
    (SELECT hstvo.setting('service_url')) || '/datalink?ID=' || r.datalink_id AS access_url,
    r.access_format, r.access_estsize, r.target_name, r.s_ra, r.s_dec, r.s_fov, r.s_region,
    r.s_resolution, r.t_min, r.t_max, r.t_exptime, r.t_resolution, r.em_min, r.em_max,
    r.em_res_power, r.o_ucd, r.pol_states, r.facility_name, r.instrument_name,
    r.s_xel1, r.s_xel2, r.t_xel, r.em_xel, r.pol_xel, r.s_pixel_scale, r.em_ucd,
    (SELECT hstvo.setting('service_url')) || r.preview AS preview,
    r.proposal_id, r.target_class, r.obs_release_date, r.obs_creator_did, r.obs_title,
    r.lastmodified,
    -- hidden from TAP_SCHEMA: what access control and the ADQL translator use
    r.planeid, r.position_bounds_center, r.position_bounds_area, r.metarelease,
    r.metareadgroups, r.datareadgroups,
    -- the whole row written out, as TABLEDATA, CSV and BINARY2: the stored text around
    -- access_url and preview, and their cells (the DataLink base written out once per query,
    -- then the row's DataLink ID, which percent-encoding leaves with nothing to escape or
    -- quote; the preview's path after the service's URL, escaped and quoted as
    -- sql/63_votable.sql would, in builtins: this file is loaded before it;
    -- sql/64_obscore_written_rows.sql writes the rest)
    r.tabledata_head || '<TD>'
        || CASE WHEN r.datalink_id IS NOT NULL
                THEN (SELECT u.tabledata FROM hstvo.datalink_base_written() u) || r.datalink_id
                ELSE '' END
        || '</TD>' || r.tabledata_tail
        || '<TD>' || coalesce(replace(replace(replace((SELECT hstvo.setting('service_url')) || r.preview,
                                                      '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '')
        || '</TD>' || r.tabledata_rest AS tabledata_row,
    r.csv_head
        || CASE WHEN r.datalink_id IS NOT NULL
                THEN (SELECT u.csv_opening FROM hstvo.datalink_base_written() u) || r.datalink_id
                     || (SELECT u.csv_closing FROM hstvo.datalink_base_written() u)
                ELSE '' END
        || r.csv_tail
        || coalesce(CASE WHEN (SELECT hstvo.setting('service_url')) || r.preview ~ '[,"\r\n]'
                         THEN '"' || replace((SELECT hstvo.setting('service_url')) || r.preview, '"', '""') || '"'
                         ELSE (SELECT hstvo.setting('service_url')) || r.preview END, '')
        || r.csv_rest AS csv_row,
    r.binary2_head
        || int4send(coalesce((SELECT octet_length(u.binary2) FROM hstvo.datalink_base_written() u)
                             + octet_length(r.datalink_id), 0))
        || CASE WHEN r.datalink_id IS NOT NULL
                THEN (SELECT u.binary2 FROM hstvo.datalink_base_written() u) || textsend(r.datalink_id)
                ELSE ''::bytea END
        || r.binary2_tail
        || int4send(coalesce(octet_length(convert_to((SELECT hstvo.setting('service_url')) || r.preview, 'UTF8')), 0))
        || coalesce(convert_to((SELECT hstvo.setting('service_url')) || r.preview, 'UTF8'), ''::bytea)
        || r.binary2_rest AS binary2_row
  FROM hstvo.obscore_rows r;
-- who may see which rows is the row policies' business (sql/92_access_rules.sql, on
-- hstvo.obscore_rows): this view belongs to hstvo_reader, whose reads they govern

COMMENT ON VIEW ivoa.obscore IS 'ObsCore 1.1: one row per CAOM plane (data product)';
