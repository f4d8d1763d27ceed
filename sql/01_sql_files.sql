-- Which version of each sql/ file this database holds: its SHA-256 when it was last applied.
--
-- The files are idempotent (tests/test_migrations.py replays them all), and an alembic
-- migration applies the ones it names with their content of the day. A file changed later
-- without a migration naming it again would be missed by databases upgraded from before the
-- change; `hstvo db upgrade` (hstvo.db.upgrade) therefore compares every file with what was
-- recorded here and, when any differs, applies them all again, in order, in one transaction.

CREATE TABLE IF NOT EXISTS hstvo.sql_file (
    name     text PRIMARY KEY,
    sha256   text NOT NULL,
    applied  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hstvo.sql_file IS 'the SHA-256 of each sql/ file as last applied (hstvo db upgrade)';

CREATE OR REPLACE FUNCTION hstvo.record_sql_file(file_name text, digest text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO hstvo.sql_file (name, sha256) VALUES (file_name, digest)
    ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, applied = now() $$;

-- of the files given (names, and the SHA-256 of their content now), those whose recorded
-- version differs or was never recorded
CREATE OR REPLACE FUNCTION hstvo.changed_sql_files(names text[], digests text[])
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT f.name FROM unnest(names, digests) AS f(name, digest)
     WHERE NOT EXISTS (SELECT 1 FROM hstvo.sql_file s WHERE s.name = f.name AND s.sha256 = f.digest)
     ORDER BY f.name $$;
