-- HST FITS ingest: staged headers in, CAOM observations out.
--
-- Python (loaders/fits_ingest.py) reads the headers and the sky corners of each file and COPYs
-- one row per file into hst.ingest_staging. hst.ingest_batch() then decides everything else:
--
--   1. refuse what cannot be ingested, each file with its reason in hst.ingest_log: unreadable
--      files, a missing required keyword (hst.required_keyword), an unknown instrument or suffix;
--   2. register every accepted file in hst.archive_file, the archive's file registry (the latest
--      headers of every file, keyed by its archive name);
--   3. rebuild each touched observation from all of its registered files (hst.observation_build)
--      and store it with caom2.put_observation, which keeps lastModified wherever the metadata did
--      not change: ingesting the same file twice changes nothing;
--   4. record each plane's calibration: CAL_VER and the reference-file keywords (hst.plane_*).
--
-- Each observation is built and stored in its own subtransaction: a file that breaks its
-- observation is logged as refused and the observation keeps its previous state; the rest of the
-- batch goes on. Identifiers are deterministic (UUIDs from the MD5 of the URI), so a rebuild
-- reproduces the ids and checksums of what is stored.

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

-- the header a file is described by: its primary header, plus the exposure keywords that only
-- its science extensions carry (STIS and COS keep EXPSTART/EXPEND/EXPTIME there): the earliest
-- start, the latest end, the summed exposure time; and the reference-file selection keywords
-- that live in the first science extension (BINAXIS1/2, LTV1/2, CCDCHIP: CRDS reads them there
-- to choose WFC3's and ACS's biases and darks). The primary header's own values win.
CREATE OR REPLACE FUNCTION hst.effective_header(primary_header jsonb, extensions jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce((SELECT (e->'keywords') - ARRAY['EXPSTART', 'EXPEND', 'EXPTIME']
                   FROM jsonb_array_elements(coalesce(extensions, '[]')) AS e
                  WHERE e ? 'keywords' ORDER BY (e->>'index')::int LIMIT 1), '{}')
    || coalesce((SELECT jsonb_strip_nulls(jsonb_build_object(
                            'EXPSTART', min((e->'keywords'->>'EXPSTART')::float8),
                            'EXPEND', max((e->'keywords'->>'EXPEND')::float8),
                            'EXPTIME', sum((e->'keywords'->>'EXPTIME')::float8)))
                   FROM jsonb_array_elements(coalesce(extensions, '[]')) AS e
                  WHERE e ? 'keywords'), '{}')
       || primary_header
$$;

-- one row per file handed over by the reader; emptied by hst.ingest_batch (UNLOGGED: it is a
-- transit area, and a crash only loses a batch that the CLI will report as not ingested)
CREATE UNLOGGED TABLE IF NOT EXISTS hst.ingest_staging (
    batch           uuid NOT NULL,
    seq             integer NOT NULL,
    path            text NOT NULL,      -- where the reader found it
    file_name       text NOT NULL,      -- its name there
    size            bigint,
    checksum        text,               -- 'md5:<hex>' of the whole file
    primary_header  jsonb,              -- keyword -> value, COMMENT/HISTORY dropped
    extensions      jsonb,              -- [{index, name, ver, shape, corners, wcs, rows}]
    read_error      text,               -- set when the reader could not read the file
    notes           text[],             -- non-fatal problems the reader met
    -- what the file is described by (computed once, at COPY: the classification reads it often)
    header          jsonb GENERATED ALWAYS AS (hst.effective_header(primary_header, extensions)) STORED,
    PRIMARY KEY (batch, seq)
);
COMMENT ON TABLE hst.ingest_staging IS 'files read by hstvo ingest, waiting for hst.ingest_batch';
-- Headers are some 20 kB of JSON a file, written to staging, to the file registry and to each
-- plane's calibration record: LZ4 compresses them several times faster than PostgreSQL's own
-- pglz, for about the same size (a server built without LZ4 keeps pglz).
DO $$
BEGIN
    ALTER TABLE hst.ingest_staging ALTER COLUMN primary_header SET COMPRESSION lz4,
                                   ALTER COLUMN extensions SET COMPRESSION lz4,
                                   ALTER COLUMN header SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no LZ4: headers are compressed with pglz';
END $$;
-- the file on disk as the reader found it: '<bytes>:<modification time, ns>'
ALTER TABLE hst.ingest_staging ADD COLUMN IF NOT EXISTS disk_stamp text;

CREATE TABLE IF NOT EXISTS hst.ingest_log (
    id               bigserial PRIMARY KEY,
    batch            uuid NOT NULL,
    logged_at        timestamptz NOT NULL DEFAULT now(),
    path             text NOT NULL,
    file_name        text,              -- the archive name, when it could be decided
    status           text NOT NULL CHECK (status IN ('ingested', 'unchanged', 'refused')),
    observation_uri  text,
    product_id       text,
    message          text
);
CREATE INDEX IF NOT EXISTS ingest_log_batch_idx ON hst.ingest_log (batch);
CREATE INDEX IF NOT EXISTS ingest_log_refused_idx ON hst.ingest_log (logged_at) WHERE status = 'refused';
COMMENT ON TABLE hst.ingest_log IS 'what became of every file handed to hst.ingest_batch, with the reason of each refusal';

-- keywords without which a file cannot be placed in CAOM
-- (science_only: required of files that map a footprint; association tables, support and
-- trailer files describe no exposure of their own)
CREATE TABLE IF NOT EXISTS hst.required_keyword (
    keyword       text PRIMARY KEY,
    reason        text NOT NULL,
    science_only  boolean NOT NULL DEFAULT false
);
INSERT INTO hst.required_keyword (keyword, reason, science_only) VALUES
    ('INSTRUME', 'selects the file-class rules and the filter table', false),
    ('ROOTNAME', 'names the observation and its planes', false),
    ('EXPSTART', 'the start of the exposure: time bounds and release dates', true),
    ('PROPOSID', 'the proposal, and with it the proprietary group', false)
ON CONFLICT DO NOTHING;

-- per instrument: its calibration pipeline and the data product type when OBSTYPE is absent
CREATE TABLE IF NOT EXISTS hst.instrument_pipeline (
    instrument            text PRIMARY KEY REFERENCES hst.instrument,
    calibration_program   text NOT NULL,
    default_product_type  text NOT NULL
);
INSERT INTO hst.instrument_pipeline VALUES
    ('ACS', 'CALACS', 'image'), ('WFC3', 'CALWF3', 'image'), ('STIS', 'CALSTIS', 'spectrum'),
    ('COS', 'CALCOS', 'spectrum'), ('NICMOS', 'CALNICA', 'image'), ('WFPC2', 'CALWP2', 'image'),
    ('FOC', 'CALFOC', 'image'), ('FOS', 'CALFOS', 'spectrum'), ('HRS', 'CALHRS', 'spectrum')
ON CONFLICT DO NOTHING;

-- target names of internal calibration exposures (intent = calibration, no proprietary period)
CREATE TABLE IF NOT EXISTS hst.calibration_target (
    target_name  text PRIMARY KEY
);
INSERT INTO hst.calibration_target VALUES
    ('BIAS'), ('DARK'), ('FLAT'), ('INTFLAT'), ('KSPOTS'), ('TUNGSTEN'), ('DEUTERIUM'), ('WAVE'),
    ('WAVEHITM'), ('EARTH-CALIB'), ('DARK-EARTH'), ('VISFLAT'), ('UVFLAT'), ('CCDFLAT')
ON CONFLICT DO NOTHING;

INSERT INTO hstvo.setting (name, value, description, public) VALUES
    ('hst_proprietary_months', '12',
     'exclusive-access period of HST science data after EXPSTART (dataRelease); calibration data have none',
     true)
ON CONFLICT (name) DO NOTHING;
UPDATE hstvo.setting SET public = true WHERE name = 'hst_proprietary_months' AND NOT public;

-- the archive's file registry: the latest headers of every ingested file
CREATE TABLE IF NOT EXISTS hst.archive_file (
    file_name       text PRIMARY KEY,   -- archive name, e.g. j8bt05njq_raw.fits
    observationid   text NOT NULL,
    product_id      text NOT NULL,
    instrument      text NOT NULL,
    suffix          text NOT NULL,
    level           integer NOT NULL,
    maps            boolean NOT NULL,
    product_type    text NOT NULL,
    size            bigint,
    checksum        text,
    primary_header  jsonb NOT NULL,
    extensions      jsonb NOT NULL,
    path            text,
    first_ingested  timestamptz NOT NULL DEFAULT now(),
    last_ingested   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS archive_file_observation_idx ON hst.archive_file (observationid);
-- the file on disk as last ingested ('<bytes>:<modification time, ns>'): a file found again
-- with the same stamp at the same path is not read again (hst.unchanged_files)
ALTER TABLE hst.archive_file ADD COLUMN IF NOT EXISTS disk_stamp text;
CREATE INDEX IF NOT EXISTS archive_file_path_idx ON hst.archive_file (path);
DO $$
BEGIN
    ALTER TABLE hst.archive_file ALTER COLUMN primary_header SET COMPRESSION lz4,
                                 ALTER COLUMN extensions SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- (see hst.ingest_staging above)
END $$;
COMMENT ON TABLE hst.archive_file IS 'every ingested HST file with its headers (primary_header: hst.effective_header, the primary plus extension-only exposure keywords): what CAOM observations are built from';

-- per plane: the calibration it had (the recalibration queue reads these)
CREATE TABLE IF NOT EXISTS hst.plane_calibration (
    planeid          uuid PRIMARY KEY REFERENCES caom2.plane ON DELETE CASCADE,
    file_name        text NOT NULL,     -- the file the values were read from
    instrument       text NOT NULL,
    detector         text,
    cal_ver          text,              -- calibration software version (CAL_VER)
    header           jsonb              -- its primary header (the best-reference selection values)
                                        -- when it is not file_name's in hst.archive_file
);
-- An ingest leaves header NULL: the header is file_name's, registered in hst.archive_file, and a
-- second copy of it per plane was a sixth of a million-observation archive (hst.dataset reads
-- either). Calibration records written by other means may keep their own.
ALTER TABLE hst.plane_calibration ALTER COLUMN header DROP NOT NULL;
DO $$
BEGIN
    ALTER TABLE hst.plane_calibration ALTER COLUMN header SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;  -- (see hst.ingest_staging above)
END $$;
CREATE TABLE IF NOT EXISTS hst.plane_reference_file (
    planeid    uuid NOT NULL REFERENCES caom2.plane ON DELETE CASCADE,
    keyword    text NOT NULL,           -- BIASFILE, IDCTAB, ...
    value      text NOT NULL,           -- as in the header: jref$p3v2228mj_bia.fits
    location   text NOT NULL,           -- the environment prefix: jref, iref, oref, mtab, ...
    file_name  text,                    -- p3v2228mj_bia.fits; NULL for N/A
    PRIMARY KEY (planeid, keyword)
);
CREATE INDEX IF NOT EXISTS plane_reference_file_name_idx ON hst.plane_reference_file (file_name);

-- ---------------------------------------------------------------------------------------------
-- Header helpers
-- ---------------------------------------------------------------------------------------------

-- a keyword's value as text, NULL when absent, blank or N/A
CREATE OR REPLACE FUNCTION hst.keyword(header jsonb, keyword text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT nullif(nullif(btrim(header->>keyword), ''), 'N/A') $$;

CREATE OR REPLACE FUNCTION hst.keyword_double(header jsonb, keyword text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$ BEGIN RETURN hst.keyword(header, keyword)::double precision;
   EXCEPTION WHEN invalid_text_representation THEN RETURN NULL; END $$;

-- to the millisecond: CAOM's dates are (Java's, and CAOM XML's), so an observation exported
-- and imported again is the one stored
CREATE OR REPLACE FUNCTION hst.mjd_timestamp(mjd double precision) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc('milliseconds', timestamp '1858-11-17' + make_interval(secs => mjd * 86400.0)) $$;

-- hst.uuid: the deterministic id of a CAOM entity, from its URI
CREATE OR REPLACE FUNCTION hst.uuid(uri text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT md5(uri)::uuid $$;

-- hst.archive_name: the name the archive knows a file by, from its header and its name on disk.
--   FILENAME 'j8bt05njq_raw.fits'                         -> itself
--   FILENAME 'u5780205r_cvt.c0h' (GEIS converted)         -> u5780205r_c0f.fits (waivered FITS)
--   FILENAME 'hst_11665_06_wfc3_uvis_f555w_ib4606c6_flc.fits' (HAP SVM name) -> itself
--   no FILENAME: the name on disk when it is {rootname}_{suffix}.fits, else ROOTNAME + the
--   disk name's last _suffix
CREATE OR REPLACE FUNCTION hst.archive_name(header jsonb, disk_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    filename text := lower(hst.keyword(header, 'FILENAME'));
    rootname text := lower(hst.keyword(header, 'ROOTNAME'));
    disk text := lower(regexp_replace(disk_name, '^.*/', ''));
    stem text := regexp_replace(disk, '\.(fits|fit)(\.gz)?$', '');
BEGIN
    IF filename ~ '^[a-z0-9_]+\.fits$' THEN
        RETURN filename;
    ELSIF filename ~ '^[a-z0-9]+_cvt\.[a-z0-9]{2}h$' THEN
        RETURN split_part(filename, '_', 1) || '_' || substr(filename, length(filename) - 2, 2)
               || 'f.fits';
    ELSIF rootname IS NOT NULL AND stem ~ ('^' || rootname || '_[a-z0-9_]+$') THEN
        RETURN stem || '.fits';
    ELSIF rootname IS NOT NULL AND stem ~ '_[a-z0-9]+$'
          AND regexp_replace(stem, '^.*_', '') <> rootname THEN  -- 'cos_n8xtzcawq' names no suffix
        RETURN rootname || '_' || regexp_replace(stem, '^.*_', '') || '.fits';
    END IF;
    RETURN NULL;
END $$;

-- hst.hap_mosaic_name: the observation a HAP single-visit mosaic is, from its file's name
-- (hst_<proposal>_<visit>_<instrument>_<detector>_<filter>_<ipppss>_drc.fits, or _drz), or NULL
-- for any other file. The mosaic is a composite observation of that name (sql/55).
CREATE OR REPLACE FUNCTION hst.hap_mosaic_name(archive_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substring(lower(archive_name)
                     FROM '^(hst_[0-9]+_[0-9a-z]+_[a-z0-9]+_[a-z0-9]+_[a-z0-9.-]+_[a-z0-9]{6})_dr[cz]\.fits$') $$;

-- hst.classification_name: {rootname}_{suffix}.fits of an archive name, so that a HAP SVM name
-- (hst_..._ib4606c6_flc.fits) is classified as the exposure file it is (ib4606c6q_flc.fits),
-- and a HAP mosaic (hst_..._ib4606_drc.fits) as its instrument's drizzled product (hst_drc.fits)
CREATE OR REPLACE FUNCTION hst.classification_name(header jsonb, archive_name text) RETURNS text
LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN hst.hap_mosaic_name(archive_name) IS NOT NULL
               THEN 'hst_' || regexp_replace(archive_name, '^.*_([a-z0-9]+)\.fits$', '\1') || '.fits'
               WHEN archive_name LIKE 'hst\_%'
               THEN lower(hst.keyword(header, 'ROOTNAME')) || '_'
                    || regexp_replace(archive_name, '^.*_([a-z0-9]+)\.fits$', '\1') || '.fits'
               ELSE archive_name END $$;

-- the filter (or grating) of an exposure, as CAOM's bandpassName, and the mode (cenwave)
CREATE OR REPLACE FUNCTION hst.bandpass(instrument text, header jsonb,
                                        OUT name text, OUT mode text)
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE
         WHEN instrument = 'ACS' THEN
             (SELECT string_agg(f, ';' ORDER BY n) FROM unnest(ARRAY[hst.keyword(header, 'FILTER1'),
                     hst.keyword(header, 'FILTER2')]) WITH ORDINALITY AS t(f, n)
               WHERE upper(f) NOT LIKE 'CLEAR%')
         WHEN instrument = 'WFPC2' THEN
             (SELECT string_agg(f, ';' ORDER BY n) FROM unnest(ARRAY[hst.keyword(header, 'FILTNAM1'),
                     hst.keyword(header, 'FILTNAM2')]) WITH ORDINALITY AS t(f, n))
         WHEN instrument IN ('STIS', 'COS') THEN hst.keyword(header, 'OPT_ELEM')
         WHEN instrument = 'HRS' THEN hst.keyword(header, 'GRATING')
         WHEN instrument = 'FOS' THEN hst.keyword(header, 'FGWA_ID')
         ELSE coalesce(hst.keyword(header, 'FILTER'), hst.keyword(header, 'FILTER1'))
       END,
       CASE WHEN hst.keyword(header, 'CENWAVE') IS NOT NULL
            THEN 'C' || hst.keyword(header, 'CENWAVE') END
$$;

-- the energy bounds of a bandpass: the first of its filters the filter table knows
CREATE OR REPLACE FUNCTION hst.bandpass_bounds(instrument text, detector text, bandpass text,
                                               mode text,
                                               OUT lower_m double precision, OUT upper_m double precision)
LANGUAGE sql STABLE AS $$
SELECT b.lower_m, b.upper_m
  FROM unnest(string_to_array(bandpass, ';')) WITH ORDINALITY AS f(filter, n),
       LATERAL hst.filter_bounds(instrument, detector, f.filter, mode) AS b
 ORDER BY f.n LIMIT 1
$$;

-- 'ACS/WFC', 'NICMOS/NIC3', 'WFPC2' (its DETECTOR is a chip number, not a channel)
CREATE OR REPLACE FUNCTION hst.instrument_name(instrument text, header jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT instrument || coalesce('/' || CASE
           WHEN instrument = 'NICMOS' THEN 'NIC' || hst.keyword(header, 'CAMERA')
           WHEN instrument IN ('WFPC2', 'HRS', 'FOC') THEN NULL
           ELSE hst.keyword(header, 'DETECTOR') END, '')
$$;

-- "Last, First" from PR_INV_L / PR_INV_F
CREATE OR REPLACE FUNCTION hst.principal_investigator(header jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE WHEN hst.keyword(header, 'PR_INV_L') IS NULL THEN NULL
            ELSE hst.keyword(header, 'PR_INV_L') || coalesce(', ' || hst.keyword(header, 'PR_INV_F'), '')
       END
$$;

-- keyword=value strings for instrument.keywords, '|'-joined (the storage form of a keyword set)
CREATE OR REPLACE FUNCTION hst.keyword_list(header jsonb, keywords text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
SELECT string_agg(k || '=' || hst.keyword(header, k), '|' ORDER BY k)
  FROM unnest(keywords) AS k WHERE hst.keyword(header, k) IS NOT NULL
$$;

-- the reference-file keywords of a header: values like jref$p3v2228mj_bia.fits
CREATE OR REPLACE FUNCTION hst.reference_files(header jsonb)
RETURNS TABLE (keyword text, value text, location text, file_name text)
LANGUAGE sql IMMUTABLE AS $$
SELECT e.key, btrim(e.value), split_part(btrim(e.value), '$', 1),
       nullif(nullif(lower(split_part(btrim(e.value), '$', 2)), 'n/a'), '')
  FROM jsonb_each_text(header) AS e(key, value)
 WHERE strpos(e.value, '$') > 0  -- (a cheap test first: of some 300 keywords, 20 are these)
   AND btrim(e.value) ~ '^[a-z][a-z0-9]*\$'
$$;


-- ---------------------------------------------------------------------------------------------
-- Classification of staged files
-- ---------------------------------------------------------------------------------------------

-- every staged file with what the rules say of it; problem is NULL for a file that can go in
CREATE OR REPLACE VIEW hst.staged_file AS
SELECT s.batch, s.seq, s.path, s.size, s.checksum, s.header AS primary_header, s.extensions,
       n.archive_name, c.instrument, c.suffix, c.level, c.maps, c.product_type,
       -- (a HAP mosaic is the composite observation its name says, whatever its ROOTNAME)
       coalesce(hst.hap_mosaic_name(n.archive_name), lower(hst.keyword(s.header, 'ROOTNAME')))
           AS observationid,
       CASE WHEN c.product_id IS NOT NULL
            THEN coalesce(hst.hap_mosaic_name(n.archive_name), lower(hst.keyword(s.header, 'ROOTNAME')))
                 || substr(c.product_id, strpos(c.product_id, '_')) END AS product_id,
       coalesce(s.read_error,
                (SELECT 'missing keyword ' || string_agg(r.keyword, ', ' ORDER BY r.keyword)
                        || ' (' || string_agg(r.reason, '; ' ORDER BY r.keyword) || ')'
                   FROM hst.required_keyword r
                  WHERE hst.keyword(s.header, r.keyword) IS NULL
                    AND (NOT r.science_only OR c.maps IS NOT FALSE)),
                CASE WHEN n.archive_name IS NULL
                     THEN 'cannot tell the file''s archive name from FILENAME, ROOTNAME or its name' END,
                c.problem) AS problem,
       s.notes, s.disk_stamp
  FROM hst.ingest_staging s
  LEFT JOIN LATERAL (SELECT hst.archive_name(s.header, s.file_name) AS archive_name) n
    ON s.read_error IS NULL
  LEFT JOIN LATERAL hst.classify(hst.keyword(s.header, 'INSTRUME'),
                                 hst.classification_name(s.header, n.archive_name)) c
    ON n.archive_name IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Building an observation from its registered files
-- ---------------------------------------------------------------------------------------------

-- the chunks of one part: a science extension with sky corners (and its linear WCS) has one
-- (made from the part's own extension: searching the file's extensions for it read a file of 7
-- extensions 49 times, and took almost half the time of making the file's artifact)
DROP FUNCTION IF EXISTS hst.file_chunks(text, jsonb, text);
CREATE OR REPLACE FUNCTION hst.extension_chunks(artifact_uri text, e jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE WHEN jsonb_array_length(coalesce(e->'corners', '[]')) >= 3
                 AND e->'wcs' ?& ARRAY['CRPIX1', 'CRPIX2', 'CRVAL1', 'CRVAL2', 'CD1_1', 'CD1_2',
                                       'CD2_1', 'CD2_2']
       THEN jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
           'chunkid', hst.uuid(artifact_uri || '#' || (e->>'index') || '/chunk'),
           'naxis', 2, 'positionaxis1', 1, 'positionaxis2', 2,
           'position_axis_axis1_ctype', 'RA---TAN', 'position_axis_axis1_cunit', 'deg',
           'position_axis_axis2_ctype', 'DEC--TAN', 'position_axis_axis2_cunit', 'deg',
           'position_axis_bounds', (SELECT jsonb_agg(v ORDER BY n, k)
                                      FROM jsonb_array_elements(e->'corners') WITH ORDINALITY AS c(pt, n),
                                           jsonb_array_elements(c.pt) WITH ORDINALITY AS x(v, k)),
           'position_axis_function_dimension_naxis1', e->'shape'->0,
           'position_axis_function_dimension_naxis2', e->'shape'->1,
           'position_axis_function_refcoord_coord1_pix', e->'wcs'->'CRPIX1',
           'position_axis_function_refcoord_coord1_val', e->'wcs'->'CRVAL1',
           'position_axis_function_refcoord_coord2_pix', e->'wcs'->'CRPIX2',
           'position_axis_function_refcoord_coord2_val', e->'wcs'->'CRVAL2',
           'position_axis_function_cd11', e->'wcs'->'CD1_1',
           'position_axis_function_cd12', e->'wcs'->'CD1_2',
           'position_axis_function_cd21', e->'wcs'->'CD2_1',
           'position_axis_function_cd22', e->'wcs'->'CD2_2',
           'position_coordsys', 'ICRS', 'position_equinox', 2000.0)))
       ELSE '[]'::jsonb END
$$;

-- the artifact of one registered file: one part per HDU, chunks where the sky is mapped
CREATE OR REPLACE FUNCTION hst.file_artifact(f hst.archive_file) RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT jsonb_build_object(
    'artifactid', hst.uuid(uri), 'uri', uri, 'producttype', f.product_type, 'releasetype', 'data',
    'contenttype', 'application/fits', 'contentlength', f.size, 'contentchecksum', f.checksum,
    'parts', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                  'partid', hst.uuid(uri || '#' || (e->>'index')), 'name', e->>'index',
                  'chunks', CASE WHEN f.maps THEN hst.extension_chunks(uri, e)
                                 ELSE '[]'::jsonb END) ORDER BY (e->>'index')::integer), '[]')
                FROM jsonb_array_elements(f.extensions) AS e))
  FROM (SELECT 'mast:HST/product/' || f.file_name AS uri) AS a
$$;

-- the footprint of a plane: the hull of its chunks' corners, and the chunk polygons as samples
-- (CAOM: points = hull, samples = the composed MultiPolygon, MOVE 2 / LINE 1 / CLOSE 0)
CREATE OR REPLACE FUNCTION hst.plane_position(artifacts jsonb,
                                              OUT bounds double precision[],
                                              OUT samples double precision[],
                                              OUT sample_size double precision)
LANGUAGE sql IMMUTABLE AS $$
WITH polygons AS (
    SELECT ARRAY(SELECT v::double precision FROM jsonb_array_elements_text(c->'position_axis_bounds') v)
               AS pts,
           c AS chunk, row_number() OVER () AS n
      FROM jsonb_array_elements(artifacts) AS a,
           jsonb_array_elements(a->'parts') AS p,
           jsonb_array_elements(p->'chunks') AS c
     WHERE a->>'producttype' = 'science' AND c ? 'position_axis_bounds'
)
SELECT caom2.hull((SELECT array_agg(x ORDER BY n, i) FROM polygons, unnest(pts) WITH ORDINALITY u(x, i))),
       (SELECT array_agg(v ORDER BY n, k, j)
          FROM polygons,
               LATERAL (SELECT k, ARRAY[pts[2 * k - 1], pts[2 * k],
                                         CASE WHEN k = 1 THEN 2 ELSE 1 END] AS vertex
                          FROM generate_series(1, cardinality(pts) / 2) AS k
                        UNION ALL
                        SELECT cardinality(pts) / 2 + 1, ARRAY[pts[1], pts[2], 0]) AS vx,
               unnest(vx.vertex) WITH ORDINALITY AS w(v, j)),
       (SELECT avg(sqrt(abs((chunk->>'position_axis_function_cd11')::float8
                            * (chunk->>'position_axis_function_cd22')::float8
                            - (chunk->>'position_axis_function_cd12')::float8
                            * (chunk->>'position_axis_function_cd21')::float8)) * 3600.0)
          FROM polygons)
$$;

-- hst.observations_build: the CAOM documents of these observations (a JSON array, in the order
-- asked; null for one without registered files), from all their registered files, keeping any
-- stored plane that no file produces (e.g. one that came in as CAOM XML). One statement for the
-- whole batch: an ingest builds hundreds of observations at once.
CREATE OR REPLACE FUNCTION hst.observations_build(obs_ids text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    months integer := coalesce(hstvo.setting('hst_proprietary_months')::integer, 12);
    built jsonb;
BEGIN
    WITH asked AS (
        SELECT o AS obs_id, n, 'caom:HST/' || o AS obs_uri
          FROM unnest(obs_ids) WITH ORDINALITY AS a(o, n)
    ), files AS (
        SELECT a.n, a.obs_id, a.obs_uri, f.*, hst.file_artifact(f) AS artifact
          FROM asked a JOIN hst.archive_file f ON f.observationid = a.obs_id
    ), lead AS (
        -- the observation's facts come from its lowest-level file (the exposure as taken)
        SELECT DISTINCT ON (f.n) f.n, f.obs_id, f.obs_uri, f.file_name, f.instrument,
               f.primary_header AS h
          FROM files f
         ORDER BY f.n, hst.keyword(f.primary_header, 'EXPSTART') IS NULL, f.level, f.maps DESC,
                  f.file_name
    ), asn_members AS (
        -- an association: its members are the exposures its ASN table lists as present
        SELECT f.n, string_agg(DISTINCT 'caom:HST/' || lower(btrim(r->>'MEMNAME')), ' ') AS members
          FROM files f, jsonb_array_elements(f.extensions) AS e, jsonb_array_elements(e->'rows') AS r
         WHERE f.suffix = 'ASN'
           AND upper(r->>'MEMTYPE') LIKE 'EXP-%' AND coalesce((r->>'MEMPRSNT')::boolean, true)
           AND lower(btrim(r->>'MEMNAME')) <> f.obs_id
         GROUP BY f.n
    ), members AS (
        -- a HAP single-visit mosaic: the visit's exposures of its detector and filter that the
        -- archive holds (the grouping rule of sql/55_hst_single_visit.sql), found among the
        -- visit's files (they share its ipppss); none yet: still a composite
        SELECT l.n, coalesce(a.members, CASE WHEN hst.hap_mosaic_name(l.file_name) IS NOT NULL THEN
                   coalesce((SELECT string_agg('caom:HST/' || e.rootname, ' ' ORDER BY e.rootname)
                               FROM (SELECT DISTINCT lower(f.observationid) AS rootname
                                       FROM hst.archive_file f
                                      WHERE f.observationid >= right(l.obs_id, 6)
                                        AND f.observationid < right(l.obs_id, 6) || '~'
                                        AND hst.svm_product_of(f) = l.obs_id) AS e), '') END)
               AS members
          FROM lead l LEFT JOIN asn_members a ON a.n = l.n
    ), observation AS (
        SELECT l.n, jsonb_strip_nulls(jsonb_build_object(
            'obsid', hst.uuid(l.obs_uri), 'collection', 'HST', 'observationid', l.obs_id,
            'typecode', CASE WHEN m.members IS NULL THEN 'S' ELSE 'C' END,
            'members', nullif(m.members, ''),
            'algorithm_name', CASE WHEN hst.hap_mosaic_name(l.file_name) IS NOT NULL
                                   THEN 'HAP single-visit mosaic'
                                   WHEN m.members IS NULL THEN 'exposure' ELSE 'association' END,
            'metarelease', hst.mjd_timestamp(hst.keyword_double(l.h, 'EXPSTART')),
            'type', hst.keyword(l.h, 'OBSTYPE'),
            'intent', CASE WHEN EXISTS (SELECT 1 FROM hst.calibration_target t
                                         WHERE t.target_name = upper(hst.keyword(l.h, 'TARGNAME')))
                           THEN 'calibration' ELSE 'science' END,
            'proposal_id', hst.keyword(l.h, 'PROPOSID'),
            'proposal_pi', hst.principal_investigator(l.h),
            'target_name', hst.keyword(l.h, 'TARGNAME'),
            'targetposition_coordsys', CASE WHEN hst.keyword_double(l.h, 'RA_TARG') IS NOT NULL THEN 'ICRS' END,
            'targetposition_equinox', CASE WHEN hst.keyword_double(l.h, 'RA_TARG') IS NOT NULL THEN 2000.0 END,
            'targetposition_coordinates_cval1', hst.keyword_double(l.h, 'RA_TARG'),
            'targetposition_coordinates_cval2', hst.keyword_double(l.h, 'DEC_TARG'),
            'telescope_name', 'HST',
            'instrument_name', hst.instrument_name(l.instrument, l.h),
            'instrument_keywords', hst.keyword_list(l.h, ARRAY['APERTURE', 'DETECTOR', 'OBSMODE']),
            'environment_photometric', 1)) AS doc
          FROM lead l JOIN members m ON m.n = l.n
    ), plane_files AS (
        -- one plane per product: its files, its lead file (a science file first)
        SELECT f.n, f.obs_uri, f.product_id, min(f.level) AS level,
               jsonb_agg(f.artifact ORDER BY f.file_name) AS artifacts,
               (array_agg(f.primary_header ORDER BY f.maps DESC, f.file_name))[1] AS header,
               (array_agg(f.instrument ORDER BY f.maps DESC, f.file_name))[1] AS instrument,
               min(hst.keyword_double(f.primary_header, 'EXPSTART')) AS t_start,
               max(hst.keyword_double(f.primary_header, 'EXPEND')) AS t_end
          FROM files f GROUP BY f.n, f.obs_uri, f.product_id
    ), banded AS (
        SELECT pf.*, bp.name AS bandpass, bp.mode AS bandpass_mode,
               hst.keyword(pf.header, 'DETECTOR') AS detector
          FROM plane_files pf CROSS JOIN LATERAL hst.bandpass(pf.instrument, pf.header) AS bp
    ), band_bounds AS (
        -- (looked up once per instrument, detector, filter and mode of the batch: a batch's
        -- hundreds of planes have a few dozen of them)
        SELECT k.*, eb.lower_m, eb.upper_m
          FROM (SELECT DISTINCT instrument, detector, bandpass, bandpass_mode FROM banded) AS k
         CROSS JOIN LATERAL hst.bandpass_bounds(k.instrument, k.detector, k.bandpass,
                                                k.bandpass_mode) AS eb
    ), described AS (
        SELECT b.*, eb.lower_m, eb.upper_m, pos.bounds, pos.samples,
               pos.sample_size, ip.calibration_program, ip.default_product_type,
               hst.mjd_timestamp(b.t_start) AS observed, o.doc->>'intent' AS intent
          FROM banded b
          JOIN observation o ON o.n = b.n
          LEFT JOIN hst.instrument_pipeline ip ON ip.instrument = b.instrument
          LEFT JOIN band_bounds eb
                 ON eb.instrument IS NOT DISTINCT FROM b.instrument
                AND eb.detector IS NOT DISTINCT FROM b.detector
                AND eb.bandpass IS NOT DISTINCT FROM b.bandpass
                AND eb.bandpass_mode IS NOT DISTINCT FROM b.bandpass_mode
          CROSS JOIN LATERAL hst.plane_position(b.artifacts) AS pos
    ), planes AS (
        SELECT d.n, jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                   'planeid', hst.uuid(d.obs_uri || '/' || d.product_id),
                   'productid', d.product_id,
                   'metarelease', d.observed,
                   'datarelease', CASE WHEN d.intent = 'calibration' THEN d.observed
                                       ELSE d.observed + make_interval(months => months) END,
                   'dataproducttype', coalesce(CASE upper(hst.keyword(d.header, 'OBSTYPE'))
                                                   WHEN 'IMAGING' THEN 'image'
                                                   WHEN 'SPECTROSCOPIC' THEN 'spectrum' END,
                                               d.default_product_type),
                   'calibrationlevel', d.level,
                   'provenance_name', d.calibration_program,
                   'provenance_version', hst.keyword(d.header, 'CAL_VER'),
                   'provenance_project', 'HST',
                   'provenance_producer', 'STScI',
                   'position_bounds', d.bounds,
                   'position_bounds_samples', CASE WHEN d.bounds IS NOT NULL THEN d.samples END,
                   'position_samplesize', d.sample_size,
                   'energy_bounds_lower', d.lower_m, 'energy_bounds_upper', d.upper_m,
                   'energy_bounds_samples', CASE WHEN d.lower_m IS NOT NULL
                                                 THEN ARRAY[d.lower_m, d.upper_m] END,
                   'energy_dimension', CASE WHEN d.lower_m IS NOT NULL THEN 1 END,
                   'energy_bandpassname', d.bandpass,
                   'energy_energybands', caom2.energy_bands(d.lower_m, d.upper_m),
                   'time_bounds_lower', d.t_start,
                   'time_bounds_upper', CASE WHEN d.t_start IS NOT NULL THEN coalesce(d.t_end, d.t_start) END,
                   'time_bounds_samples', CASE WHEN d.t_start IS NOT NULL
                                               THEN ARRAY[d.t_start, coalesce(d.t_end, d.t_start)] END,
                   'time_dimension', CASE WHEN d.t_start IS NOT NULL THEN 1 END,
                   'time_exposure', coalesce(hst.keyword_double(d.header, 'TEXPTIME'),
                                             hst.keyword_double(d.header, 'EXPTIME'))))
                   || jsonb_build_object('artifacts', d.artifacts)
                 ORDER BY d.level, d.product_id) AS planes
          FROM described d GROUP BY d.n
    ), with_other_planes AS MATERIALIZED (
        -- stored planes that no registered file produces stay as they are (the stored document
        -- is read only when there are such planes: it is the dearest part of a rebuild)
        SELECT a.* FROM asked a
         WHERE EXISTS (SELECT 1 FROM caom2.plane sp
                        WHERE sp.obsid = hst.uuid(a.obs_uri)
                          AND NOT EXISTS (SELECT 1 FROM hst.archive_file f
                                           WHERE f.observationid = a.obs_id AND f.product_id = sp.productid))
    ), kept AS (
        SELECT a.n, coalesce(jsonb_agg(p), '[]') AS planes
          FROM with_other_planes a
         CROSS JOIN LATERAL jsonb_array_elements(caom2.observation_document('HST', a.obs_id)->'planes') AS p
         WHERE NOT EXISTS (SELECT 1 FROM hst.archive_file f
                            WHERE f.observationid = a.obs_id AND f.product_id = p->>'productid')
         GROUP BY a.n
    )
    SELECT jsonb_agg(CASE WHEN o.n IS NULL THEN 'null'::jsonb
                          ELSE jsonb_build_object('observation', o.doc,
                                                  'planes', coalesce(p.planes, '[]') || coalesce(k.planes, '[]')) END
                     ORDER BY a.n)
      INTO built
      FROM asked a
      LEFT JOIN observation o ON o.n = a.n
      LEFT JOIN planes p ON p.n = a.n
      LEFT JOIN kept k ON k.n = a.n;
    RETURN coalesce(built, '[]');
END $$;
COMMENT ON FUNCTION hst.observations_build(text[]) IS
    'the CAOM documents of these observations from their registered files, in the order asked (one statement for a batch)';

-- hst.observation_build: the CAOM document of one observation (NULL without registered files)
CREATE OR REPLACE FUNCTION hst.observation_build(obs_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$ SELECT nullif(hst.observations_build(ARRAY[obs_id])->0, 'null') $$;

-- the calibration of each plane built from files: CAL_VER, header, reference-file keywords
CREATE OR REPLACE FUNCTION hst.record_calibrations(obs_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    obsids uuid[] := ARRAY(SELECT hst.uuid('caom:HST/' || o) FROM unnest(obs_ids) AS o);
BEGIN
    DELETE FROM hst.plane_calibration c USING caom2.plane p
     WHERE p.planeid = c.planeid AND p.obsid = ANY (obsids);
    DELETE FROM hst.plane_reference_file r USING caom2.plane p
     WHERE p.planeid = r.planeid AND p.obsid = ANY (obsids);
    WITH recorded AS (
        INSERT INTO hst.plane_calibration (planeid, file_name, instrument, detector, cal_ver)
        SELECT DISTINCT ON (f.observationid, f.product_id)
               hst.uuid('caom:HST/' || f.observationid || '/' || f.product_id),
               f.file_name, f.instrument, hst.keyword(f.primary_header, 'DETECTOR'),
               hst.keyword(f.primary_header, 'CAL_VER')
          FROM hst.archive_file f
         WHERE f.observationid = ANY (obs_ids)
         ORDER BY f.observationid, f.product_id, f.maps DESC, f.file_name
        RETURNING planeid, file_name)
    INSERT INTO hst.plane_reference_file (planeid, keyword, value, location, file_name)
    SELECT c.planeid, r.keyword, r.value, r.location, r.file_name
      FROM recorded c
      JOIN hst.archive_file f ON f.file_name = c.file_name
     CROSS JOIN LATERAL hst.reference_files(f.primary_header) AS r;
END $$;
COMMENT ON FUNCTION hst.record_calibrations(text[]) IS
    'the calibration of each plane these observations'' files build: CAL_VER, header, reference-file keywords (one statement each for the whole batch)';

CREATE OR REPLACE FUNCTION hst.record_calibration(obs_id text) RETURNS void
LANGUAGE sql AS $$ SELECT hst.record_calibrations(ARRAY[obs_id]) $$;

-- whether an observation is stored with everything its registered files give it: a plane per
-- product, each with its calibration record. An observation deleted or replaced through another
-- path (the repository service, an XML import) is not, and the next ingest of its files
-- rebuilds it even when the files are unchanged.
CREATE OR REPLACE FUNCTION hst.observation_complete(obs_id text) RETURNS boolean
LANGUAGE sql STABLE AS $$
SELECT EXISTS (SELECT 1 FROM caom2.observation o WHERE o.obsid = hst.uuid('caom:HST/' || obs_id))
   AND NOT EXISTS (SELECT 1 FROM hst.archive_file f
                    WHERE f.observationid = obs_id
                      AND NOT EXISTS (SELECT 1 FROM hst.plane_calibration c
                                       WHERE c.planeid = hst.uuid('caom:HST/' || obs_id || '/'
                                                                  || f.product_id)))
$$;

-- ---------------------------------------------------------------------------------------------
-- The batch procedure
-- ---------------------------------------------------------------------------------------------

-- The CAOM rows a batch of observation documents holds (observations, planes, artifacts,
-- parts, chunks)
CREATE OR REPLACE FUNCTION hst.document_rows(docs jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(sum(1 + jsonb_array_length(jsonb_path_query_array(d, '$.planes[*]'))
                  + jsonb_array_length(jsonb_path_query_array(d, '$.planes[*].artifacts[*]'))
                  + jsonb_array_length(jsonb_path_query_array(d, '$.planes[*].artifacts[*].parts[*]'))
                  + jsonb_array_length(jsonb_path_query_array(d,
                                           '$.planes[*].artifacts[*].parts[*].chunks[*]'))), 0)
  FROM jsonb_array_elements(docs) AS d $$;

-- The staged files (the session's ingest_work; those of `seqs`, or all) registered in
-- hst.archive_file. A file whose content and classification are as registered is not touched.
-- Returns the observations with a file that changed.
CREATE OR REPLACE FUNCTION hst.register_files(seqs integer[]) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    changed text[];
BEGIN
    WITH registered AS (
        INSERT INTO hst.archive_file AS a (file_name, observationid, product_id, instrument,
               suffix, level, maps, product_type, size, checksum, primary_header,
               extensions, path, disk_stamp)
        SELECT archive_name, observationid, product_id, instrument, suffix, level, maps,
               product_type, size, checksum, primary_header, coalesce(extensions, '[]'), path,
               disk_stamp
          FROM ingest_work WHERE problem IS NULL AND (seqs IS NULL OR seq = ANY (seqs))
        ON CONFLICT (file_name) DO UPDATE SET
               observationid = excluded.observationid, product_id = excluded.product_id,
               instrument = excluded.instrument, suffix = excluded.suffix,
               level = excluded.level, maps = excluded.maps,
               product_type = excluded.product_type, size = excluded.size,
               checksum = excluded.checksum, primary_header = excluded.primary_header,
               extensions = excluded.extensions, path = excluded.path,
               disk_stamp = excluded.disk_stamp, last_ingested = now()
         WHERE (a.observationid, a.product_id, a.instrument, a.suffix, a.level, a.maps,
                a.product_type, a.checksum, a.path)
               IS DISTINCT FROM
               (excluded.observationid, excluded.product_id, excluded.instrument,
                excluded.suffix, excluded.level, excluded.maps, excluded.product_type,
                excluded.checksum, excluded.path)
        RETURNING a.observationid)
    SELECT coalesce(array_agg(DISTINCT observationid), '{}') INTO changed FROM registered;
    -- the same bytes at the same place, touched (or first stamped): only the stamp changes
    UPDATE hst.archive_file a SET disk_stamp = w.disk_stamp
      FROM ingest_work w
     WHERE w.problem IS NULL AND (seqs IS NULL OR w.seq = ANY (seqs))
       AND a.file_name = w.archive_name AND a.path = w.path
       AND a.checksum IS NOT DISTINCT FROM w.checksum
       AND a.disk_stamp IS DISTINCT FROM w.disk_stamp;
    RETURN changed;
END $$;

-- Of these files found on disk (resolved paths, and '<bytes>:<mtime ns>' stamps), those
-- registered at that path with that stamp, whose observation is stored whole: a re-ingest
-- need not read them (a file rewritten with the same size within the same nanosecond is the
-- one case this misses; `hstvo ingest --rebuild` reads everything)
CREATE OR REPLACE FUNCTION hst.unchanged_files(paths text[], stamps text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT a.path
      FROM unnest(paths, stamps) AS s(path, stamp)
      JOIN hst.archive_file a ON a.path = s.path AND a.disk_stamp = s.stamp
     WHERE hst.observation_complete(a.observationid) $$;

-- the files a re-ingest found unchanged on disk, logged as such (a batch of their own);
-- returns the summary hst.ingest_batch returns
CREATE OR REPLACE FUNCTION hst.log_unchanged(paths text[]) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    batch_id uuid := gen_random_uuid();
BEGIN
    INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri, product_id)
    SELECT batch_id, a.path, a.file_name, 'unchanged', 'caom:HST/' || a.observationid, a.product_id
      FROM hst.archive_file a WHERE a.path = ANY (paths);
    RETURN (SELECT jsonb_build_object('files', count(*), 'ingested', 0, 'unchanged', count(*),
                                      'refused', 0, 'observations', count(DISTINCT observation_uri),
                                      'rows', 0)
              FROM hst.ingest_log WHERE batch = batch_id);
END $$;

-- A staged batch (the session's ingest_work) ingested set-wise: every file registered by one
-- statement, the observations with a changed file built, and all of them stored by one
-- caom2.put_observations. All or nothing: any refusal undoes the whole of it, and the caller
-- then ingests the batch one observation at a time (hst.ingest_one_by_one), which refuses
-- only the observations at fault. Returns the CAOM rows written.
CREATE OR REPLACE FUNCTION hst.ingest_together(batch_id uuid, rebuild boolean) RETURNS bigint
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    changed text[];
    built text[];
    docs jsonb;
    outcomes jsonb;
BEGIN
    changed := hst.register_files(NULL);
    -- an observation none of whose files changed, and that is stored whole, stays as it is
    built := ARRAY(SELECT o FROM (SELECT DISTINCT observationid AS o FROM ingest_work
                                   WHERE problem IS NULL) AS w
                    WHERE rebuild OR o = ANY (changed) OR NOT hst.observation_complete(o)
                    ORDER BY o);
    INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri, product_id,
                                message)
    SELECT batch_id, w.path, w.archive_name, 'unchanged', 'caom:HST/' || w.observationid,
           w.product_id, nullif(array_to_string(w.notes, '; '), '')
      FROM ingest_work w WHERE w.problem IS NULL AND NOT w.observationid = ANY (built);
    IF cardinality(built) = 0 THEN
        RETURN 0;
    END IF;
    docs := hst.observations_build(built);
    outcomes := caom2.put_observations(docs);
    PERFORM hst.record_calibrations(built);
    INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri, product_id,
                                message)
    SELECT batch_id, w.path, w.archive_name,
           CASE WHEN (r.outcome->>'maxlastmodified')::timestamp < caom2.now_utc()
                THEN 'unchanged' ELSE 'ingested' END,
           r.outcome->>'uri', w.product_id, nullif(array_to_string(w.notes, '; '), '')
      FROM unnest(built) WITH ORDINALITY AS b(o, n)
      CROSS JOIN LATERAL (SELECT outcomes -> (b.n::integer - 1) AS outcome) AS r
      JOIN ingest_work w ON w.observationid = b.o AND w.problem IS NULL;
    RETURN hst.document_rows(docs);
END $$;

-- A staged batch ingested one observation at a time, each whole or not at all in its own
-- subtransaction: an observation the database refuses is logged with the reason, and the
-- others go in. Returns the CAOM rows written.
CREATE OR REPLACE FUNCTION hst.ingest_one_by_one(batch_id uuid, rebuild boolean) RETURNS bigint
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    obs record;
    doc jsonb;
    outcome jsonb;
    changed_files integer;
    rows_written bigint := 0;
BEGIN
    FOR obs IN SELECT observationid, array_agg(seq) AS seqs FROM ingest_work
                WHERE problem IS NULL GROUP BY observationid ORDER BY observationid LOOP
        BEGIN
            -- register the files; a file whose content and classification are as registered
            -- is not touched, and an observation none of whose files changed is not rebuilt
            changed_files := cardinality(hst.register_files(obs.seqs));
            IF changed_files = 0 AND NOT rebuild
               AND hst.observation_complete(obs.observationid) THEN
                INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri,
                                            product_id, message)
                SELECT batch_id, w.path, w.archive_name, 'unchanged', 'caom:HST/' || obs.observationid,
                       w.product_id, nullif(array_to_string(w.notes, '; '), '')
                  FROM ingest_work w WHERE w.seq = ANY (obs.seqs);
                CONTINUE;
            END IF;
            doc := hst.observation_build(obs.observationid);
            outcome := caom2.put_observation(doc);
            rows_written := rows_written + hst.document_rows(jsonb_build_array(doc));
            PERFORM hst.record_calibration(obs.observationid);
            INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri, product_id,
                                        message)
            SELECT batch_id, w.path, w.archive_name,
                   CASE WHEN (outcome->>'maxlastmodified')::timestamp < caom2.now_utc()
                        THEN 'unchanged' ELSE 'ingested' END,
                   outcome->>'uri', w.product_id, nullif(array_to_string(w.notes, '; '), '')
              FROM ingest_work w WHERE w.seq = ANY (obs.seqs);
        EXCEPTION WHEN deadlock_detected THEN
            RAISE;
        WHEN OTHERS THEN
            INSERT INTO hst.ingest_log (batch, path, file_name, status, observation_uri, message)
            SELECT batch_id, w.path, w.archive_name, 'refused', 'caom:HST/' || obs.observationid,
                   'observation caom:HST/' || obs.observationid || ' not stored: ' || SQLERRM
              FROM ingest_work w WHERE w.seq = ANY (obs.seqs);
        END;
    END LOOP;
    RETURN rows_written;
END $$;

-- hst.ingest_batch: ingest one staged batch; returns a summary. An observation none of whose
-- files changed is left as it is, unless `rebuild` (after a change of the rules: file classes,
-- filters, the proprietary period).
--   {"files": n, "ingested": n, "unchanged": n, "refused": n, "observations": n,
--    "rows": CAOM rows written (observations, planes, artifacts, parts, chunks)}
CREATE OR REPLACE FUNCTION hst.ingest_batch(batch_id uuid, rebuild boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    summary jsonb;
    rows_written bigint := 0;
BEGIN
    CREATE TEMPORARY TABLE IF NOT EXISTS ingest_work (LIKE hst.staged_file) ON COMMIT DROP;
    TRUNCATE ingest_work;
    INSERT INTO ingest_work SELECT * FROM hst.staged_file WHERE batch = batch_id;

    -- two files of one batch claiming the same archive name: the later one is refused
    UPDATE ingest_work w SET problem = 'the batch holds another file with the same archive name '
                                       || w.archive_name || ' (' || first.path || ')'
      FROM (SELECT DISTINCT ON (archive_name) archive_name, seq, path FROM ingest_work
             WHERE problem IS NULL ORDER BY archive_name, seq) AS first
     WHERE w.problem IS NULL AND w.archive_name = first.archive_name AND w.seq <> first.seq;

    INSERT INTO hst.ingest_log (batch, path, file_name, status, message)
    SELECT batch_id, path, archive_name, 'refused', problem FROM ingest_work WHERE problem IS NOT NULL;

    -- Batches ingested at once (hstvo ingest --writers, or two commands) may hold files of one
    -- observation: each would build it from its own files only, and the later one would store
    -- it without the other's. The batch waits here for any other that holds one of its
    -- observations, and then sees that one's files. The locks are caom2.put_observations' own,
    -- taken in its order (by key), so that two batches cannot wait for each other.
    PERFORM pg_advisory_xact_lock(k)
       FROM (SELECT DISTINCT hashtextextended('caom:HST/' || observationid, 0) AS k
               FROM ingest_work WHERE problem IS NULL ORDER BY 1) AS locks;

    -- the whole batch at once; where anything of it is refused, one observation at a time.
    -- A deadlock with another writer is no fault of the files: it fails the batch, which the
    -- caller runs again (loaders.fits_ingest).
    BEGIN
        rows_written := hst.ingest_together(batch_id, rebuild);
    EXCEPTION WHEN deadlock_detected THEN
        RAISE;
    WHEN OTHERS THEN
        rows_written := hst.ingest_one_by_one(batch_id, rebuild);
    END;

    DELETE FROM hst.ingest_staging WHERE batch = batch_id;
    SELECT jsonb_build_object(
               'files', count(*),
               'ingested', count(*) FILTER (WHERE status = 'ingested'),
               'unchanged', count(*) FILTER (WHERE status = 'unchanged'),
               'refused', count(*) FILTER (WHERE status = 'refused'),
               'observations', count(DISTINCT observation_uri) FILTER (WHERE status <> 'refused'),
               'rows', rows_written)
      INTO summary FROM hst.ingest_log WHERE batch = batch_id;
    RETURN summary;
END $$;
