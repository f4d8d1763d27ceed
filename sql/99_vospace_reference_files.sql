-- HST reference files as a VOSpace tree: /hst-refer/<prefix>/<file>, one container per CRDS
-- prefix (jref for ACS, iref for WFC3, oref, lref, nref, uref, mtab, ...: hst.reference_location),
-- the tree the calibration mounts on every worker.
--
-- A file written into the tree is a reference file: in the transaction that makes its bytes
-- visible (vospace.reference_upload), it is registered from its header (type, USEAFTER and
-- selection values: hst.reference_spec) and exactly the recalibrations it causes are enqueued,
-- as `hstvo reffile add` does (hst.register_reference_file, sql/74). Deleting one is refused
-- while datasets are calibrated with it; an unused one leaves the registry with its node.
-- The tree is public to read; the writers group (hstvo.setting writers_group) may write in it.

-- ---------------------------------------------------------------------------------------------
-- A reference file's registration, from its header
-- ---------------------------------------------------------------------------------------------

-- USEAFTER as reference files write it ('Mar 01 2002 00:00:00', 'Jan 1 1991') or ISO 8601;
-- NULL when it is not a date
CREATE OR REPLACE FUNCTION hst.useafter_of(value text) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    value := btrim(value);
    IF value ~ '^[A-Za-z]{3} +[0-9]{1,2} +[0-9]{4} +[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$' THEN
        RETURN to_timestamp(regexp_replace(value, ' +', ' ', 'g'), 'Mon DD YYYY HH24:MI:SS')::timestamp;
    ELSIF value ~ '^[A-Za-z]{3} +[0-9]{1,2} +[0-9]{4}$' THEN
        RETURN to_timestamp(regexp_replace(value, ' +', ' ', 'g'), 'Mon DD YYYY')::timestamp;
    END IF;
    RETURN value::timestamp;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- What registering a reference file means, from its name and primary header (keyword -> value):
-- {name, instrument, reftype, useafter, selection}. The type comes from the name's suffix or the
-- header's FILETYPE; the selection from the type's selection keywords the header gives a value
-- (ANY and N/A select everything). Raises RF003 with the reason when the header does not say.
CREATE OR REPLACE FUNCTION hst.reference_spec(file_name text, header jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    instrument text := upper(btrim(header->>'INSTRUME'));
    kind hst.reftype;
    useafter timestamp := hst.useafter_of(header->>'USEAFTER');
BEGIN
    IF coalesce(instrument, '') = '' THEN
        RAISE EXCEPTION '%: no INSTRUME keyword: not an HST reference file', file_name
            USING ERRCODE = 'RF003';
    END IF;
    kind := hst.reftype_of_file(instrument, file_name, header->>'FILETYPE');
    IF kind.reftype IS NULL THEN
        RAISE EXCEPTION '%: no % reference type has this file''s suffix or FILETYPE (%)',
            file_name, instrument, coalesce(header->>'FILETYPE', 'none') USING ERRCODE = 'RF003';
    END IF;
    IF useafter IS NULL THEN
        RAISE EXCEPTION '%: USEAFTER % is not a date', file_name,
            coalesce(quote_literal(header->>'USEAFTER'), 'missing') USING ERRCODE = 'RF003';
    END IF;
    RETURN jsonb_build_object(
        'name', file_name, 'instrument', kind.instrument, 'reftype', kind.reftype,
        'useafter', useafter,
        'selection', coalesce((SELECT jsonb_object_agg(k, jsonb_build_array(btrim(header->>k)))
                                 FROM unnest(kind.parkeys) k
                                WHERE coalesce(btrim(header->>k), '') NOT IN ('', 'ANY', 'N/A')),
                              '{}'));
END $$;

-- ---------------------------------------------------------------------------------------------
-- The tree
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION vospace.reference_tree() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'hst-refer' $$;

-- the tree and a container per prefix, the writers group's to write in
CREATE OR REPLACE FUNCTION vospace.ensure_reference_tree() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tree bigint := vospace.service_container(vospace.root(), vospace.reference_tree());
    writers text[] := ARRAY[hstvo.setting('writers_group')];
BEGIN
    PERFORM vospace.service_container(tree, location)
       FROM (SELECT DISTINCT location FROM hst.reference_location) l;
    UPDATE vospace.node SET group_write = writers, group_read = writers
     WHERE (id = tree OR parent = tree) AND group_write IS DISTINCT FROM writers;
END $$;

SELECT vospace.ensure_reference_tree();

-- the prefix a path puts a reference file under ('/hst-refer/jref/x.fits': jref), or NULL
-- when the path is not a file of the tree
CREATE OR REPLACE FUNCTION vospace.reference_location(path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN cardinality(n) = 3 AND n[1] = vospace.reference_tree() THEN n[2] END
      FROM vospace.path_names(path) n $$;

-- The upload of a reference file to `storage` is complete and verified: its node points at it
-- (vospace.finish_upload) and, in the same transaction, it is registered from its header
-- (spec: hst.reference_spec) and the datasets it is now the best reference for are enqueued.
-- Returns the file the node had before (to remove), and the datasets queued per instrument
-- and detector.
CREATE OR REPLACE FUNCTION vospace.reference_upload(path text, storage text, bytes bigint,
                                                    md5 text, content_type text, header jsonb)
RETURNS TABLE (previous text, dataset_instrument text, dataset_detector text, datasets bigint)
LANGUAGE plpgsql AS $$
DECLARE
    location text := vospace.reference_location(path);
    spec jsonb;
    belongs text;
    old_file text;
    counted bigint;
BEGIN
    IF location IS NULL THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s is not a file of /%s/<prefix>/',
                              path, vospace.reference_tree()));
    END IF;
    BEGIN
        spec := hst.reference_spec(vospace.last_name(path), header);
    EXCEPTION WHEN SQLSTATE 'RF003' THEN
        PERFORM vospace.fault(400, 'InvalidArgument', SQLERRM);
    END;
    SELECT l.location INTO belongs FROM hst.reference_location l WHERE l.instrument = spec->>'instrument';
    IF belongs IS DISTINCT FROM location THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('an %s reference file belongs in /%s/%s/, not /%s/%s/',
                              spec->>'instrument', vospace.reference_tree(), coalesce(belongs, '?'),
                              vospace.reference_tree(), location));
    END IF;
    old_file := vospace.finish_upload(path, storage, bytes, md5, content_type);
    -- reference files are public, as CRDS publishes them
    UPDATE vospace.node SET is_public = true WHERE id = (vospace.find(path)).id;
    RETURN QUERY
    SELECT old_file, r.dataset_instrument, r.dataset_detector, r.datasets
      FROM hst.register_reference_file(spec->>'name', spec->>'instrument', spec->>'reftype',
                                       (spec->>'useafter')::timestamp, spec->'selection') r;
    GET DIAGNOSTICS counted = ROW_COUNT;
    UPDATE hst.reference_file f
       SET vospace_path = vospace.join_path(vospace.path_names(reference_upload.path))
     WHERE f.file_name = spec->>'name';
    IF counted = 0 THEN
        RETURN QUERY SELECT old_file, NULL::text, NULL::text, 0::bigint;
    END IF;
END $$;

-- Deleting nodes: a reference file that datasets are calibrated with stays (PermissionDenied,
-- with how many); one that none uses leaves the registry too. Called by vospace.delete_node with
-- the nodes it is about to delete.
CREATE OR REPLACE FUNCTION vospace.release_references(doomed bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    used record;
BEGIN
    SELECT n.name, count(DISTINCT r.planeid) AS planes INTO used
      FROM vospace.node n JOIN hst.plane_reference_file r ON r.file_name = n.name
     WHERE n.id = ANY (doomed) AND n.kind = 'data'
       AND vospace.reference_location(vospace.path_of(n.id)) IS NOT NULL
     GROUP BY n.name LIMIT 1;
    IF FOUND THEN
        PERFORM vospace.fault(403, 'PermissionDenied', format(
            '%s is the reference file of %s datasets: it stays while they are calibrated with it',
            used.name, used.planes));
    END IF;
    DELETE FROM hst.reference_file f
     USING vospace.node n
     WHERE n.id = ANY (doomed) AND n.kind = 'data' AND f.vospace_path = vospace.path_of(n.id);
END $$;
