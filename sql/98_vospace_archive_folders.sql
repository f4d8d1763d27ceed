-- The archive as VOSpace folders, computed from CAOM, never copied (issue: "organised like a
-- file system"):
--
--   /HST_MOUNT_BY_TARGETS/<target>/<file>      every file of the planes of a target's observations
--   /HST_MOUNT_BY_PROPOSAL/<proposal>/<file>   every file of a proposal's planes
--   /HST_HIGH_LEVEL_PRODUCTS/<file>            the files of calibration level 3 planes (mosaics,
--                                              combined spectra)
--
-- Each <file> is a link node to the file's URL under /files/HST/, which enforces the data rights
-- when the bytes are fetched; a download through /vospace/files is sent there (303). The folders
-- list only what the caller may see: the planes whose metadata the access rules of
-- sql/92_access_rules.sql show it (the same functions as the row policies, applied here because
-- VOSpace reads as the service's own user). The three roots are real, public, read-only
-- containers of the service; everything under them is computed when asked for.

-- the three roots, and what selects their files
CREATE OR REPLACE FUNCTION vospace.archive_roots() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['HST_MOUNT_BY_TARGETS', 'HST_MOUNT_BY_PROPOSAL', 'HST_HIGH_LEVEL_PRODUCTS'] $$;

SELECT vospace.service_container(vospace.root(), r) FROM unnest(vospace.archive_roots()) r;

-- a target or proposal as a folder name (a name may not hold '/', '\' or control characters)
CREATE OR REPLACE FUNCTION vospace.folder_name(value text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(regexp_replace(value, '[\x01-\x1f\x7f/\\]', '_', 'g')), '') $$;

-- the files of the archive the caller may see, with what the folders group them by
CREATE OR REPLACE VIEW vospace.archive_files AS
SELECT vospace.folder_name(o.target_name) AS target_folder,
       vospace.folder_name(o.proposal_id) AS proposal_folder,
       p.calibrationlevel AS calibration_level,
       hstvo.artifact_file_name(a.uri) AS file_name,
       a.contentlength AS length,
       substring(a.contentchecksum FROM '^md5:(.*)$') AS md5,
       a.contenttype AS content_type,
       a.lastmodified AS modified,
       auth.released(p.datarelease) AS public_data
  FROM caom2.artifact a
  JOIN caom2.plane p ON p.planeid = a.planeid
  JOIN caom2.observation o ON o.obsid = p.obsid
 WHERE auth.plane_visible(p.metarelease, p.metareadgroups, p.obs_metarelease, p.obs_metareadgroups,
                          auth.caller_groups(), auth.caller_groups(), auth.caller_is_writer());
COMMENT ON VIEW vospace.archive_files IS
    'the archive''s files the caller may see, by target, proposal and calibration level (VOSpace folders)';

-- is this path (its names) inside one of the archive's folders?
CREATE OR REPLACE FUNCTION vospace.in_archive(names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT cardinality(names) >= 2 AND names[1] = ANY (vospace.archive_roots()) $$;

-- the files in a folder: (root, folder) for the first two roots, (root, NULL) for the third
CREATE OR REPLACE FUNCTION vospace.archive_folder_files(root_name text, folder text)
RETURNS SETOF vospace.archive_files LANGUAGE sql STABLE AS $$
    SELECT * FROM vospace.archive_files f
     WHERE CASE root_name
               WHEN 'HST_MOUNT_BY_TARGETS' THEN f.target_folder = folder
               WHEN 'HST_MOUNT_BY_PROPOSAL' THEN f.proposal_folder = folder
               ELSE f.calibration_level >= 3 AND folder IS NULL END $$;

CREATE OR REPLACE FUNCTION vospace.archive_link(f vospace.archive_files, path text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'uri', vospace.uri(path), 'path', path, 'kind', 'link',
        'target', hstvo.setting('service_url') || '/files/HST/' || f.file_name,
        'properties', jsonb_strip_nulls(jsonb_build_object(
            vospace.core('length'), f.length::text,
            vospace.core('date'), to_char(f.modified, 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
            vospace.core('MD5'), f.md5,
            vospace.core('type'), f.content_type,
            vospace.core('ispublic'), f.public_data::text))) $$;

CREATE OR REPLACE FUNCTION vospace.archive_container(path text, total bigint, newest timestamp)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'uri', vospace.uri(path), 'path', path, 'kind', 'container', 'target', NULL,
        'properties', jsonb_strip_nulls(jsonb_build_object(
            vospace.core('length'), coalesce(total, 0)::text,
            vospace.core('date'), to_char(coalesce(newest, now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
            vospace.core('ispublic'), 'true'))) $$;

-- the node at a path inside the archive's folders: a folder, or a file's link (NodeNotFound)
CREATE OR REPLACE FUNCTION vospace.archive_node(names text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    path text := vospace.join_path(names);
    folder text := CASE WHEN names[1] <> 'HST_HIGH_LEVEL_PRODUCTS' THEN names[2] END;
    file text := CASE WHEN folder IS NULL THEN names[2] ELSE names[3] END;
    depth int := CASE WHEN folder IS NULL THEN 2 ELSE 3 END;
    found jsonb;
BEGIN
    IF cardinality(names) > depth THEN
        found := NULL;
    ELSIF cardinality(names) = depth THEN
        SELECT vospace.archive_link(f, path) INTO found
          FROM vospace.archive_folder_files(names[1], folder) f WHERE f.file_name = file LIMIT 1;
    ELSE
        SELECT CASE WHEN count(*) > 0 THEN vospace.archive_container(path, sum(f.length)::bigint, max(f.modified)) END
          INTO found FROM vospace.archive_folder_files(names[1], folder) f;
    END IF;
    IF found IS NULL THEN
        PERFORM vospace.fault(404, 'NodeNotFound', path);
    END IF;
    RETURN found;
END $$;

-- a page of a folder's children, by name from `start` (included), at most `page_size`
CREATE OR REPLACE FUNCTION vospace.archive_children(names text[], start text, page_size int)
RETURNS SETOF jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    base text := rtrim(vospace.join_path(names), '/');
BEGIN
    IF cardinality(names) = 1 AND names[1] <> 'HST_HIGH_LEVEL_PRODUCTS' THEN
        RETURN QUERY
        SELECT vospace.archive_container(base || '/' || folder, total, newest)
          FROM (SELECT CASE names[1] WHEN 'HST_MOUNT_BY_TARGETS' THEN f.target_folder
                                     ELSE f.proposal_folder END AS folder,
                       sum(f.length)::bigint AS total, max(f.modified) AS newest
                  FROM vospace.archive_files f GROUP BY 1) folders
         WHERE folder IS NOT NULL AND (start IS NULL OR folder >= start)
         ORDER BY folder LIMIT page_size;
    ELSIF cardinality(names) = 1 OR cardinality(names) = 2 AND names[1] <> 'HST_HIGH_LEVEL_PRODUCTS' THEN
        RETURN QUERY
        SELECT vospace.archive_link(f, base || '/' || f.file_name)
          FROM (SELECT DISTINCT ON (x.file_name) x.*
                  FROM vospace.archive_folder_files(names[1], names[2]) x
                 WHERE start IS NULL OR x.file_name >= start
                 ORDER BY x.file_name) f
         ORDER BY f.file_name LIMIT page_size;
    END IF;
END $$;
