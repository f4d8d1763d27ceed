-- HST reference files and the best-reference rules (the HST cache's "which file calibrates
-- this dataset").
--
--   hst.reftype            reference types per instrument, as data (sql/71_hst_reftypes.sql,
--                          generated from CRDS's rules): keyword, suffix, selection keys,
--                          calibration switch, relevance
--   hst.reference_file     the registered reference files: type, USEAFTER, selection values
--   hst.dataset            the calibrated datasets: one per HST exposure, with the header whose
--                          values select its reference files (from hst.plane_calibration)
--   hst.best_reference()   the rule: among the files of a type whose selection values match the
--                          dataset's, the one with the latest USEAFTER not after the dataset's
--                          observation start
--
-- Selection values of a reference file are a jsonb object: keyword -> array of accepted values
-- ({"DETECTOR": ["WFC"], "CCDAMP": ["ABCD"], "CCDGAIN": ["2.0"]}). A keyword the file does not
-- name, or names with ANY, * or N/A, accepts every dataset. Values compare as numbers when both
-- are numbers (CCDGAIN 2 is 2.0), as upper-case trimmed text otherwise.

CREATE TABLE IF NOT EXISTS hst.reference_file (
    file_name      text PRIMARY KEY,       -- p3v2228mj_bia.fits
    instrument     text NOT NULL,
    reftype        text NOT NULL,
    location       text NOT NULL,          -- the environment prefix of header values: jref
    useafter       timestamp NOT NULL,     -- the first observation date it calibrates
    selection      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(selection) = 'object'),
    path           text,                   -- where the archive keeps it (served under /files)
    registered     timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (instrument, reftype) REFERENCES hst.reftype
);
CREATE INDEX IF NOT EXISTS reference_file_type_idx
    ON hst.reference_file (instrument, reftype, useafter);
COMMENT ON TABLE hst.reference_file IS 'registered HST reference files (hstvo reffile add)';
-- where VOSpace keeps it, when it was written into the reference tree (/hst-refer/jref/x.fits:
-- sql/99_vospace_reference_files.sql); workers fetch it from there
ALTER TABLE hst.reference_file ADD COLUMN IF NOT EXISTS vospace_path text;
-- where the registration came from: a file's header ('header'), or CRDS's rules ('crds:<rmap>')
ALTER TABLE hst.reference_file ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'header';

-- The datasets a file calibrates: one row per selection and USEAFTER. A file registered from its
-- header has one (its reference_file row's); a file of CRDS's rules has one per match of its
-- rmap, as CRDS lists the same file under several matches (with N/A where a value does not
-- matter, and a USEAFTER each).
CREATE TABLE IF NOT EXISTS hst.reference_selection (
    file_name  text NOT NULL REFERENCES hst.reference_file ON DELETE CASCADE,
    useafter   timestamp NOT NULL,
    selection  jsonb NOT NULL CHECK (jsonb_typeof(selection) = 'object'),
    PRIMARY KEY (file_name, useafter, selection)
);
COMMENT ON TABLE hst.reference_selection IS
    'what each reference file calibrates: selection values and USEAFTER (one row or, from CRDS, many)';
-- (files registered before the table: their one selection)
INSERT INTO hst.reference_selection (file_name, useafter, selection)
SELECT f.file_name, f.useafter, f.selection FROM hst.reference_file f
 WHERE NOT EXISTS (SELECT 1 FROM hst.reference_selection s WHERE s.file_name = f.file_name);

-- the rules of a type, in one place: each file's selections with its type
CREATE OR REPLACE VIEW hst.reference_rule AS
SELECT f.instrument, f.reftype, f.file_name, s.useafter, s.selection, f.registered
  FROM hst.reference_file f JOIN hst.reference_selection s ON s.file_name = f.file_name;

-- the environment prefix of each instrument's reference files (jref$..., iref$...)
CREATE TABLE IF NOT EXISTS hst.reference_location (
    instrument  text PRIMARY KEY,
    location    text NOT NULL
);
INSERT INTO hst.reference_location VALUES
    ('ACS', 'jref'), ('WFC3', 'iref'), ('STIS', 'oref'), ('COS', 'lref'), ('NICMOS', 'nref'),
    ('WFPC2', 'uref'), ('SYNPHOT', 'mtab')
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- Values and matching
-- ---------------------------------------------------------------------------------------------

-- does a dataset's value satisfy one accepted value of a reference file?
CREATE OR REPLACE FUNCTION hst.selection_accepts(accepted text, value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
       WHEN upper(btrim(accepted)) IN ('ANY', '*', 'N/A') THEN true
       WHEN accepted ~ '^\s*[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$'
        AND value ~ '^\s*[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*$'
           THEN accepted::numeric = value::numeric
       ELSE upper(btrim(accepted)) = value END $$;

-- does a dataset's header satisfy every selection value of a reference file?
CREATE OR REPLACE FUNCTION hst.selection_matches(selection jsonb, header jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT NOT EXISTS (
       SELECT 1 FROM jsonb_each(selection) AS s(keyword, accepted)
        WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(s.accepted) AS a(value)
                           WHERE hst.selection_accepts(a.value,
                                                       hst.selection_value(header, s.keyword)))) $$;

-- the observation start of a header: DATE-OBS and TIME-OBS, as USEAFTER is compared with
CREATE OR REPLACE FUNCTION hst.observation_start(header jsonb) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN header->>'DATE-OBS' ~ '^\d{4}-\d{2}-\d{2}'
               THEN (left(header->>'DATE-OBS', 10) || ' ' ||
                     coalesce(nullif(btrim(header->>'TIME-OBS'), ''), '00:00:00'))::timestamp
               WHEN header->>'EXPSTART' IS NOT NULL
               THEN timestamp '1858-11-17' + (header->>'EXPSTART')::float8 * interval '1 day'
          END $$;

-- ---------------------------------------------------------------------------------------------
-- Datasets
-- ---------------------------------------------------------------------------------------------

-- one dataset per exposure: the plane whose calibration the exposure's products were made
-- with (the most calibrated one), with the header whose values select reference files
CREATE OR REPLACE VIEW hst.dataset AS
SELECT DISTINCT ON (o.observationid)
       o.observationid                         AS dataset,
       c.planeid,
       upper(c.instrument)                     AS instrument,
       c.detector,
       c.cal_ver,
       hst.observation_start(coalesce(c.header, f.primary_header)) AS observation_start,
       coalesce(c.header, f.primary_header)    AS header,
       c.file_name
  FROM hst.plane_calibration c
  -- (an ingested plane's header is its file's, in the file registry: sql/54_hst_ingest.sql)
  LEFT JOIN hst.archive_file f ON c.header IS NULL AND f.file_name = c.file_name
  JOIN caom2.plane p ON p.planeid = c.planeid
  JOIN caom2.observation o ON o.obsid = p.obsid
 WHERE o.collection = 'HST' AND o.typecode = 'S'
 ORDER BY o.observationid, p.calibrationlevel DESC, c.planeid;
COMMENT ON VIEW hst.dataset IS 'HST exposures with the header that selects their reference files';

-- the selection-relevant values of every dataset: the selection keys of its instrument's types
CREATE OR REPLACE VIEW hst.dataset_selection AS
SELECT d.dataset, d.instrument, k.keyword, hst.selection_value(d.header, k.keyword) AS value
  FROM hst.dataset d
  JOIN LATERAL (SELECT DISTINCT unnest(t.parkeys) AS keyword FROM hst.reftype t
                 WHERE t.instrument = d.instrument) AS k ON true;

-- the reference file a dataset's header names for a keyword (what it was calibrated with)
CREATE OR REPLACE FUNCTION hst.current_reference(planeid uuid, keyword text) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT r.file_name FROM hst.plane_reference_file r
    WHERE r.planeid = current_reference.planeid AND r.keyword = current_reference.keyword $$;

-- ---------------------------------------------------------------------------------------------
-- The rule
-- ---------------------------------------------------------------------------------------------

-- hst.best_reference: the registered file of a type that calibrates a dataset with this header
-- and observation start (NULL when none does, or the type does not apply to it)
CREATE OR REPLACE FUNCTION hst.best_reference(instrument text, reftype text, header jsonb,
                                              observation_start timestamp) RETURNS text
LANGUAGE sql STABLE AS
$$ SELECT r.file_name
     FROM hst.reference_rule r
    WHERE r.instrument = best_reference.instrument AND r.reftype = best_reference.reftype
      AND r.useafter <= best_reference.observation_start
      AND hst.reftype_relevant(best_reference.instrument, best_reference.reftype, header)
      AND hst.selection_matches(r.selection, header)
    ORDER BY r.useafter DESC, r.registered DESC
    LIMIT 1 $$;

-- every reference type that applies to a dataset, with the file it was calibrated with and the
-- best registered one
CREATE OR REPLACE FUNCTION hst.dataset_references(dataset_id text)
RETURNS TABLE (reftype text, keyword text, current_file text, best_file text)
LANGUAGE sql STABLE AS
$$ SELECT t.reftype, t.keyword, hst.current_reference(d.planeid, t.keyword),
          hst.best_reference(d.instrument, t.reftype, d.header, d.observation_start)
     FROM hst.dataset d
     JOIN hst.reftype t ON t.instrument = d.instrument
    WHERE d.dataset = dataset_id AND hst.reftype_relevant(t.instrument, t.reftype, d.header)
    ORDER BY t.reftype $$;

-- the reference type of a file, from its name's suffix (x1r1642aj_bia.fits: bias) or, when
-- given, the FILETYPE its header declares; a row of NULLs when neither names one
CREATE OR REPLACE FUNCTION hst.reftype_of_file(instrument text, file_name text,
                                               filetype text DEFAULT NULL) RETURNS hst.reftype
LANGUAGE sql STABLE AS $$
    SELECT t.* FROM hst.reftype t
     WHERE t.instrument = upper(reftype_of_file.instrument)
       AND (t.suffix = lower(substring(split_part(file_name, '.', 1) FROM '_([^_]*)$'))
            OR upper(t.keyword) = upper(filetype))
     ORDER BY t.suffix = lower(substring(split_part(file_name, '.', 1) FROM '_([^_]*)$')) DESC
     LIMIT 1 $$;

-- the instrument whose reference files a header prefix names (jref: ACS)
CREATE OR REPLACE FUNCTION hst.instrument_of_location(prefix text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT l.instrument FROM hst.reference_location l WHERE l.location = lower(prefix) $$;

-- ---------------------------------------------------------------------------------------------
-- Seeding the registry from CRDS's rules (`hstvo reffile seed`, loaders/crds_rules.py)
-- ---------------------------------------------------------------------------------------------

-- Register the files of CRDS's rules: rules is [{instrument, reftype, file, useafter,
-- selection, rmap}, ...], one per file, match and USEAFTER. The rules say what the archive's
-- data was calibrated with, so seeding enqueues nothing; a file registered from its header
-- keeps its registration. Returns (files, selections) added.
CREATE OR REPLACE FUNCTION hst.seed_reference_rules(rules jsonb, OUT files bigint, OUT selections bigint)
LANGUAGE plpgsql AS $$
BEGIN
    WITH incoming AS (
        SELECT DISTINCT ON (r->>'file') r->>'file' AS file_name, upper(r->>'instrument') AS instrument,
               lower(r->>'reftype') AS reftype, (r->>'useafter')::timestamp AS useafter,
               r->'selection' AS selection, 'crds:' || (r->>'rmap') AS source
          FROM jsonb_array_elements(rules) r
         ORDER BY r->>'file', (r->>'useafter')::timestamp),
    added AS (
        INSERT INTO hst.reference_file (file_name, instrument, reftype, location, useafter,
                                        selection, source)
        SELECT i.file_name, t.instrument, t.reftype,
               coalesce((SELECT l.location FROM hst.reference_location l
                          WHERE l.instrument = t.instrument), 'ref'),
               i.useafter, i.selection, i.source
          FROM incoming i JOIN hst.reftype t ON t.instrument = i.instrument AND t.reftype = i.reftype
        ON CONFLICT (file_name) DO NOTHING
        RETURNING 1)
    SELECT count(*) INTO files FROM added;
    WITH added AS (
        INSERT INTO hst.reference_selection (file_name, useafter, selection)
        SELECT r->>'file', (r->>'useafter')::timestamp, r->'selection'
          FROM jsonb_array_elements(rules) r
          JOIN hst.reference_file f ON f.file_name = r->>'file' AND f.source LIKE 'crds:%'
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*) INTO selections FROM added;
END $$;
