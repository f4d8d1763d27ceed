-- Recalibration: what a new reference file or a new calibration software release means for the
-- archive, decided in the database and handed to the work queue (sql/73_work_queue.sql).
--
--   hst.register_reference_file()  register a file; in the same transaction, enqueue exactly
--                                  the datasets whose best reference it becomes
--   hst.set_calibration_software() a new CAL_VER for an instrument: enqueue its datasets
--   hst.calibration_setup          per instrument: the command workers run and the VM it needs
--
-- Both have a dry run that only counts, per instrument and detector.

CREATE TABLE IF NOT EXISTS hst.calibration_setup (
    instrument      text PRIMARY KEY,
    pipeline        text NOT NULL,            -- the pipeline's name (CALACS, CALWF3, ...)
    command         text NOT NULL,            -- what the worker runs; {input} is the dataset's
                                              -- file, {output} the directory for products
    cal_ver         text,                     -- the current calibration software version
    vm_type         text,                     -- the VM it needs (NULL: any)
    min_cpus        integer NOT NULL DEFAULT 1,
    min_memory_mb   integer NOT NULL DEFAULT 2048,
    updated         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hst.calibration_setup IS 'per instrument: the calibration command, its software version and the VM it needs';

-- the production pipelines; a test deployment points `command` at its own calibration program
INSERT INTO hst.calibration_setup (instrument, pipeline, command, vm_type, min_cpus, min_memory_mb) VALUES
    ('ACS', 'CALACS', 'calacs.e {input}', 'standard', 1, 4096),
    ('WFC3', 'CALWF3', 'calwf3.e {input}', 'standard', 1, 4096),
    ('STIS', 'CALSTIS', 'cs0.e {input}', 'standard', 1, 2048),
    ('COS', 'CALCOS', 'calcos {input}', 'standard', 1, 4096),
    ('NICMOS', 'CALNICA', 'calnica {input}', 'standard', 1, 2048),
    ('WFPC2', 'CALWP2', 'calwp2 {input}', 'standard', 1, 2048)
ON CONFLICT DO NOTHING;

-- the datasets a registration or release affects are gathered in this session's
-- pg_temp.recalibration_targets before they are counted or enqueued
CREATE OR REPLACE FUNCTION hst.new_recalibration_targets() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.recalibration_targets') IS NULL THEN
        CREATE TEMPORARY TABLE recalibration_targets
            (dataset text, instrument text, detector text) ON COMMIT DROP;
    ELSE
        TRUNCATE pg_temp.recalibration_targets;
    END IF;
END $$;

-- a recalibration job for each gathered dataset, coalescing with pending ones; how many
CREATE OR REPLACE FUNCTION hst.enqueue_recalibration(reason jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    queued integer;
BEGIN
    INSERT INTO queue.job (command, dataset, reasons, vm_type, min_cpus, min_memory_mb, arguments)
    SELECT 'calibrate', t.dataset, jsonb_build_array(reason), s.vm_type, s.min_cpus,
           s.min_memory_mb, jsonb_build_object('instrument', t.instrument)
      FROM pg_temp.recalibration_targets t
      JOIN hst.calibration_setup s ON s.instrument = t.instrument
    ON CONFLICT (dataset) WHERE status = 'idle' AND dataset IS NOT NULL
    DO UPDATE SET reasons = queue.job.reasons || EXCLUDED.reasons;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END $$;

-- the datasets whose best reference of a type would become `file_name` (with this USEAFTER and
-- these selection values), which it is not yet, and which were not calibrated with it already
CREATE OR REPLACE FUNCTION hst.datasets_for_reference(instrument text, reftype text,
                                                      file_name text, useafter timestamp,
                                                      selection jsonb)
RETURNS TABLE (dataset text, dataset_instrument text, detector text, current_file text)
LANGUAGE sql STABLE AS $$
    SELECT d.dataset, d.instrument, d.detector, hst.current_reference(d.planeid, t.keyword)
      FROM hst.dataset d
      JOIN hst.reftype t ON t.instrument = d.instrument AND t.reftype = datasets_for_reference.reftype
     WHERE d.instrument = datasets_for_reference.instrument
       AND d.observation_start >= datasets_for_reference.useafter
       AND hst.reftype_relevant(t.instrument, t.reftype, d.header)
       AND hst.selection_matches(datasets_for_reference.selection, d.header)
       -- no other registered file of the type is a better match (a later USEAFTER still
       -- before the observation)
       AND NOT EXISTS (
           SELECT 1 FROM hst.reference_rule r
            WHERE r.instrument = t.instrument AND r.reftype = t.reftype
              AND r.file_name <> datasets_for_reference.file_name
              AND r.useafter > datasets_for_reference.useafter
              AND r.useafter <= d.observation_start
              AND hst.selection_matches(r.selection, d.header))
       AND hst.current_reference(d.planeid, t.keyword) IS DISTINCT FROM datasets_for_reference.file_name
       -- and whose best reference it is not already: registering a file again, or seeding
       -- the rules the data was calibrated with, changes nothing
       AND hst.best_reference(d.instrument, t.reftype, d.header, d.observation_start)
           IS DISTINCT FROM datasets_for_reference.file_name $$;

-- hst.register_reference_file: register (or re-register) a reference file and enqueue the
-- datasets whose best reference it becomes; with dry_run, register nothing and only count.
-- Returns the datasets per instrument and detector.
CREATE OR REPLACE FUNCTION hst.register_reference_file(file_name text, instrument text,
                                                       reftype text, useafter timestamp,
                                                       selection jsonb DEFAULT '{}',
                                                       path text DEFAULT NULL,
                                                       dry_run boolean DEFAULT false)
RETURNS TABLE (dataset_instrument text, dataset_detector text, datasets bigint)
LANGUAGE plpgsql AS $$
DECLARE
    kind hst.reftype;
    queued integer;
    unknown text;
BEGIN
    SELECT * INTO kind FROM hst.reftype t
     WHERE t.instrument = upper(register_reference_file.instrument)
       AND t.reftype = lower(register_reference_file.reftype);
    IF kind.instrument IS NULL THEN
        RAISE EXCEPTION 'no reference type % for instrument %', reftype, instrument
            USING ERRCODE = 'RF001',
                  HINT = 'SELECT instrument, reftype, keyword FROM hst.reftype lists them';
    END IF;
    -- a selection on a keyword the type does not select on would never match what CRDS meant
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown
      FROM jsonb_object_keys(coalesce(selection, '{}')) AS k
     WHERE upper(k) <> ALL (kind.parkeys);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION '% % files are not selected by %', kind.instrument, kind.reftype, unknown
            USING ERRCODE = 'RF002',
                  HINT = 'they are selected by ' || coalesce(nullif(array_to_string(kind.parkeys, ', '), ''),
                                                             'no keyword (one file for all)');
    END IF;
    -- one registration at a time per type: the "better match" test reads the others
    PERFORM pg_advisory_xact_lock(hashtext('hst.reference_file/' || kind.instrument || '/' || kind.reftype));
    PERFORM hst.new_recalibration_targets();
    INSERT INTO pg_temp.recalibration_targets
    SELECT f.dataset, f.dataset_instrument, f.detector
      FROM hst.datasets_for_reference(kind.instrument, kind.reftype, file_name, useafter,
                                      selection) AS f;
    IF NOT dry_run THEN
        INSERT INTO hst.reference_file AS r (file_name, instrument, reftype, location, useafter,
                                             selection, path)
        VALUES (file_name, kind.instrument, kind.reftype,
                coalesce((SELECT l.location FROM hst.reference_location l
                           WHERE l.instrument = kind.instrument), 'ref'),
                useafter, selection, path)
        ON CONFLICT ON CONSTRAINT reference_file_pkey DO UPDATE
            SET useafter = EXCLUDED.useafter, selection = EXCLUDED.selection,
                path = coalesce(EXCLUDED.path, r.path), registered = clock_timestamp(),
                source = 'header';
        -- from its header, a file has one selection: this one (CRDS's, if it had them, go)
        DELETE FROM hst.reference_selection s WHERE s.file_name = register_reference_file.file_name;
        INSERT INTO hst.reference_selection (file_name, useafter, selection)
        VALUES (register_reference_file.file_name, register_reference_file.useafter,
                coalesce(register_reference_file.selection, '{}'));
        IF path IS NOT NULL THEN  -- /files serves it from its directory (sql/75)
            PERFORM hstvo.add_file_roots(ARRAY[regexp_replace(path, '/[^/]*$', '')]);
        END IF;
        queued := hst.enqueue_recalibration(jsonb_build_object(
            'reference_file', file_name, 'keyword', kind.keyword, 'useafter', useafter));
        RAISE LOG 'reference file % (% %) registered: % datasets to recalibrate', file_name,
            kind.instrument, kind.reftype, queued;
    END IF;
    RETURN QUERY SELECT t.instrument, t.detector, count(*) FROM pg_temp.recalibration_targets t
                  GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

-- hst.set_calibration_software: a new calibration software version for an instrument: every
-- dataset of it not calibrated with that version is enqueued (dry_run: only counted)
CREATE OR REPLACE FUNCTION hst.set_calibration_software(instrument text, version text,
                                                        dry_run boolean DEFAULT false)
RETURNS TABLE (dataset_instrument text, dataset_detector text, datasets bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM hst.calibration_setup s
                    WHERE s.instrument = upper(set_calibration_software.instrument)) THEN
        RAISE EXCEPTION 'no calibration setup for instrument %', instrument
            USING ERRCODE = 'RF002', HINT = 'SELECT instrument FROM hst.calibration_setup lists them';
    END IF;
    PERFORM hst.new_recalibration_targets();
    INSERT INTO pg_temp.recalibration_targets
    SELECT d.dataset, d.instrument, d.detector FROM hst.dataset d
     WHERE d.instrument = upper(set_calibration_software.instrument)
       AND d.cal_ver IS DISTINCT FROM version;
    IF NOT dry_run THEN
        UPDATE hst.calibration_setup s SET cal_ver = version, updated = now()
         WHERE s.instrument = upper(set_calibration_software.instrument);
        PERFORM hst.enqueue_recalibration(jsonb_build_object(
            'cal_ver', version, 'instrument', upper(set_calibration_software.instrument)));
    END IF;
    RETURN QUERY SELECT t.instrument, t.detector, count(*) FROM pg_temp.recalibration_targets t
                  GROUP BY 1, 2 ORDER BY 1, 2;
END $$;

-- what a worker needs to calibrate a dataset: its file, the command, the software version, and
-- the reference files it is to use that the archive holds (the best registered one of each
-- type; the files a dataset names that the archive does not hold stay as they are)
CREATE OR REPLACE FUNCTION hst.calibration_inputs(dataset_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
               'dataset', d.dataset, 'instrument', d.instrument, 'file', d.file_name,
               'command', s.command, 'pipeline', s.pipeline, 'cal_ver', s.cal_ver,
               'references', coalesce((
                   SELECT jsonb_object_agg(r.keyword, jsonb_strip_nulls(jsonb_build_object(
                              'file', f.file_name, 'location', f.location,
                              'vospace', f.vospace_path)))
                     FROM hst.dataset_references(d.dataset) AS r
                     JOIN hst.reference_file f ON f.file_name = r.best_file
                    -- the files the archive has: on its disks, or in VOSpace's reference tree
                    WHERE f.path IS NOT NULL OR f.vospace_path IS NOT NULL), '{}'))
      FROM hst.dataset d
      JOIN hst.calibration_setup s ON s.instrument = d.instrument
     WHERE d.dataset = dataset_id $$;

-- ---------------------------------------------------------------------------------------------
-- HAP single-visit mosaics: rebuilt when a member exposure arrives or is recalibrated
-- ---------------------------------------------------------------------------------------------

-- what rebuilds a mosaic: HAP's single-visit pipeline (drizzlepac's runsinglehap) on the
-- visit's poller list ({poller}), and the VM it needs; a test deployment points `command` at
-- its own program
CREATE TABLE IF NOT EXISTS hst.mosaic_setup (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    pipeline        text NOT NULL DEFAULT 'HAP SVM (runsinglehap)',
    command         text NOT NULL DEFAULT 'runsinglehap {poller}',
    vm_type         text DEFAULT 'standard',
    min_cpus        integer NOT NULL DEFAULT 2,
    min_memory_mb   integer NOT NULL DEFAULT 8192
);
INSERT INTO hst.mosaic_setup DEFAULT VALUES ON CONFLICT DO NOTHING;
INSERT INTO hstvo.setting (name, value, description) VALUES
    ('hap_mosaic_rebuilds', 'on',
     'on: a new or recalibrated member exposure enqueues its HAP single-visit mosaic''s rebuild; off: a site that makes no mosaics')
ON CONFLICT (name) DO NOTHING;
COMMENT ON TABLE hst.mosaic_setup IS 'the command that rebuilds a HAP single-visit mosaic, and the VM it needs';

-- In the transaction that registers a member exposure's file, new or with new bytes (a
-- recalibration), the rebuild of its visit's mosaic is enqueued: one job per mosaic, which
-- further members coalesce into while it waits (hst.svm_product_of: sql/55_hst_single_visit.sql).
-- The rebuilds of the mosaics these files are members of, each job with a reason per member:
CREATE OR REPLACE FUNCTION hst.enqueue_mosaic_builds(files hst.archive_file[], why text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    queued integer;
BEGIN
    IF hstvo.setting('hap_mosaic_rebuilds') IS DISTINCT FROM 'on' THEN
        RETURN 0;
    END IF;
    INSERT INTO queue.job (command, dataset, reasons, vm_type, min_cpus, min_memory_mb, arguments)
    SELECT 'build_mosaic', m.product, m.reasons, s.vm_type, s.min_cpus, s.min_memory_mb,
           jsonb_build_object('mosaic', m.product)
      FROM (SELECT hst.svm_product_of(f) AS product,
                   jsonb_agg(jsonb_build_object('member', f.file_name, 'why', why)
                             ORDER BY f.file_name) AS reasons
              FROM unnest(files) AS f
             WHERE hst.svm_product_of(f) IS NOT NULL
             GROUP BY 1) AS m
     CROSS JOIN hst.mosaic_setup s
    ON CONFLICT (dataset) WHERE status = 'idle' AND dataset IS NOT NULL
    DO UPDATE SET reasons = queue.job.reasons || EXCLUDED.reasons;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END $$;

CREATE OR REPLACE FUNCTION hst.mosaic_members_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hst.enqueue_mosaic_builds(ARRAY(SELECT ROW(n.*)::hst.archive_file FROM new_rows n),
                                      'new exposure');
    RETURN NULL;
END $$;

-- (a file registered again with the same bytes is no recalibration)
CREATE OR REPLACE FUNCTION hst.mosaic_members_recalibrated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hst.enqueue_mosaic_builds(ARRAY(
        SELECT ROW(n.*)::hst.archive_file FROM new_rows n JOIN old_rows o ON o.file_name = n.file_name
         WHERE o.checksum IS DISTINCT FROM n.checksum), 'recalibrated exposure');
    RETURN NULL;
END $$;

DROP FUNCTION IF EXISTS hst.enqueue_mosaic_builds() CASCADE;
DROP TRIGGER IF EXISTS mosaic_members_inserted ON hst.archive_file;
CREATE TRIGGER mosaic_members_inserted AFTER INSERT ON hst.archive_file
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION hst.mosaic_members_inserted();
DROP TRIGGER IF EXISTS mosaic_members_recalibrated ON hst.archive_file;
CREATE TRIGGER mosaic_members_recalibrated AFTER UPDATE ON hst.archive_file
    REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION hst.mosaic_members_recalibrated();

-- what a worker needs to rebuild a mosaic: the command, the poller list of its members (as
-- HAP's pipeline reads it), and where each member file is
CREATE OR REPLACE FUNCTION hst.mosaic_inputs(mosaic text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT jsonb_build_object(
               'mosaic', p.product_name, 'suffix', p.mosaic_suffix, 'command', s.command,
               'pipeline', s.pipeline, 'members', to_jsonb(p.members),
               'poller', (SELECT string_agg(l.line, E'\n' ORDER BY l.file_name) || E'\n'
                            FROM hst.svm_poller_line l WHERE l.file_name = ANY (p.members)))
      FROM hst.svm_product p CROSS JOIN hst.mosaic_setup s
     WHERE p.product_name = mosaic);
END $$;
