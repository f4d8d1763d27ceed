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

-- A directory and every directory above it, nearest first: '/a/b' -> {/a/b, /a, /}; NULL for a
-- relative path. Whether a path lies inside a file root is then a lookup of these in
-- file_root's key: an archive ingested a directory at a time holds hundreds of thousands of
-- roots, and matching each root's path as a pattern read all of them (a minute for each
-- 5,000 directories at 180,000 roots; the file service listed them all for every file).
CREATE OR REPLACE FUNCTION hstvo.directory_ancestors(directory text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN directory NOT LIKE '/%' THEN NULL
            WHEN rtrim(directory, '/') = '' THEN ARRAY['/']
            ELSE (SELECT array_agg(CASE WHEN k = 1 THEN '/' ELSE array_to_string(parts[1:k], '/') END
                                   ORDER BY k DESC)
                    FROM (SELECT string_to_array(rtrim(directory, '/'), '/') AS parts) AS p,
                         generate_series(1, cardinality(parts)) AS k) END $$;

-- whether a directory is a file root or lies inside one (a root recorded with a trailing '/'
-- counts too): a key lookup per directory above it
CREATE OR REPLACE FUNCTION hstvo.under_file_root(directory text) RETURNS boolean
LANGUAGE sql STABLE AS $$
SELECT EXISTS (SELECT 1 FROM unnest(hstvo.directory_ancestors(directory)) AS up(dir)
                 JOIN hstvo.file_root r ON r.path = ANY (ARRAY[up.dir, up.dir || '/'])) $$;

-- whether the archive may serve a file from this path: it lies inside a file root. The path
-- is the file's real path (pyserver/files.py resolves symbolic links and '..' first), and so
-- are the roots (hstvo ingest and hstvo reffile add record resolved directories).
CREATE OR REPLACE FUNCTION hstvo.in_file_root(file_path text) RETURNS boolean
LANGUAGE sql STABLE AS $$
SELECT file_path LIKE '/%_'
   AND hstvo.under_file_root(coalesce(nullif(regexp_replace(file_path, '/[^/]*$', ''), ''), '/')) $$;

-- record the directories of ingested files as file roots: those under a root already, or
-- under another of the same call, are not (a call brings thousands of directories)
CREATE OR REPLACE FUNCTION hstvo.add_file_roots(directories text[]) RETURNS integer
LANGUAGE sql AS $$
WITH given AS (
    SELECT d, hstvo.directory_ancestors(d) AS dirs
      FROM (SELECT DISTINCT d FROM unnest(directories) AS d WHERE d LIKE '/%') AS u
), nested AS (  -- given directories inside another given one
    SELECT DISTINCT g.d
      FROM given g CROSS JOIN LATERAL unnest(g.dirs[2:]) AS up(dir)
      JOIN given o ON o.d = up.dir
), new AS (
    INSERT INTO hstvo.file_root (path)
    SELECT g.d FROM given g
     WHERE NOT EXISTS (SELECT 1 FROM nested n WHERE n.d = g.d) AND NOT hstvo.under_file_root(g.d)
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
