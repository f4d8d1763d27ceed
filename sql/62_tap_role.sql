-- The role TAP queries run as (SET LOCAL ROLE hstvo_tap, in a read-only transaction): it can
-- read exactly what TAP_SCHEMA publishes, column by column, and nothing else of the archive
-- (not the ingest registry, not other users' UWS jobs, not the settings). The ADQL translator
-- already refuses unknown names; this is the database's own guarantee of the same rule.
--
-- Creating a role needs CREATEROLE: where the migrating user lacks it, a DBA creates
-- hstvo_tap once (CREATE ROLE hstvo_tap NOLOGIN) and re-runs `hstvo db upgrade`; until then
-- the service logs a warning and relies on the translator alone.

-- a NOLOGIN role the migrating (service) user may become; a warning saying what a DBA must
-- do where the migrating user may not create or grant roles. hstvo_reader (sql/92) too.
CREATE OR REPLACE FUNCTION hstvo.ensure_role(role name, without text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN', role);
    END IF;
    EXECUTE format('GRANT %I TO %I', role, current_user);
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot create or grant role % (%): %; a DBA creates it (CREATE ROLE % NOLOGIN) and re-runs hstvo db upgrade',
        role, SQLERRM, without, role;
END $$;

SELECT hstvo.ensure_role('hstvo_tap', 'TAP queries will run as the service user');

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
    -- the pgsphere column that geometry functions on caom2.Plane.position_bounds read
    -- (pyserver/adql/translate.py, QUERY_GEOMETRY)
    EXECUTE format('GRANT SELECT (position_bounds_spoly) ON caom2.plane TO %I', role);
    -- ... and the indexed point that POINT(s_ra, s_dec) reads in ObsCore (INDEXED_POINTS)
    EXECUTE format('GRANT SELECT (position_bounds_center) ON ivoa.obscore TO %I', role);
    -- ... and ObsCore's rows stored written out, which a full-width query streams
    -- (sql/64_obscore_written_rows.sql)
    EXECUTE format('GRANT SELECT (tabledata_row, csv_row, binary2_row) ON ivoa.obscore TO %I',
                   role);
    -- ObsCore's access_url and publisher DIDs come from functions that read the service's
    -- public configuration (service URL, authority): keep secrets out of hstvo.setting
    EXECUTE format('GRANT USAGE ON SCHEMA hstvo TO %I', role);
    EXECUTE format('GRANT SELECT (name, value) ON hstvo.setting TO %I', role);
    -- ... and of those rows only the public ones (a policy: the owner is not bound by it)
    DROP POLICY IF EXISTS public_settings_only ON hstvo.setting;
    EXECUTE format('CREATE POLICY public_settings_only ON hstvo.setting FOR SELECT TO %I '
                   'USING (public)', role);
    ALTER TABLE hstvo.setting ENABLE ROW LEVEL SECURITY;
    RETURN granted;
END $$;

-- What every role may read of PostgreSQL itself by default, and the query role must not, even
-- with raw SQL: server settings, who else is connected and what they run, role and database
-- names, and the source of functions. Taken from PUBLIC in this database and given back to
-- the service's own user (and PostgreSQL's monitoring roles); relation and type names stay
-- readable, as drivers need them, and so does current_setting() (transaction flags of the
-- CAOM triggers are read with it by every writer; the secret settings are superuser-only). Only a superuser can change these catalog privileges: where
-- the migrating user is not one, a notice says what a DBA runs (SELECT hstvo.close_catalogs()).
CREATE OR REPLACE FUNCTION hstvo.close_catalogs(service_user name DEFAULT current_user)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    item text;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'not a superuser: PostgreSQL''s catalogs stay readable by the TAP query role '
                     '(a superuser runs SELECT hstvo.close_catalogs(%L))', service_user;
        RETURN;
    END IF;
    FOREACH item IN ARRAY ARRAY['pg_catalog.pg_settings', 'pg_catalog.pg_file_settings',
            'pg_catalog.pg_stat_activity', 'pg_catalog.pg_roles', 'pg_catalog.pg_user',
            'pg_catalog.pg_database', 'pg_catalog.pg_db_role_setting',
            'pg_catalog.pg_stat_statements', 'pg_catalog.pg_hba_file_rules'] LOOP
        IF to_regclass(item) IS NOT NULL THEN
            EXECUTE format('REVOKE SELECT ON %s FROM PUBLIC', item);
            EXECUTE format('GRANT SELECT ON %s TO %I, pg_monitor', item, service_user);
        END IF;
    END LOOP;
    FOREACH item IN ARRAY ARRAY['pg_catalog.pg_show_all_settings()',
            'pg_catalog.pg_stat_get_activity(integer)', 'pg_catalog.pg_get_functiondef(oid)',
            'pg_catalog.pg_stat_get_backend_activity(integer)',
            'pg_catalog.pg_stat_get_backend_userid(integer)',
            'pg_catalog.pg_stat_get_backend_dbid(integer)',
            'pg_catalog.pg_settings_get_flags(text)'] LOOP
        IF to_regprocedure(item) IS NOT NULL THEN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', item);
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I, pg_monitor', item, service_user);
        END IF;
    END LOOP;
    -- pg_proc: every column but the source and per-function settings
    REVOKE SELECT ON pg_catalog.pg_proc FROM PUBLIC;
    EXECUTE format('GRANT SELECT ON pg_catalog.pg_proc TO %I, pg_monitor', service_user);
    EXECUTE (SELECT format('GRANT SELECT (%s) ON pg_catalog.pg_proc TO PUBLIC',
                           string_agg(quote_ident(attname), ', '))
               FROM pg_attribute WHERE attrelid = 'pg_catalog.pg_proc'::regclass AND attnum > 0
                AND attname NOT IN ('prosrc', 'probin', 'proconfig'));
END $$;

SELECT tap_schema.grant_published();
SELECT hstvo.close_catalogs();
