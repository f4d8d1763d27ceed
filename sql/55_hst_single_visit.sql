-- HAP single-visit mosaics (SVM): which exposures of the archive make which mosaic.
--
-- STScI's Hubble Advanced Products pipeline (drizzlepac's haputils) combines the calibrated
-- exposures of one visit into one mosaic per instrument, detector and filter, named
-- hst_<proposal>_<visit>_<instrument>_<detector>_<filter>_<ipppss>_<drc|drz>.fits. Its input is a
-- "poller" list per visit: file, proposal, program, visit, exposure time, filters, detector,
-- path (../shared/data/hst/hap_poller/). The rules below are that pipeline's, read from
-- drizzlepac/haputils/poller_utils.py (determine_filter_name, build_obset_tree, parse_obset_tree)
-- and product.py (the names); tests/test_single_visit.py checks them against the real poller
-- lists.

-- A mosaic's filter name from an exposure's filters (FILTER1;FILTER2 for the instruments with
-- two wheels): the wheels' CLEAR and N/A positions dropped, two real filters joined by '-', a
-- polarizer always second, 'clear' when nothing is left (SBC's malformed third name ignored)
CREATE OR REPLACE FUNCTION hst.hap_filter_name(raw_filters text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN cardinality(kept) = 0 THEN 'clear'
    WHEN kept[1] LIKE 'pol%' AND cardinality(kept) = 2 THEN kept[2] || '-' || kept[1]
    ELSE array_to_string(kept, '-') END
  FROM (SELECT ARRAY(SELECT f FROM unnest((string_to_array(lower(raw_filters), ';'))[1:2])
                                  WITH ORDINALITY AS t(f, n)
                      WHERE f NOT LIKE '%clear%' AND f NOT LIKE '%n/a%' ORDER BY n) AS kept) AS k
$$;

-- The exposures a visit's mosaics are made of: one calibrated file per exposure of ACS, WFC3
-- and WFPC2, the CTE-corrected _flc where there is one, else the _flt, with what the poller
-- lists of each (proposal, program, visit, exposure time, filters, detector). An exposure is
-- its observation (ipppssoot), whether its file is registered under that name or under the
-- name the SVM gave it (hst_..._ib4606c6_flc.fits, as the ingest registers such a file).
CREATE OR REPLACE VIEW hst.svm_exposure AS
SELECT DISTINCT ON (lower(f.observationid))
       f.file_name, lower(f.observationid) AS rootname, f.instrument,
       f.primary_header->>'PROPOSID' AS proposal_id,
       upper(substr(f.observationid, 2, 3)) AS program_id,
       upper(substr(f.observationid, 5, 2)) AS obset_id,
       f.primary_header->>'EXPTIME' AS exptime,
       CASE WHEN f.primary_header ? 'FILTER1'
            THEN concat_ws(';', f.primary_header->>'FILTER1', f.primary_header->>'FILTER2')
            ELSE f.primary_header->>'FILTER' END AS filters,
       f.primary_header->>'DETECTOR' AS detector,
       upper(f.suffix) AS suffix, f.path
  FROM hst.archive_file f
 WHERE upper(f.suffix) IN ('FLC', 'FLT')
   AND f.instrument IN ('ACS', 'WFC3', 'WFPC2')
 ORDER BY lower(f.observationid), upper(f.suffix) = 'FLC' DESC, f.file_name;
COMMENT ON VIEW hst.svm_exposure IS
    'the calibrated exposure (flc, else flt) of each ACS, WFC3 and WFPC2 exposure, as a HAP single-visit mosaic takes it';

-- Each visit's poller list, a line per exposure, as the HAP pipeline reads it
CREATE OR REPLACE VIEW hst.svm_poller_line AS
SELECT e.proposal_id, e.program_id, e.obset_id, e.file_name,
       concat_ws(',', e.file_name, e.proposal_id, e.program_id, e.obset_id, e.exptime,
                 e.filters, e.detector, e.path) AS line
  FROM hst.svm_exposure e;
COMMENT ON VIEW hst.svm_poller_line IS
    'a HAP poller list line per exposure (file,proposal,program,visit,exptime,filters,detector,path)';

-- The single-visit mosaics: one per visit, instrument, detector and filter, with its HAP name
-- and its member exposures (the exposures' own HAP names too)
CREATE OR REPLACE VIEW hst.svm_product AS
SELECT format('hst_%s_%s_%s_%s_%s_%s', e.proposal_id, lower(e.obset_id), lower(e.instrument),
              lower(e.detector), hst.hap_filter_name(e.filters),
              min(substr(e.rootname, 1, 6))) AS product_name,
       e.proposal_id, e.program_id, e.obset_id, e.instrument, e.detector,
       hst.hap_filter_name(e.filters) AS filter,
       CASE WHEN bool_and(e.suffix = 'FLC') THEN 'drc' ELSE 'drz' END AS mosaic_suffix,
       array_agg(e.file_name ORDER BY e.file_name) AS members,
       array_agg(format('hst_%s_%s_%s_%s_%s_%s_%s.fits', e.proposal_id, lower(e.obset_id),
                        lower(e.instrument), lower(e.detector), hst.hap_filter_name(e.filters),
                        substr(e.rootname, 1, 8), lower(e.suffix)) ORDER BY e.file_name)
           AS member_names,
       array_agg(e.rootname ORDER BY e.file_name) AS member_observations
  FROM hst.svm_exposure e
 GROUP BY e.proposal_id, e.program_id, e.obset_id, e.instrument, e.detector,
          hst.hap_filter_name(e.filters);
COMMENT ON VIEW hst.svm_product IS
    'HAP single-visit mosaics: one per visit, instrument, detector and filter, with their members';

-- the mosaic an exposure's calibrated file belongs to (hst.svm_product's name, computed from
-- the file alone: every exposure of a visit shares its ipppss), or NULL for other files
-- (plpgsql: sql/54_hst_ingest.sql's builder calls it, and is loaded first)
CREATE OR REPLACE FUNCTION hst.svm_product_of(f hst.archive_file) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE WHEN upper(f.suffix) IN ('FLC', 'FLT') AND f.instrument IN ('ACS', 'WFC3', 'WFPC2')
                THEN format('hst_%s_%s_%s_%s_%s_%s', f.primary_header->>'PROPOSID',
                            lower(substr(f.observationid, 5, 2)), lower(f.instrument),
                            lower(f.primary_header->>'DETECTOR'),
                            hst.hap_filter_name(CASE WHEN f.primary_header ? 'FILTER1'
                                THEN concat_ws(';', f.primary_header->>'FILTER1', f.primary_header->>'FILTER2')
                                ELSE f.primary_header->>'FILTER' END),
                            lower(substr(f.observationid, 1, 6))) END;
END $$;
