-- Where the archive keeps the files it serves under /files (pyserver/files.py): science files
-- as ingested (hst.archive_file.path), reference files as registered (hst.reference_file.path).
-- Paths are absolute, and a file is served only when it lies inside a file root: a directory
-- files were ingested from (hstvo ingest registers them), or the service's storage directory
-- (HSTVO_STORAGE, where workers' products go). A row pointing elsewhere serves nothing.

CREATE TABLE IF NOT EXISTS hstvo.file_root (
    path   text PRIMARY KEY CHECK (path LIKE '/%'),   -- an absolute directory
    added  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hstvo.file_root IS 'directories the archive serves files from (/files, SODA); a DBA may remove one to stop serving it';

-- record the directories of ingested files as file roots (those under a root already are not)
CREATE OR REPLACE FUNCTION hstvo.add_file_roots(directories text[]) RETURNS integer
LANGUAGE sql AS $$
WITH new AS (
    INSERT INTO hstvo.file_root (path)
    SELECT DISTINCT d FROM unnest(directories) AS d
     WHERE d LIKE '/%' AND NOT EXISTS (SELECT 1 FROM hstvo.file_root r
                                        WHERE d = r.path OR d LIKE r.path || '/%')
    ON CONFLICT (path) DO NOTHING
    RETURNING 1)
SELECT count(*)::integer FROM new $$;

CREATE OR REPLACE FUNCTION hstvo.file_roots() RETURNS text[]
LANGUAGE sql STABLE AS $$ SELECT coalesce(array_agg(path ORDER BY path), '{}') FROM hstvo.file_root $$;

-- the path of a file: `area` is HST (science files) or reference; NULL when unknown
CREATE OR REPLACE FUNCTION hstvo.file_path(area text, file_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE area
        WHEN 'HST' THEN (SELECT f.path FROM hst.archive_file f WHERE f.file_name = file_path.file_name)
        WHEN 'reference' THEN (SELECT r.path FROM hst.reference_file r
                                WHERE r.file_name = file_path.file_name)
    END $$;

-- the checksum the archive recorded for a file (an opaque validator: ETag)
CREATE OR REPLACE FUNCTION hstvo.file_checksum(area text, file_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE area
        WHEN 'HST' THEN (SELECT f.checksum FROM hst.archive_file f
                          WHERE f.file_name = file_checksum.file_name)
    END $$;
