-- Extensions and schemas.
--   caom2      the CAOM 2.4 model (tables, checksums, persistence functions)
--   ivoa       IVOA-standard views (ObsCore)
--   tap_schema TAP 1.1's self-description, derived from the catalog
--   hstvo      the site's own settings and bookkeeping
CREATE EXTENSION IF NOT EXISTS pg_sphere;

CREATE SCHEMA IF NOT EXISTS caom2;
CREATE SCHEMA IF NOT EXISTS ivoa;
CREATE SCHEMA IF NOT EXISTS tap_schema;
CREATE SCHEMA IF NOT EXISTS hstvo;

-- Site settings a DBA can read and change from psql (publisher authority, service URL, ...).
CREATE TABLE IF NOT EXISTS hstvo.setting (
    name  text PRIMARY KEY,
    value text NOT NULL,
    description text
);
INSERT INTO hstvo.setting (name, value, description) VALUES
    ('publisher_authority', 'ivo://hstvo.example',
     'IVOA authority of this archive; Plane.publisherID = {authority}/{collection}?{observationID}/{productID}'),
    ('service_url', 'http://127.0.0.1:8080',
     'public base URL of the HTTP service; ObsCore access_url points to its DataLink endpoint')
ON CONFLICT (name) DO NOTHING;

-- public: a value anyone may learn (the TAP query role reads only these, sql/62_tap_role.sql);
-- everything else (a write token, ...) is readable only by the service's own user
ALTER TABLE hstvo.setting ADD COLUMN IF NOT EXISTS public boolean NOT NULL DEFAULT false;
UPDATE hstvo.setting SET public = true
 WHERE name IN ('publisher_authority', 'service_url') AND NOT public;

-- set the public base URL (a server sets the one it answers at); returns the one it replaced
CREATE OR REPLACE FUNCTION hstvo.set_service_url(url text) RETURNS text
LANGUAGE sql AS $$
    UPDATE hstvo.setting s SET value = url
      FROM (SELECT value FROM hstvo.setting WHERE name = 'service_url') AS old
     WHERE s.name = 'service_url'
    RETURNING old.value $$;

-- (PARALLEL SAFE: ivoa.ObsCore names it, and a query that names an unsafe function anywhere,
-- even in a column it does not select, is never run in parallel)
CREATE OR REPLACE FUNCTION hstvo.setting(setting_name text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$ BEGIN RETURN (SELECT value FROM hstvo.setting WHERE name = setting_name); END $$;
