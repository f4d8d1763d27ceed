-- Identities: users, groups (IVOA GMS 1.0 identifiers), nested membership, bearer tokens.
--
-- A user has a name, an e-mail, an X.509 distinguished name (for a front proxy that checks
-- certificates), a password hash (argon2id, computed by the service: PostgreSQL never sees a
-- password) and a disabled flag. A group is ivo://<authority>/gms?<name>; its members are
-- users or other groups (nested, cycles refused), its owner and administrators may change it.
-- auth.user_groups(name) resolves membership transitively; the access rules
-- (sql/92_access_rules.sql) ask it once per statement.
--
-- Nothing here is readable by the TAP query role or by hstvo_reader: the service's own user
-- reads it, and the functions the others need are SECURITY DEFINER.

CREATE SCHEMA IF NOT EXISTS auth;
COMMENT ON SCHEMA auth IS 'users, groups, tokens, the caller of a request, audit (sql/90-93)';
-- the functions every role needs (auth.caller, auth.caller_groups) are here; the tables stay
-- closed (no privileges on them but the owner's)
GRANT USAGE ON SCHEMA auth TO PUBLIC;

CREATE EXTENSION IF NOT EXISTS pgcrypto;   -- sha256 of tokens, HMAC of identities

CREATE TABLE IF NOT EXISTS auth.user (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z][A-Za-z0-9._@-]{0,63}$'),
    email          text,
    dn             text UNIQUE,                  -- X.509 distinguished name
    password_hash  text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2%'),
    disabled       boolean NOT NULL DEFAULT false,
    created        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE auth.user IS 'archive users; password_hash is argon2 (never a password)';

CREATE TABLE IF NOT EXISTS auth.group (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$'),
    owner        text NOT NULL REFERENCES auth.user ON UPDATE CASCADE,
    description  text,
    public_read  boolean NOT NULL DEFAULT false,   -- anyone may list its members
    created      timestamptz NOT NULL DEFAULT now(),
    modified     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE auth.group IS 'groups (IVOA GMS 1.0): their URI is ivo://<authority>/gms?<name> (auth.group_uri)';

-- a member (or an administrator) is a user or a group: exactly one of the two
CREATE TABLE IF NOT EXISTS auth.group_member (
    group_name    text NOT NULL REFERENCES auth.group ON DELETE CASCADE ON UPDATE CASCADE,
    member_user   text REFERENCES auth.user ON DELETE CASCADE ON UPDATE CASCADE,
    member_group  text REFERENCES auth.group ON DELETE CASCADE ON UPDATE CASCADE,
    admin         boolean NOT NULL DEFAULT false,  -- an administrator, not a member
    CHECK ((member_user IS NULL) <> (member_group IS NULL)),
    CHECK (member_group IS DISTINCT FROM group_name)
);
CREATE UNIQUE INDEX IF NOT EXISTS group_member_user_idx
    ON auth.group_member (group_name, member_user, admin) WHERE member_user IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS group_member_group_idx
    ON auth.group_member (group_name, member_group, admin) WHERE member_group IS NOT NULL;
CREATE INDEX IF NOT EXISTS group_member_by_user_idx ON auth.group_member (member_user) WHERE NOT admin;
CREATE INDEX IF NOT EXISTS group_member_by_group_idx ON auth.group_member (member_group) WHERE NOT admin;
COMMENT ON TABLE auth.group_member IS 'members and administrators of groups: users, or groups (nested)';

-- bearer tokens: only their SHA-256 is kept; the token itself is shown once, when created
CREATE TABLE IF NOT EXISTS auth.token (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name   text NOT NULL REFERENCES auth.user ON DELETE CASCADE ON UPDATE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    label       text,
    created     timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz,                -- NULL: until revoked
    revoked     timestamptz
);
COMMENT ON TABLE auth.token IS 'bearer tokens (their SHA-256 only); hstvo token create|list|revoke';

-- ---------------------------------------------------------------------------------------------
-- Groups: URIs, cycles, membership
-- ---------------------------------------------------------------------------------------------

-- the IVOA identifier of a group (GMS 1.0 section 3)
CREATE OR REPLACE FUNCTION auth.group_uri(name text) RETURNS text
LANGUAGE sql STABLE AS $$ SELECT hstvo.setting('publisher_authority') || '/gms?' || name $$;

-- the group a URI (or a bare name) names; NULL when it is not one of this archive's
CREATE OR REPLACE FUNCTION auth.group_name(uri text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN uri LIKE hstvo.setting('publisher_authority') || '/gms?%'
                THEN substr(uri, length(hstvo.setting('publisher_authority') || '/gms?') + 1)
                WHEN uri !~ '[:/?]' THEN uri END $$;

-- a group may not contain itself, however deep the nesting
CREATE OR REPLACE FUNCTION auth.refuse_cycles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.member_group IS NOT NULL AND NOT NEW.admin AND EXISTS (
            WITH RECURSIVE inside(name) AS (
                SELECT NEW.member_group
                UNION
                SELECT m.member_group FROM auth.group_member m JOIN inside i ON m.group_name = i.name
                 WHERE m.member_group IS NOT NULL AND NOT m.admin)
            SELECT 1 FROM inside WHERE name = NEW.group_name) THEN
        RAISE EXCEPTION 'group % is already inside group %: adding it would make a cycle',
            NEW.group_name, NEW.member_group USING ERRCODE = 'AU001';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS group_member_no_cycles ON auth.group_member;
CREATE TRIGGER group_member_no_cycles BEFORE INSERT OR UPDATE ON auth.group_member
    FOR EACH ROW EXECUTE FUNCTION auth.refuse_cycles();

-- Membership, resolved: every (user, group) pair, direct or through nested groups. Kept by
-- a statement trigger on auth.group_member (memberships change rarely; they are read by every
-- authenticated request, which then finds a user's groups by one index lookup).
CREATE TABLE IF NOT EXISTS auth.user_membership (
    user_name   text NOT NULL,
    group_name  text NOT NULL,
    PRIMARY KEY (user_name, group_name)
);
COMMENT ON TABLE auth.user_membership IS 'every group each user belongs to, nested included (kept by auth.resolve_memberships)';

CREATE OR REPLACE FUNCTION auth.resolve_memberships() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM auth.user_membership;
    INSERT INTO auth.user_membership (user_name, group_name)
    WITH RECURSIVE belongs(user_name, group_name) AS (
        SELECT m.member_user, m.group_name FROM auth.group_member m
         WHERE m.member_user IS NOT NULL AND NOT m.admin
        UNION
        SELECT b.user_name, m.group_name FROM auth.group_member m
          JOIN belongs b ON m.member_group = b.group_name
         WHERE NOT m.admin)
    SELECT user_name, group_name FROM belongs;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS group_member_resolves ON auth.group_member;
CREATE TRIGGER group_member_resolves AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON auth.group_member FOR EACH STATEMENT EXECUTE FUNCTION auth.resolve_memberships();

-- every group a user belongs to, directly or through nested groups (names)
CREATE OR REPLACE FUNCTION auth.user_group_names(user_name text) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT m.group_name FROM auth.user_membership m WHERE m.user_name = user_group_names.user_name $$;

-- ... as the URIs CAOM's metaReadGroups and dataReadGroups hold. (plpgsql: its plan is kept
-- for the session, where a SQL function that is not inlined is planned again at every call,
-- a third of a millisecond that every authenticated request paid in auth.begin_request)
CREATE OR REPLACE FUNCTION auth.user_groups(user_name text) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    base text := hstvo.setting('publisher_authority') || '/gms?';
BEGIN
    RETURN coalesce((SELECT array_agg(base || m.group_name ORDER BY m.group_name)
                       FROM auth.user_membership m WHERE m.user_name = user_groups.user_name),
                    '{}');
END $$;

-- of the groups `asked` (names or URIs; none: all), those `user_name` belongs to, nested
-- included: the GMS search (/gms/search) and `hstvo groups list --member`
CREATE OR REPLACE FUNCTION auth.memberships(user_name text, asked text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT g FROM auth.user_group_names(user_name) AS g
     WHERE cardinality(asked) = 0
        OR g IN (SELECT auth.group_name(a) FROM unnest(asked) AS a)
     ORDER BY g $$;

-- ---------------------------------------------------------------------------------------------
-- Tokens
-- ---------------------------------------------------------------------------------------------

-- a new token for a user: store its hash; returns the token's id (the caller made the token)
CREATE OR REPLACE FUNCTION auth.add_token(user_name text, token text, label text DEFAULT NULL,
                                          lifetime interval DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.user u WHERE u.name = user_name) THEN
        RAISE EXCEPTION 'no user %', user_name USING ERRCODE = 'AU002',
            HINT = 'hstvo users add ' || user_name;
    END IF;
    INSERT INTO auth.token (user_name, token_hash, label, expires)
    VALUES (user_name, public.digest(token, 'sha256'), label, now() + lifetime)
    RETURNING auth.token.id INTO id;
    RETURN id;
END $$;

-- the user a bearer token belongs to; NULL when it is unknown, revoked, expired, or its user
-- is disabled (plpgsql for a plan kept per session: every request with a token asks it)
CREATE OR REPLACE FUNCTION auth.token_user(token text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT t.user_name FROM auth.token t JOIN auth.user u ON u.name = t.user_name
             WHERE t.token_hash = public.digest(token_user.token, 'sha256') AND t.revoked IS NULL
               AND (t.expires IS NULL OR t.expires > now()) AND NOT u.disabled);
END $$;

-- ---------------------------------------------------------------------------------------------
-- What `hstvo users|groups|token` call (a DBA may call them from psql too)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION auth.add_user(user_name text, email text DEFAULT NULL,
                                         dn text DEFAULT NULL, password_hash text DEFAULT NULL)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO auth.user (name, email, dn, password_hash)
    VALUES (user_name, email, dn, password_hash) $$;

-- a user's password, as its argon2id hash (made by `hstvo users password`: PostgreSQL never
-- sees a password); the sessions already issued stay valid until they expire
CREATE OR REPLACE FUNCTION auth.set_password(user_name text, password_hash text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth.user SET password_hash = set_password.password_hash WHERE name = user_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', user_name USING ERRCODE = 'AU002';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION auth.set_disabled(user_name text, disabled boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth.user SET disabled = set_disabled.disabled WHERE name = user_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', user_name USING ERRCODE = 'AU002';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION auth.create_group(group_name text, owner text,
                                             description text DEFAULT NULL,
                                             public_read boolean DEFAULT false) RETURNS text
LANGUAGE sql AS $$
    INSERT INTO auth.group (name, owner, description, public_read)
    VALUES (group_name, owner, description, public_read)
    RETURNING auth.group_uri(name) $$;

-- the group a member names: group:NAME, or a group's URI; NULL for a user name
CREATE OR REPLACE FUNCTION auth.member_group(member text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN member LIKE 'group:%' THEN substr(member, 7)
                WHEN member LIKE 'ivo://%' THEN auth.group_name(member) END $$;

-- `member` is a user name, or group:NAME (or a group's URI); `admin` makes it an administrator
CREATE OR REPLACE FUNCTION auth.add_member(group_name text, member text,
                                           admin boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    inner_group text := auth.member_group(member);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.group g WHERE g.name = group_name) THEN
        RAISE EXCEPTION 'no group %', group_name USING ERRCODE = 'AU003';
    END IF;
    IF inner_group IS NOT NULL THEN
        INSERT INTO auth.group_member (group_name, member_group, admin)
        VALUES (group_name, inner_group, admin) ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO auth.group_member (group_name, member_user, admin)
        VALUES (group_name, member, admin) ON CONFLICT DO NOTHING;
    END IF;
    UPDATE auth.group g SET modified = now() WHERE g.name = group_name;
END $$;

CREATE OR REPLACE FUNCTION auth.remove_member(group_name text, member text,
                                              admin boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    inner_group text := auth.member_group(member);
BEGIN
    DELETE FROM auth.group_member m
     WHERE m.group_name = remove_member.group_name AND m.admin = remove_member.admin
       AND (m.member_group = inner_group OR (inner_group IS NULL AND m.member_user = member));
    IF FOUND THEN
        UPDATE auth.group g SET modified = now() WHERE g.name = group_name;
    END IF;
    RETURN FOUND;
END $$;

-- a group's members and administrators, one row each ('user' or 'group', name)
CREATE OR REPLACE FUNCTION auth.group_members(group_name text)
RETURNS TABLE (kind text, name text, admin boolean)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN m.member_user IS NOT NULL THEN 'user' ELSE 'group' END,
           coalesce(m.member_user, m.member_group), m.admin
      FROM auth.group_member m WHERE m.group_name = group_members.group_name
     ORDER BY m.admin, 1, 2 $$;

CREATE OR REPLACE FUNCTION auth.revoke_token(token_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth.token SET revoked = now() WHERE id = token_id AND revoked IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no token % that is not revoked already', token_id USING ERRCODE = 'AU004';
    END IF;
END $$;
