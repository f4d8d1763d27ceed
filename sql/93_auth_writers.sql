-- Who may write: the members of the writers group (directly or through nested groups). The
-- repository service's PUT, POST and DELETE and the workers' uploads to /files ask
-- auth.may_write; writers then write as the tables' owner, so they see every row.

INSERT INTO hstvo.setting (name, value, description) VALUES
    ('writers_group', 'hstvo-writers',
     'members of this group may write: the CAOM2 repository service, workers'' products')
ON CONFLICT (name) DO NOTHING;

-- (plpgsql, for a plan kept per session: auth.begin_request asks it for every request)
CREATE OR REPLACE FUNCTION auth.may_write(user_name text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM auth.user u WHERE u.name = may_write.user_name AND NOT u.disabled)
       AND EXISTS (SELECT 1 FROM auth.user_membership m
                    WHERE m.user_name = may_write.user_name
                      AND m.group_name = hstvo.setting('writers_group'));
END $$;

-- the workers' token, where `hstvo worker` finds it with nothing but DATABASE_URL (a secret
-- setting: the query role and hstvo_reader read only the public ones)
CREATE OR REPLACE FUNCTION auth.set_worker_token(token text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO hstvo.setting (name, value, description, public)
    VALUES ('files_write_token', token, 'the bearer token of the workers'' account (worker)', false)
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value $$;
