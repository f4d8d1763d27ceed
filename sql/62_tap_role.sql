-- The role TAP queries run as (SET LOCAL ROLE hstvo_tap, in a read-only transaction): it can
-- read exactly what TAP_SCHEMA publishes, column by column, and nothing else of the archive
-- (not the ingest registry, not other users' UWS jobs, not the settings). The ADQL translator
-- already refuses unknown names; this is the database's own guarantee of the same rule.
--
-- Creating a role needs CREATEROLE: where the migrating user lacks it, a DBA creates
-- hstvo_tap once (CREATE ROLE hstvo_tap NOLOGIN) and re-runs `hstvo db upgrade`; until then
-- the service logs a warning and relies on the translator alone.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hstvo_tap') THEN
        CREATE ROLE hstvo_tap NOLOGIN;
    END IF;
    -- the service's own user may become hstvo_tap
    EXECUTE format('GRANT hstvo_tap TO %I', current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot create or grant role hstvo_tap (%): TAP queries will run as the service user', SQLERRM;
END $$;

-- grant `role` SELECT on every published column and USAGE on their schemas; returns the
-- number of columns granted. Run again after TAP_SCHEMA changes (the migration does).
CREATE OR REPLACE FUNCTION tap_schema.grant_published(role name DEFAULT 'hstvo_tap')
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    t record;
    granted integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
        RETURN 0;
    END IF;
    FOR t IN SELECT c.table_name, string_agg(quote_ident(tap_schema.db_column(c.column_name)), ', ') AS cols,
                    count(*) AS n
               FROM tap_schema.columns c GROUP BY c.table_name LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', split_part(lower(t.table_name), '.', 1), role);
        EXECUTE format('GRANT SELECT (%s) ON %s TO %I', t.cols, lower(t.table_name), role);
        granted := granted + t.n;
    END LOOP;
    EXECUTE format('GRANT USAGE ON SCHEMA adql TO %I', role);
    -- ObsCore's access_url and publisher DIDs come from functions that read the service's
    -- public configuration (service URL, authority): keep secrets out of hstvo.setting
    EXECUTE format('GRANT USAGE ON SCHEMA hstvo TO %I', role);
    EXECUTE format('GRANT SELECT (name, value) ON hstvo.setting TO %I', role);
    RETURN granted;
END $$;

SELECT tap_schema.grant_published();
