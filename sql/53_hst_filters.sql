-- HST filter and grating bandpasses, and the CAOM energy-band rule.
--
-- hst.filter_source holds data/hst/filters.csv as shipped (loaded by migration 0004): several
-- rows per filter from different sources, each with a quality note. hst.filter_bounds picks one:
--   1 a throughput curve that agrees with the published pivot: min/max where T >= 1% of peak
--   2 the archive's own metadata (eHST/MAST recorded responses)
--   3 a throughput curve with no published value to check it against
--   4 a handbook pivot (or central wavelength) and width: pivot +- width/2
--   5 a spectroscopic mode's wavelength-sampling range (gratings, cenwaves)
--   6 a composite of several filters
-- Rows marked SUSPECT are never used. A row for the exact detector (and mode) beats a row that
-- names none.

CREATE TABLE IF NOT EXISTS hst.filter_source (
    instrument  text NOT NULL,
    detector    text,
    filter      text NOT NULL,
    mode        text,
    pivot_nm    double precision,
    center_nm   double precision,
    width_nm    double precision,
    min_nm      double precision,
    max_nm      double precision,
    quality     text,
    method      text,
    source      text
);
-- (hst.filter_bounds looks filters up whatever their case: 0.2 ms a call on the instrument's
-- rows, 0.05 ms through this; the index on the filter as written served no query)
DROP INDEX IF EXISTS hst.filter_source_lookup_idx;
CREATE INDEX IF NOT EXISTS filter_source_upper_idx ON hst.filter_source (instrument, upper(filter));

CREATE OR REPLACE FUNCTION hst.filter_rank(quality text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
       WHEN quality LIKE 'SUSPECT%' THEN NULL
       WHEN quality LIKE 'agrees with published value%' THEN 1
       WHEN quality LIKE 'archive metadata%' THEN 2
       WHEN quality LIKE 'unverified%' THEN 3
       WHEN quality LIKE 'published handbook value%' THEN 4
       WHEN quality LIKE 'sampling range%' THEN 5
       WHEN quality LIKE 'composite%' THEN 6
   END $$;

-- hst.filter_bounds: the bandpass of a filter (or grating, with mode e.g. 'C1173' for a cenwave),
-- in metres, with the source it came from; no row when nothing usable is known
CREATE OR REPLACE FUNCTION hst.filter_bounds(instrument text, detector text, filter text,
                                             mode text DEFAULT NULL)
RETURNS TABLE (lower_m double precision, upper_m double precision, rank integer, source text)
LANGUAGE sql STABLE AS
$$
SELECT coalesce(f.min_nm, coalesce(f.pivot_nm, f.center_nm) - f.width_nm / 2) * 1e-9,
       coalesce(f.max_nm, coalesce(f.pivot_nm, f.center_nm) + f.width_nm / 2) * 1e-9,
       hst.filter_rank(f.quality), f.source
  FROM hst.filter_source f
 WHERE f.instrument = upper($1) AND upper(f.filter) = upper($3)
   AND (coalesce(f.detector, '') = '' OR upper(f.detector) = upper($2))
   AND (coalesce(f.mode, '') IN ('', 'ALL') OR upper(f.mode) = upper($4))
   AND hst.filter_rank(f.quality) IS NOT NULL
   AND (f.min_nm IS NOT NULL OR (coalesce(f.pivot_nm, f.center_nm) IS NOT NULL
                                 AND f.width_nm IS NOT NULL))
 ORDER BY (upper(coalesce(f.detector, '')) = upper($2)) DESC,
          (upper(coalesce(f.mode, '')) = upper(coalesce($4, ''))) DESC,
          hst.filter_rank(f.quality)
 LIMIT 1
$$;

-- caom2.energy_bands: CAOM's EnergyBand rule, every band the interval [lower, upper] (metres)
-- touches, in canonical order, '|'-joined (EnergyBand.java: F098M, 898-1068 nm, is
-- Infrared|Optical)
CREATE OR REPLACE FUNCTION caom2.energy_bands(lower_m double precision, upper_m double precision)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT string_agg(band, '|' ORDER BY n)
  FROM (VALUES (1, 'Radio', 1e-2, 'Infinity'::float8),
               (2, 'Millimeter', 1e-4, 1e-2),
               (3, 'Infrared', 1e-6, 1e-4),
               (4, 'Optical', 3e-7, 1e-6),
               (5, 'UV', 1e-7, 3e-7),
               (6, 'EUV', 1e-8, 1e-7),
               -- 0.12-120 keV and above, as wavelengths: lambda = hc / E
               (7, 'X-ray', 1.23984198e-9 / 120.0, 1.23984198e-9 / 0.12),
               (8, 'Gamma-ray', 0, 1.23984198e-9 / 120.0)) AS b(n, band, lo, hi)
 WHERE lower_m < hi AND upper_m > lo
$$;
