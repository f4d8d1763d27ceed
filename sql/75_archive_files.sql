-- Where the archive keeps the files it serves under /files (pyserver/files.py): science files
-- as ingested (hst.archive_file.path), reference files as registered (hst.reference_file.path).

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
