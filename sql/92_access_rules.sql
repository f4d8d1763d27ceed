-- Who may see what: proprietary metadata and data, enforced by PostgreSQL's row security.
--
-- CAOM 2.4's rules: an observation, or a plane, may be seen by everyone once its metaRelease
-- has passed (a NULL metaRelease declares no embargo), and before that by the members of its
-- metaReadGroups; a plane's files may be read once its dataRelease has passed, or by the
-- members of its dataReadGroups. Membership counts through nested groups (auth.user_groups).
-- Children inherit: a plane is seen only when its observation is too, an artifact, part or
-- chunk only when its plane is.
--
-- The rules are row policies on the caom2 tables, so they hold for every reader that is not
-- the tables' owner: the TAP query role (hstvo_tap), and hstvo_reader, the role every read
-- path of the service (DataLink, SODA, /files, MOC, the repository's reads, the landing page)
-- takes for its transaction. ivoa.ObsCore and caom2.EnumField belong to hstvo_reader, so the
-- rules apply inside them too. Writers (ingest, the repository's writes, harvest, the worker)
-- write as the owner and see everything.
--
-- The caller's groups come from (SELECT auth.caller_groups()): once per statement. A plane
-- carries its observation's rules (obs_metarelease, obs_metareadgroups, kept by triggers), so
-- that its policy reads only its own row.

SELECT hstvo.ensure_role('hstvo_reader', 'the service''s reads are not bound by the access rules');

-- ---------------------------------------------------------------------------------------------
-- The rules
-- ---------------------------------------------------------------------------------------------

-- Released (or never embargoed): what nearly every row is. It is tested from the row's own
-- column and the clock, with builtins only, so that PostgreSQL estimates it from the statistics
-- made below and plans a policed query as it plans an open one (an unknown value, such as a
-- per-statement parameter, would be guessed to pass one row in three, and a streamed ObsCore
-- query would hash the whole plane table before its first row).
CREATE OR REPLACE FUNCTION auth.released(release timestamp) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(release, '-infinity'::timestamp) <= caom2.now_utc() $$;

-- does the caller belong to one of the groups a row names (CAOM's space-separated group URIs)?
CREATE OR REPLACE FUNCTION auth.granted(read_groups text, caller_groups text[])
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT read_groups IS NOT NULL
       AND regexp_split_to_array(btrim(read_groups), '\s+') && caller_groups $$;

-- metadata: public once released, else for the groups named, and for the writers, who see
-- everything (they may write it all anyway: workers, harvesters, the archive's staff).
-- `caller_groups` is (SELECT auth.caller_groups()) and `writer` (SELECT auth.caller_is_writer()):
-- PostgreSQL evaluates each at most once per statement, and only when the statement meets a
-- row not yet released, so that a query over public rows pays nothing for who is asking.
-- Both verify the caller's signed identity: a forged one is an error wherever it could matter.
-- Each argument that is not a column is used once, so that PostgreSQL inlines the function
-- into the policy.
CREATE OR REPLACE FUNCTION auth.meta_visible(release timestamp, read_groups text,
                                             caller_groups text[], writer boolean)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT auth.released(release) OR auth.granted(read_groups, caller_groups) OR writer $$;

-- a plane: its own rules and its observation's (carried on the plane)
CREATE OR REPLACE FUNCTION auth.plane_visible(release timestamp, read_groups text,
                                              obs_release timestamp, obs_read_groups text,
                                              caller_groups text[], again text[], writer boolean)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ((auth.released(release) OR auth.granted(read_groups, caller_groups))
            AND (auth.released(obs_release) OR auth.granted(obs_read_groups, again)))
        OR writer $$;

-- data (files, cutouts): the same rule, on the plane's dataRelease and dataReadGroups (a NULL
-- dataRelease declares no embargo, as for metadata: the HST ingest always sets one)
CREATE OR REPLACE FUNCTION auth.data_readable(release timestamp, read_groups text,
                                              caller_groups text[], writer boolean)
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT auth.meta_visible(release, read_groups, caller_groups, writer) $$;

-- ---------------------------------------------------------------------------------------------
-- A plane carries its observation's rules
-- ---------------------------------------------------------------------------------------------

DROP POLICY IF EXISTS meta_rules ON caom2.observation;
DROP POLICY IF EXISTS meta_rules ON caom2.plane;
-- (until 0018 the rules compared a per-statement horizon, auth.caller_horizon, which hid from
-- PostgreSQL's estimates how many rows they pass)
DROP FUNCTION IF EXISTS auth.meta_visible(timestamp, text, text[], timestamp);
DROP FUNCTION IF EXISTS auth.plane_visible(timestamp, text, timestamp, text, text[], text[],
                                           timestamp, timestamp);
DROP FUNCTION IF EXISTS auth.data_readable(timestamp, text, text[], timestamp);
DROP FUNCTION IF EXISTS auth.caller_horizon();
-- (the columns obs_metarelease and obs_metareadgroups: sql/20_ivoa_obscore.sql adds them, as
-- ObsCore's rows carry them too)
INSERT INTO tap_schema.column_annotation
    (table_name, column_name, published, description, unit, principal, column_index) VALUES
    ('caom2.Plane', 'obs_metarelease', false, 'the observation''s metaRelease (access rules)', NULL, 0, NULL),
    ('caom2.Plane', 'obs_metareadgroups', false, 'the observation''s metaReadGroups (access rules)', NULL, 0, NULL)
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION auth.plane_takes_observation_rules() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT o.metarelease, o.metareadgroups INTO NEW.obs_metarelease, NEW.obs_metareadgroups
      FROM caom2.observation o WHERE o.obsid = NEW.obsid;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS plane_observation_rules ON caom2.plane;
CREATE TRIGGER plane_observation_rules BEFORE INSERT OR UPDATE OF obsid ON caom2.plane
    FOR EACH ROW EXECUTE FUNCTION auth.plane_takes_observation_rules();

CREATE OR REPLACE FUNCTION auth.observation_rules_to_planes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE caom2.plane p SET obs_metarelease = NEW.metarelease,
                             obs_metareadgroups = NEW.metareadgroups
     WHERE p.obsid = NEW.obsid
       AND (p.obs_metarelease, p.obs_metareadgroups)
           IS DISTINCT FROM (NEW.metarelease, NEW.metareadgroups);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS observation_rules_to_planes ON caom2.observation;
CREATE TRIGGER observation_rules_to_planes AFTER UPDATE OF metarelease, metareadgroups
    ON caom2.observation FOR EACH ROW
    WHEN ((OLD.metarelease, OLD.metareadgroups) IS DISTINCT FROM (NEW.metarelease, NEW.metareadgroups))
    EXECUTE FUNCTION auth.observation_rules_to_planes();

-- planes stored before the rules existed
UPDATE caom2.plane p SET obs_metarelease = o.metarelease, obs_metareadgroups = o.metareadgroups
  FROM caom2.observation o
 WHERE o.obsid = p.obsid
   AND (p.obs_metarelease, p.obs_metareadgroups) IS DISTINCT FROM (o.metarelease, o.metareadgroups);

-- ---------------------------------------------------------------------------------------------
-- Row policies (PUBLIC: every role but the owner; the owner writes)
-- ---------------------------------------------------------------------------------------------

DROP POLICY IF EXISTS meta_rules ON caom2.observation;
CREATE POLICY meta_rules ON caom2.observation FOR SELECT TO PUBLIC
    USING (auth.meta_visible(metarelease, metareadgroups, (SELECT auth.caller_groups()),
                             (SELECT auth.caller_is_writer())));
ALTER TABLE caom2.observation ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS meta_rules ON caom2.plane;
CREATE POLICY meta_rules ON caom2.plane FOR SELECT TO PUBLIC
    USING (auth.plane_visible(metarelease, metareadgroups, obs_metarelease, obs_metareadgroups,
                              (SELECT auth.caller_groups()), (SELECT auth.caller_groups()),
                              (SELECT auth.caller_is_writer())));
ALTER TABLE caom2.plane ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    child text;
BEGIN
    FOREACH child IN ARRAY ARRAY['artifact', 'part', 'chunk'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS meta_rules ON caom2.%I', child);
        EXECUTE format('CREATE POLICY meta_rules ON caom2.%I FOR SELECT TO PUBLIC USING '
                       '(EXISTS (SELECT 1 FROM caom2.plane p WHERE p.planeid = %I.planeid))',
                       child, child);
        EXECUTE format('ALTER TABLE caom2.%I ENABLE ROW LEVEL SECURITY', child);
    END LOOP;
END $$;

-- what the estimates of auth.released read (see above): the distribution of the release
-- times as the rules compare them. ANALYZE fills them; a database that has never been
-- analysed since they were made is analysed now (a sample: seconds even for millions of rows).
CREATE STATISTICS IF NOT EXISTS caom2.observation_meta_released
    ON (coalesce(metarelease, '-infinity'::timestamp)) FROM caom2.observation;
CREATE STATISTICS IF NOT EXISTS caom2.plane_meta_released
    ON (coalesce(metarelease, '-infinity'::timestamp)) FROM caom2.plane;
CREATE STATISTICS IF NOT EXISTS caom2.plane_obs_meta_released
    ON (coalesce(obs_metarelease, '-infinity'::timestamp)) FROM caom2.plane;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_stats_ext_exprs WHERE statistics_schemaname = 'caom2'
                      AND statistics_name = 'plane_meta_released') THEN
        ANALYZE caom2.observation, caom2.plane;
    END IF;
END $$;

-- ObsCore's rows carry their plane's rules and its observation's (sql/20_ivoa_obscore.sql),
-- and the time from which everyone may see them: compared with the clock read once per
-- statement, that is the whole test for a public row (ObsCore is one table: no join order
-- hangs on the estimate, and COUNT(*) over a million rows pays one comparison each)
DROP POLICY IF EXISTS meta_rules ON hstvo.obscore_rows;
CREATE POLICY meta_rules ON hstvo.obscore_rows FOR SELECT TO PUBLIC
    USING (public_from <= (SELECT caom2.now_utc())
           OR auth.plane_visible(metarelease, metareadgroups, obs_metarelease, obs_metareadgroups,
                                 (SELECT auth.caller_groups()), (SELECT auth.caller_groups()),
                                 (SELECT auth.caller_is_writer())));
ALTER TABLE hstvo.obscore_rows ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS meta_rules ON caom2.provenanceinput;
CREATE POLICY meta_rules ON caom2.provenanceinput FOR SELECT TO PUBLIC
    USING (EXISTS (SELECT 1 FROM caom2.plane p WHERE p.planeid = provenanceinput.outputid));
ALTER TABLE caom2.provenanceinput ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS meta_rules ON caom2.observationmember;
CREATE POLICY meta_rules ON caom2.observationmember FOR SELECT TO PUBLIC
    USING (EXISTS (SELECT 1 FROM caom2.observation o WHERE o.obsid = observationmember.parentid));
ALTER TABLE caom2.observationmember ENABLE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------------------------
-- hstvo_reader: what the service's read paths may read, under the policies
-- ---------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hstvo_reader') THEN
        GRANT USAGE ON SCHEMA caom2, ivoa, hst, hstvo, tap_schema, adql, votable TO hstvo_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA caom2, ivoa, hst, tap_schema TO hstvo_reader;
        -- ... and the tables later migrations create there
        ALTER DEFAULT PRIVILEGES IN SCHEMA caom2, ivoa, hst, tap_schema
            GRANT SELECT ON TABLES TO hstvo_reader;
        GRANT SELECT (name, value) ON hstvo.setting TO hstvo_reader;
        GRANT SELECT ON hstvo.file_root TO hstvo_reader;
        GRANT SELECT ON hstvo.obscore_rows TO hstvo_reader;   -- under its row policy
        GRANT SELECT ON public.alembic_version TO hstvo_reader;  -- the landing page's revision
        -- the coverage cache is filled on first read (sql/81_moc.sql)
        GRANT SELECT, INSERT, UPDATE, DELETE ON hstvo.moc_cache TO hstvo_reader;
        DROP POLICY IF EXISTS reader_public_settings ON hstvo.setting;
        CREATE POLICY reader_public_settings ON hstvo.setting FOR SELECT TO hstvo_reader
            USING (public);
        -- the views answer with the rules of their owner's reads: hstvo_reader's
        ALTER VIEW ivoa.obscore OWNER TO hstvo_reader;
        ALTER VIEW caom2.enumfield OWNER TO hstvo_reader;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot give hstvo_reader its grants (%): a DBA must run hstvo db upgrade as the tables'' owner', SQLERRM;
END $$;

-- pgsphere's comparison operators are pure computations on their two arguments: marked
-- LEAKPROOF, row policies still let PostgreSQL use the GiST indexes for them (a policy
-- otherwise forces a user's condition to wait until after the policy, row by row). Only a
-- superuser can mark them; without it, position queries are correct but slower.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT DISTINCT o.oprcode::regprocedure FROM pg_operator o
              WHERE o.oprname IN ('&&', '<@', '@>', '<->', '=', '<>', '!&&')
                AND o.oprleft::regtype::text IN ('spoint', 'scircle', 'spoly', 'sbox')
                AND o.oprright::regtype::text IN ('spoint', 'scircle', 'spoly', 'sbox') LOOP
        EXECUTE format('ALTER FUNCTION %s LEAKPROOF', f);
    END LOOP;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pgsphere''s operators are not marked LEAKPROOF (needs a superuser): position queries under access rules will not use their indexes';
END $$;

-- ---------------------------------------------------------------------------------------------
-- Data rights: what /files, SODA and DataLink ask
-- ---------------------------------------------------------------------------------------------

-- what the caller may do with a plane's files: 'public' (released), 'granted' (a member of
-- its dataReadGroups), 'denied'; NULL when the plane is unknown or hidden from the caller
CREATE OR REPLACE FUNCTION auth.plane_data_access(plane uuid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.datarelease IS NULL OR p.datarelease <= caom2.now_utc() THEN 'public'
                WHEN auth.data_readable(p.datarelease, p.datareadgroups, auth.caller_groups(),
                                        auth.caller_is_writer()) THEN 'granted'
                ELSE 'denied' END
      FROM caom2.plane p WHERE p.planeid = plane $$;

-- the same for a file /files serves: reference files are public; a science file follows its
-- plane. NULL when there is no such file, or its plane is hidden from the caller.
CREATE OR REPLACE FUNCTION hstvo.file_access(area text, file_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE area
        WHEN 'reference' THEN (SELECT 'public' FROM hst.reference_file r
                                WHERE r.file_name = file_access.file_name)
        WHEN 'HST' THEN (SELECT auth.plane_data_access(p.planeid)
                           FROM hst.archive_file f
                           JOIN caom2.observation o ON o.observationid = f.observationid
                           JOIN caom2.plane p ON p.obsid = o.obsid AND p.productid = f.product_id
                          WHERE f.file_name = file_access.file_name)
    END $$;
