-- The caller of a request, as PostgreSQL knows it: a signed identity in the transaction.
--
-- The service authenticates a request (a bearer token, a password, a cookie, or a certificate's
-- distinguished name from a trusted proxy) and then, inside the request's transaction, calls
-- auth.begin_request(user): it sets hstvo.identity to the user's name signed with a key
-- (auth.secret) that only the service's own user can read, and bound to this session and this
-- transaction. auth.caller() verifies the signature; a value set by anyone else (an ADQL query
-- cannot call set_config, raw SQL as the TAP role can but cannot sign) is refused with an
-- error, and one copied from another transaction does not verify. Nothing is written: the
-- identity lives in the transaction, so a read-only hot standby serves it the same way.

CREATE TABLE IF NOT EXISTS auth.secret (
    id   boolean PRIMARY KEY DEFAULT true CHECK (id),   -- one row
    key  bytea NOT NULL DEFAULT public.gen_random_bytes(32)
);
INSERT INTO auth.secret DEFAULT VALUES ON CONFLICT DO NOTHING;
REVOKE ALL ON auth.secret FROM PUBLIC;
COMMENT ON TABLE auth.secret IS 'the key that signs callers'' identities (readable by the service''s user only)';

-- The identity is `name|writer|signature`: the user, whether it is a writer (1/0), and the
-- HMAC of both with this session's process and this transaction's start. A statement checks
-- the signature, and looks the caller's groups up (auth.caller_groups), when it meets a row
-- not yet released, which most never do: over public rows, who asks costs nothing.

-- the signature of an identity's content in this session and transaction (plpgsql: its plan
-- is kept for the session, where a SQL function would be planned at every call, and every
-- statement that reads a row calls it)
CREATE OR REPLACE FUNCTION auth.identity_signature(content text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN encode(public.hmac(convert_to(content || '|' || pg_backend_pid() || '|'
                                         || extract(epoch FROM now())::text, 'UTF8'),
                              (SELECT key FROM auth.secret), 'sha256'), 'hex');
END $$;
REVOKE ALL ON FUNCTION auth.identity_signature(text) FROM PUBLIC;

-- the request's caller is `user_name` (NULL: anonymous), for the rest of this transaction.
-- Raises AU401 when the user is unknown or disabled. Only the service's own user may call it.
CREATE OR REPLACE FUNCTION auth.begin_request(user_name text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    content text;
BEGIN
    IF user_name IS NULL THEN
        PERFORM set_config('hstvo.identity', '', true);
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM auth.user u WHERE u.name = user_name AND NOT u.disabled) THEN
        RAISE EXCEPTION 'user % is unknown or disabled', user_name USING ERRCODE = 'AU401';
    END IF;
    content := user_name || '|' || CASE WHEN auth.may_write(user_name) THEN '1' ELSE '0' END;
    PERFORM set_config('hstvo.identity', content || '|' || auth.identity_signature(content), true);
    RETURN user_name;
END $$;
REVOKE ALL ON FUNCTION auth.begin_request(text) FROM PUBLIC;

-- the verified parts of this transaction's identity: (name, writer); a row of NULLs for
-- anonymous. A forged identity is an error, never a silent anonymous. (Until 0018 the identity
-- carried the caller's groups too: auth.identity, with three parts.)
DROP FUNCTION IF EXISTS auth.identity();
-- (PARALLEL RESTRICTED, as every function here that reads the identity: the signature is bound
-- to the leader's process, so only the leader of a parallel query may check it; the row
-- policies call them once per statement, and pass the answers to the workers)
CREATE OR REPLACE FUNCTION auth.verified_identity(OUT name text, OUT writer boolean)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    identity text := coalesce(current_setting('hstvo.identity', true), '');
    -- (split, not a regular expression: every statement asks)
    parts text[] := string_to_array(identity, '|');
BEGIN
    IF identity = '' THEN
        RETURN;
    END IF;
    IF cardinality(parts) <> 3 OR parts[2] NOT IN ('0', '1')
       OR parts[3] <> auth.identity_signature(parts[1] || '|' || parts[2]) THEN
        RAISE EXCEPTION 'the identity of this transaction was not set by the service'
            USING ERRCODE = 'AU403';
    END IF;
    name := parts[1];
    writer := parts[2] = '1';
END $$;
GRANT EXECUTE ON FUNCTION auth.verified_identity() TO PUBLIC;

-- the user whose request this transaction serves; NULL for anonymous
CREATE OR REPLACE FUNCTION auth.caller() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$ SELECT (auth.verified_identity()).name $$;
GRANT EXECUTE ON FUNCTION auth.caller() TO PUBLIC;

-- is the caller a member of the writers group (who see everything: sql/93_auth_writers.sql)?
-- An error when the identity is forged. (Anonymous, the commonest caller, is answered without
-- a call.)
CREATE OR REPLACE FUNCTION auth.caller_is_writer() RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT CASE WHEN coalesce(current_setting('hstvo.identity', true), '') = '' THEN false
                ELSE coalesce((auth.verified_identity()).writer, false) END $$;
GRANT EXECUTE ON FUNCTION auth.caller_is_writer() TO PUBLIC;

-- the groups (URIs) of the caller, directly or nested; empty for anonymous. The access rules
-- call it as (SELECT auth.caller_groups()), which PostgreSQL evaluates once per statement, and
-- only when the statement meets a row not yet released.
CREATE OR REPLACE FUNCTION auth.caller_groups() RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    who text := (auth.verified_identity()).name;
BEGIN
    RETURN CASE WHEN who IS NULL THEN '{}'::text[] ELSE auth.user_groups(who) END;
END $$;
GRANT EXECUTE ON FUNCTION auth.caller_groups() TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Authenticating a request (the service's own user calls these before begin_request)
-- ---------------------------------------------------------------------------------------------

-- a user's password hash, for the service to verify a password against (argon2, in Python)
CREATE OR REPLACE FUNCTION auth.password_hash(user_name text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT u.password_hash FROM auth.user u WHERE u.name = user_name AND NOT u.disabled $$;
REVOKE ALL ON FUNCTION auth.password_hash(text) FROM PUBLIC;

-- a browser session: the cookie's value is user:expiry:signature (nothing is stored)
CREATE OR REPLACE FUNCTION auth.session_signature(user_name text, expires bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT encode(public.hmac(convert_to('session:' || user_name || ':' || expires, 'UTF8'),
                              (SELECT key FROM auth.secret), 'sha256'), 'hex') $$;
REVOKE ALL ON FUNCTION auth.session_signature(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION auth.issue_session(user_name text, lifetime interval DEFAULT '12 hours')
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT user_name || ':' || e || ':' || auth.session_signature(user_name, e)
      FROM (SELECT extract(epoch FROM now() + lifetime)::bigint AS e) AS expiry $$;
REVOKE ALL ON FUNCTION auth.issue_session(text, interval) FROM PUBLIC;

-- who a credential names: kind 'token' (a bearer token), 'session' (a cookie's value), 'dn'
-- (a certificate's subject, from a trusted proxy) or 'user' (a name whose password the
-- service verified). AU401 when it names nobody (unknown, revoked, expired, forged, disabled).
CREATE OR REPLACE FUNCTION auth.authenticate(kind text, credential text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    found text;
    parts text[];
BEGIN
    IF kind = 'token' THEN
        found := auth.token_user(credential);
    ELSIF kind = 'session' THEN
        parts := regexp_match(credential, '^(.+):([0-9]{1,12}):([0-9a-f]{64})$');
        IF parts IS NOT NULL AND parts[2]::bigint > extract(epoch FROM now())
           AND parts[3] = auth.session_signature(parts[1], parts[2]::bigint) THEN
            found := parts[1];
        END IF;
    ELSIF kind = 'dn' THEN
        SELECT u.name INTO found FROM auth.user u WHERE u.dn = credential;
    ELSIF kind = 'user' THEN
        found := credential;
    END IF;
    IF found IS NULL OR NOT EXISTS (SELECT 1 FROM auth.user u
                                     WHERE u.name = found AND NOT u.disabled) THEN
        RAISE EXCEPTION 'the % is not valid (unknown, revoked, expired or disabled)',
            CASE kind WHEN 'token' THEN 'token' WHEN 'session' THEN 'session cookie'
                      WHEN 'dn' THEN 'certificate' ELSE 'user' END
            USING ERRCODE = 'AU401';
    END IF;
    RETURN found;
END $$;
REVOKE ALL ON FUNCTION auth.authenticate(text, text) FROM PUBLIC;

-- authenticate and begin in one call (the request's first statement: no extra round trip)
CREATE OR REPLACE FUNCTION auth.begin_request_as(kind text, credential text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN auth.begin_request(auth.authenticate(kind, credential));
END $$;
REVOKE ALL ON FUNCTION auth.begin_request_as(text, text) FROM PUBLIC;
