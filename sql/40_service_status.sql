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

-- hstvo.registry: the archive's services as CADC's registry lists them (resource-caps), one row
-- per service with a VOSI capabilities document. cadcutils-based clients (caom2-repo, cadc-tap,
-- cadc-data) resolve an ivo:// resource ID through such a list; the service serves it at
-- /reg/resource-caps and `hstvo registry` writes it where cadcutils looks for it.
CREATE OR REPLACE FUNCTION hstvo.registry(base_url text)
RETURNS TABLE (resource_id text, capabilities_url text)
LANGUAGE sql STABLE AS
$$
SELECT hstvo.setting('publisher_authority') || '/' || service,
       rtrim(base_url, '/') || '/' || service || '/capabilities'
  FROM unnest(ARRAY['caom2repo', 'gms', 'tap']) AS service
 ORDER BY service
$$;
