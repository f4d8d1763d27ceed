-- DataLink 1.1 links of CAOM planes: one SQL function that the /datalink endpoint serves
-- (pyserver/datalink.py) and that ObsCore's access_url points at (hstvo.datalink_url), so the
-- two can never disagree.
--
-- For a plane, named by its CAOM URI (caom:HST/j8bt06nyq/j8bt06nyq_flt) or its ObsCore
-- obs_publisher_did, the links are, in this order:
--   one row per artifact       #this for the science artifact, #auxiliary, #preview, ... from
--                              the artifact's product type; served under /files/HST/
--   #progenitor                the planes it was made from (provenance inputs, or the members
--                              of a composite observation): their DataLink
--   #calibration               the reference files it was calibrated with (its header's
--                              BIASFILE, DARKFILE, ...): this archive's copy when it holds one,
--                              else STScI CRDS's
--   #cutout                    the SODA service descriptor, for planes with a sky footprint
-- An unknown ID gets one row with error_message (NotFoundFault), never an HTTP error.

-- the plane an ID names (NULL when none, or when it is hidden from the caller: the row
-- policies of sql/92_access_rules.sql, under which the service reads)
CREATE OR REPLACE FUNCTION hstvo.datalink_plane(id text) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT p.planeid FROM caom2.plane p WHERE (p.planeuri = id OR p.publisherid = id) LIMIT 1 $$;

-- the last segment of an artifact URI: the archive file name (mast:HST/product/x_flt.fits)
CREATE OR REPLACE FUNCTION hstvo.artifact_file_name(uri text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT regexp_replace(uri, '^.*[/:]', '') $$;

-- DataLink core semantics of a CAOM artifact product type
CREATE OR REPLACE FUNCTION hstvo.datalink_semantics(product_type text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE product_type
        WHEN 'science' THEN '#this'
        WHEN 'preview' THEN '#preview'
        WHEN 'thumbnail' THEN '#thumbnail'
        WHEN 'calibration' THEN '#calibration'
        WHEN 'bias' THEN '#bias'
        WHEN 'dark' THEN '#dark'
        WHEN 'flat' THEN '#flat'
        WHEN 'weight' THEN '#weight'
        WHEN 'noise' THEN '#noise'
        WHEN 'info' THEN '#documentation'
        ELSE '#auxiliary' END $$;

-- the DataLink content_qualifier (product-type vocabulary) of a CAOM dataProductType
CREATE OR REPLACE FUNCTION hstvo.datalink_qualifier(data_product_type text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE ivoa.obscore_dataproduct_type(data_product_type)
        WHEN 'image' THEN '#image' WHEN 'cube' THEN '#cube' WHEN 'spectrum' THEN '#spectrum'
        WHEN 'timeseries' THEN '#timeseries' WHEN 'event' THEN '#event'
        WHEN 'visibility' THEN '#visibility' WHEN 'measurements' THEN '#measurements' END $$;

-- hstvo.datalink_links: the links of each ID, the IDs in the order given and each ID's rows
-- together (DataLink 1.1 section 3.2)
CREATE OR REPLACE FUNCTION hstvo.datalink_links(ids text[])
RETURNS TABLE (id text, access_url text, service_def text, error_message text,
               description text, semantics text, content_type text, content_length bigint,
               content_qualifier text, local_semantics text, link_auth text,
               link_authorized boolean)
-- plpgsql for its plan cache, and the generic plan always: the query is planned once per
-- session, not on every request (planning cost 1.5 ms, running it 0.2 ms; PostgreSQL would
-- keep choosing custom plans, whose estimates for a one-element array look cheaper)
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
WITH asked AS (
    -- (hstvo.datalink_plane, written out: a called SQL function is planned on every call)
    SELECT i.id, i.n,
           (SELECT p.planeid FROM caom2.plane p
             WHERE (p.planeuri = i.id OR p.publisherid = i.id) LIMIT 1) AS planeid
      FROM unnest(ids) WITH ORDINALITY AS i(id, n)),
planes AS (
    SELECT a.id, a.n, p.*, o.typecode, o.obsid AS observation,
           hstvo.setting('service_url') AS base,
           -- data not yet public: the links need authorization, which the caller may have
           p.datarelease IS NOT NULL AND p.datarelease > caom2.now_utc() AS proprietary,
           auth.data_readable(p.datarelease, p.datareadgroups, auth.caller_groups(),
                              auth.caller_is_writer()) AS readable
      FROM asked a JOIN caom2.plane p ON p.planeid = a.planeid
      JOIN caom2.observation o ON o.obsid = p.obsid),
links AS (
    -- the plane's artifacts
    SELECT p.n, 1 AS kind, a.uri AS sort_key, p.id,
           p.base || '/files/HST/' || hstvo.artifact_file_name(a.uri) AS access_url,
           NULL::text AS service_def, NULL::text AS error_message,
           initcap(a.producttype) || ' file ' || hstvo.artifact_file_name(a.uri) AS description,
           hstvo.datalink_semantics(a.producttype) AS semantics, a.contenttype AS content_type,
           a.contentlength AS content_length,
           CASE WHEN a.producttype = 'science' THEN hstvo.datalink_qualifier(p.dataproducttype) END
               AS content_qualifier,
           a.producttype AS local_semantics,
           CASE WHEN p.proprietary THEN 'true' ELSE 'false' END AS link_auth,
           p.readable AS link_authorized
      FROM planes p JOIN caom2.artifact a ON a.planeid = p.planeid
    UNION ALL
    -- quick looks made from each science file on first request (pyserver/previews.py), for a
    -- plane that has no preview of its own; as closed as the file. The small one is #preview
    -- too, told apart by local_semantics 'thumbnail': validators offline (STILTS 3.4.7) check
    -- against the 2022 core vocabulary, which has no #thumbnail
    SELECT p.n, 1, a.uri || q.sort_suffix, p.id,
           p.base || q.path || hstvo.artifact_file_name(a.uri), NULL, NULL,
           q.title || hstvo.artifact_file_name(a.uri), q.semantics, 'image/png', NULL, NULL,
           q.local_semantics, CASE WHEN p.proprietary THEN 'true' ELSE 'false' END, p.readable
      FROM planes p JOIN caom2.artifact a ON a.planeid = p.planeid AND a.producttype = 'science'
      CROSS JOIN (VALUES ('/preview/', '#preview', 'Quick look (PNG, 512 px) of ', 'preview', ' preview'),
                         ('/thumbnail/', '#preview', 'Thumbnail (PNG, 128 px) of ', 'thumbnail', ' thumbnail'))
           AS q(path, semantics, title, local_semantics, sort_suffix)
     WHERE NOT EXISTS (SELECT 1 FROM caom2.artifact o
                        WHERE o.planeid = p.planeid AND o.producttype IN ('preview', 'thumbnail'))
    UNION ALL
    -- progenitors: provenance inputs, or for a composite the members' planes
    SELECT p.n, 2, src.uri, p.id, hstvo.datalink_url(coalesce(q.publisherid, src.uri)), NULL, NULL,
           'Progenitor ' || src.uri, '#progenitor', 'application/x-votable+xml;content=datalink',
           NULL, NULL, 'progenitor', 'false', true
      FROM planes p
      CROSS JOIN LATERAL (
          SELECT i.inputid AS uri FROM caom2.provenanceinput i WHERE i.outputid = p.planeid
          UNION
          SELECT mp.planeuri FROM caom2.observationmember m
            JOIN caom2.observation mo ON mo.observationuri = m.memberid
            JOIN caom2.plane mp ON mp.obsid = mo.obsid
           WHERE m.parentid = p.observation
             AND NOT EXISTS (SELECT 1 FROM caom2.provenanceinput i WHERE i.outputid = p.planeid)
      ) AS src
      LEFT JOIN caom2.plane q ON q.planeuri = src.uri
    UNION ALL
    -- derived products: the planes of the composites (a HAP single-visit mosaic, an
    -- association) whose members include this plane's observation
    SELECT p.n, 2, dp.planeuri, p.id, hstvo.datalink_url(coalesce(dp.publisherid, dp.planeuri)),
           NULL, NULL, 'Derived product ' || dp.planeuri, '#derivation',
           'application/x-votable+xml;content=datalink', NULL, NULL, 'derivation', 'false', true
      FROM planes p
      JOIN caom2.observation mo ON mo.obsid = p.observation
      JOIN caom2.observationmember m ON m.memberid = mo.observationuri
      JOIN caom2.plane dp ON dp.obsid = m.parentid
    UNION ALL
    -- the reference files it was calibrated with
    SELECT p.n, 3, r.keyword, p.id,
           coalesce(CASE WHEN f.path IS NOT NULL THEN p.base || '/files/reference/' || r.file_name END,
                    'https://hst-crds.stsci.edu/unchecked_get/references/hst/' || r.file_name),
           NULL, NULL, r.keyword || ' = ' || r.value, '#calibration', 'application/fits', NULL,
           NULL, lower(r.keyword), 'false', true
      FROM planes p JOIN hst.plane_reference_file r ON r.planeid = p.planeid
      LEFT JOIN hst.reference_file f ON f.file_name = r.file_name
     WHERE r.file_name IS NOT NULL
    UNION ALL
    -- cutouts (SODA) of what has a footprint
    SELECT p.n, 4, '', p.id, NULL, 'soda', NULL,
           'SODA cutout of ' || p.productid || ' (POS, CIRCLE, POLYGON)', '#cutout',
           'application/fits', NULL, NULL, 'cutout',
           CASE WHEN p.proprietary THEN 'true' ELSE 'false' END, p.readable
      FROM planes p WHERE p.position_bounds_spoly IS NOT NULL
    UNION ALL
    -- an ID that names nothing
    SELECT a.n, 0, '', a.id, NULL, NULL,
           'NotFoundFault: no data product with ID ' || a.id, NULL, '#this', NULL, NULL, NULL,
           NULL, NULL, NULL
      FROM asked a WHERE a.planeid IS NULL)
SELECT l.id, l.access_url, l.service_def, l.error_message, l.description, l.semantics,
       l.content_type, l.content_length, l.content_qualifier, l.local_semantics, l.link_auth,
       l.link_authorized
  FROM links l
 ORDER BY l.n, l.kind, l.sort_key;
END $$;
