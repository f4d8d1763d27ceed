-- What the landing page and VOSI availability report about the archive.

-- hstvo.archive_summary: counts and freshness of the archive, one JSON object
CREATE OR REPLACE FUNCTION hstvo.archive_summary() RETURNS jsonb
LANGUAGE sql STABLE AS
$$
SELECT jsonb_build_object(
    'observations', (SELECT count(*) FROM caom2.observation),
    'planes', (SELECT count(*) FROM caom2.plane),
    'artifacts', (SELECT count(*) FROM caom2.artifact),
    'obscore_rows', (SELECT count(*) FROM ivoa.obscore),
    'collections', (SELECT coalesce(jsonb_agg(DISTINCT collection), '[]') FROM caom2.observation),
    'last_modified', (SELECT max(maxlastmodified) FROM caom2.observation),
    'schema_revision', (SELECT version_num FROM public.alembic_version LIMIT 1))
$$;
