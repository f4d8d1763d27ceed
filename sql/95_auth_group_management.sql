-- Group management over HTTP (/gms/groups, in the protocol of CADC's group service): what the
-- caller of a request may read and change, and the changes themselves.
--
-- Every function here acts as auth.caller(), the signed identity of the request's transaction
-- (sql/91_auth_session.sql), so the rules hold however the request arrived and cannot be
-- talked round from Python. The rules:
--   * a group's owner and its administrators (users, or members of an administering group,
--     nested included) may change it: description, members, administrators;
--   * only its owner may remove it;
--   * its owner, administrators and members, and for a public group everyone, may read it;
--   * any user may create a group, and becomes its owner and first member; the writers group
--     (hstvo.setting writers_group) is made by `hstvo users bootstrap`, never over HTTP.
-- Refusals carry SQLSTATEs the service turns into HTTP statuses (pyserver/gms/groups.py):
--   AU002 no such user, AU003 no such group (404); AU010 not allowed (403);
--   AU011 the group exists, AU001 a cycle (409); AU012 not a member (404); AU013 bad request (400).
-- `hstvo groups …` (a DBA's command) calls the functions of sql/90_auth_identities.sql instead,
-- which do not ask who is calling.

-- a distinguished name compared as CADC compares them: case and the spaces around its
-- separators do not matter ("CN=Ann, O=STScI" is "cn=ann,o=stsci")
CREATE OR REPLACE FUNCTION auth.normal_dn(dn text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT regexp_replace(lower(trim(dn)), '\s*([,=])\s*', '\1', 'g') $$;

-- the user an identity of CADC's group documents names: type HTTP (the user name) or X500
-- (a distinguished name); NULL when it names nobody
CREATE OR REPLACE FUNCTION auth.user_named(id_type text, id text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF id_type = 'HTTP' THEN
        RETURN (SELECT u.name FROM auth.user u WHERE u.name = id);
    ELSIF id_type = 'X500' THEN
        RETURN (SELECT u.name FROM auth.user u WHERE auth.normal_dn(u.dn) = auth.normal_dn(id));
    END IF;
    RAISE EXCEPTION 'identity type % is not one this archive knows (HTTP: a user name, X500: a '
                    'distinguished name)', id_type USING ERRCODE = 'AU013';
END $$;

-- may `user_name` change `group_name`: its owner, one of its administrators, or a member
-- (nested included) of an administering group
CREATE OR REPLACE FUNCTION auth.may_manage_group(group_name text, user_name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT user_name IS NOT NULL AND (
        EXISTS (SELECT 1 FROM auth.group g
                 WHERE g.name = may_manage_group.group_name AND g.owner = user_name)
     OR EXISTS (SELECT 1 FROM auth.group_member m
                 WHERE m.group_name = may_manage_group.group_name AND m.admin
                   AND (m.member_user = user_name
                        OR m.member_group IN (SELECT um.group_name FROM auth.user_membership um
                                               WHERE um.user_name = may_manage_group.user_name)))) $$;

-- may `user_name` (NULL: anonymous) read `group_name`: those who may change it, its members
-- (nested included), and everyone when it is public
CREATE OR REPLACE FUNCTION auth.may_read_group(group_name text, user_name text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM auth.group g WHERE g.name = group_name AND g.public_read)
        OR auth.may_manage_group(group_name, user_name)
        OR EXISTS (SELECT 1 FROM auth.user_membership um
                    WHERE um.user_name = may_read_group.user_name
                      AND um.group_name = may_read_group.group_name) $$;

-- the caller of this request, who must be someone (AU010 for anonymous)
CREATE OR REPLACE FUNCTION auth.gms_caller() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    who text := auth.caller();
BEGIN
    IF who IS NULL THEN
        RAISE EXCEPTION 'managing groups needs an authenticated user' USING ERRCODE = 'AU010';
    END IF;
    RETURN who;
END $$;

-- AU003 when `group_name` does not exist; AU010 when the caller may not read it (or, with
-- `change`, may not change it)
CREATE OR REPLACE FUNCTION auth.gms_check(group_name text, change boolean) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM auth.group g WHERE g.name = group_name) THEN
        RAISE EXCEPTION 'no group %', group_name USING ERRCODE = 'AU003';
    END IF;
    IF change AND NOT auth.may_manage_group(group_name, auth.gms_caller()) THEN
        RAISE EXCEPTION '% may not change group %: only its owner and administrators may',
            auth.caller(), group_name USING ERRCODE = 'AU010';
    END IF;
    IF NOT change AND NOT auth.may_read_group(group_name, auth.caller()) THEN
        RAISE EXCEPTION '% may not read group %: only its owner, administrators and members may',
            coalesce(auth.caller(), 'anonymous'), group_name USING ERRCODE = 'AU010';
    END IF;
END $$;

-- a user as the group documents show one: name, distinguished name
CREATE OR REPLACE FUNCTION auth.gms_user(user_name text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('name', u.name, 'dn', u.dn) FROM auth.user u WHERE u.name = user_name $$;

-- a group as the caller may read it (AU003, AU010): its name, owner, description, time of last
-- change, and its members and administrators (users with their distinguished names, groups)
CREATE OR REPLACE FUNCTION auth.gms_group(group_name text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM auth.gms_check(group_name, false);
    RETURN (
        SELECT jsonb_build_object(
            'name', g.name, 'owner', auth.gms_user(g.owner), 'description', g.description,
            'modified', to_char(g.modified AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
            'public', g.public_read,
            'user_members', members.list -> 'user_members',
            'group_members', members.list -> 'group_members',
            'user_admins', members.list -> 'user_admins',
            'group_admins', members.list -> 'group_admins')
          FROM auth.group g,
               LATERAL (SELECT jsonb_build_object(
                   'user_members', coalesce(jsonb_agg(auth.gms_user(m.member_user) ORDER BY m.member_user)
                                            FILTER (WHERE m.member_user IS NOT NULL AND NOT m.admin), '[]'),
                   'group_members', coalesce(jsonb_agg(m.member_group ORDER BY m.member_group)
                                             FILTER (WHERE m.member_group IS NOT NULL AND NOT m.admin), '[]'),
                   'user_admins', coalesce(jsonb_agg(auth.gms_user(m.member_user) ORDER BY m.member_user)
                                           FILTER (WHERE m.member_user IS NOT NULL AND m.admin), '[]'),
                   'group_admins', coalesce(jsonb_agg(m.member_group ORDER BY m.member_group)
                                            FILTER (WHERE m.member_group IS NOT NULL AND m.admin), '[]'))
                  AS list
                  FROM auth.group_member m WHERE m.group_name = g.name) AS members
         WHERE g.name = gms_group.group_name);
END $$;

-- the groups the caller has `role` in ('member': nested included, 'owner', 'admin'), of those
-- named in `asked` (none: all): CADC's search by role
CREATE OR REPLACE FUNCTION auth.gms_groups_with_role(role text, asked text[] DEFAULT '{}')
RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$
DECLARE
    who text := auth.gms_caller();
BEGIN
    IF role NOT IN ('member', 'owner', 'admin') THEN
        RAISE EXCEPTION 'role % is not one of member, owner, admin', role USING ERRCODE = 'AU013';
    END IF;
    RETURN QUERY
        SELECT g.name FROM auth.group g
         WHERE (cardinality(asked) = 0 OR g.name IN (SELECT auth.group_name(a) FROM unnest(asked) a))
           AND CASE role
                 WHEN 'owner' THEN g.owner = who
                 WHEN 'admin' THEN g.owner <> who AND auth.may_manage_group(g.name, who)
                 ELSE EXISTS (SELECT 1 FROM auth.user_membership um
                               WHERE um.user_name = who AND um.group_name = g.name) END
         ORDER BY g.name;
END $$;

-- the groups the caller may read: owned, administered, belonged to, public
CREATE OR REPLACE FUNCTION auth.gms_readable_groups() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT g.name FROM auth.group g WHERE auth.may_read_group(g.name, auth.caller()) ORDER BY 1 $$;

-- the rows of auth.group_member a document's members and administrators make: `members` is
-- a JSON array of {"kind": "user"|"group", "type": HTTP|X500 (users), "name": ..., "admin": bool}.
-- AU002/AU003 when one names nobody.
CREATE OR REPLACE FUNCTION auth.gms_member_rows(members jsonb)
RETURNS TABLE (member_user text, member_group text, admin boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    m jsonb;
BEGIN
    FOR m IN SELECT * FROM jsonb_array_elements(coalesce(members, '[]')) LOOP
        admin := coalesce((m ->> 'admin')::boolean, false);
        IF m ->> 'kind' = 'group' THEN
            member_user := NULL;
            member_group := (SELECT g.name FROM auth.group g WHERE g.name = m ->> 'name');
            IF member_group IS NULL THEN
                RAISE EXCEPTION 'no group %', m ->> 'name' USING ERRCODE = 'AU003';
            END IF;
        ELSE
            member_group := NULL;
            member_user := auth.user_named(coalesce(m ->> 'type', 'HTTP'), m ->> 'name');
            IF member_user IS NULL THEN
                RAISE EXCEPTION 'no user %', m ->> 'name' USING ERRCODE = 'AU002';
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;

-- a new group, owned by the caller, who is also its first member (as CADC's service makes
-- them), with the document's description, members and administrators
CREATE OR REPLACE FUNCTION auth.gms_create_group(group_name text, description text,
                                                 members jsonb DEFAULT '[]') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    who text := auth.gms_caller();
BEGIN
    IF group_name = hstvo.setting('writers_group') THEN
        RAISE EXCEPTION 'group % is the writers group: `hstvo users bootstrap` makes it',
            group_name USING ERRCODE = 'AU010';
    END IF;
    IF group_name !~ '^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$' THEN
        RAISE EXCEPTION 'a group name is 1 to 64 letters, digits and . _ ~ -, starting with a '
                        'letter or a digit' USING ERRCODE = 'AU013';
    END IF;
    INSERT INTO auth.group (name, owner, description) VALUES (group_name, who, description)
        ON CONFLICT (name) DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'group % exists already', group_name USING ERRCODE = 'AU011';
    END IF;
    INSERT INTO auth.group_member (group_name, member_user, member_group, admin)
    SELECT DISTINCT gms_create_group.group_name, r.member_user, r.member_group, r.admin
      FROM (SELECT who AS member_user, NULL::text AS member_group, false AS admin
            UNION ALL SELECT * FROM auth.gms_member_rows(members)) AS r;
END $$;

-- the caller changes a group to what a document says: its description, members and
-- administrators are replaced by the document's (its owner is not changed here)
CREATE OR REPLACE FUNCTION auth.gms_update_group(group_name text, description text,
                                                 members jsonb DEFAULT '[]') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth.gms_check(group_name, true);
    -- only what changed is written: members who stay keep their rows
    DELETE FROM auth.group_member m
     WHERE m.group_name = gms_update_group.group_name
       AND NOT EXISTS (SELECT 1 FROM auth.gms_member_rows(members) n
                        WHERE n.admin = m.admin
                          AND n.member_user IS NOT DISTINCT FROM m.member_user
                          AND n.member_group IS NOT DISTINCT FROM m.member_group);
    INSERT INTO auth.group_member (group_name, member_user, member_group, admin)
    SELECT DISTINCT gms_update_group.group_name, n.member_user, n.member_group, n.admin
      FROM auth.gms_member_rows(members) n ON CONFLICT DO NOTHING;
    UPDATE auth.group g SET description = gms_update_group.description, modified = now()
     WHERE g.name = gms_update_group.group_name;
END $$;

-- the member a request names, once the caller is found to be allowed to change the group:
-- kind 'user' (id_type HTTP or X500) or 'group'
CREATE OR REPLACE FUNCTION auth.gms_changed_member(group_name text, kind text, id_type text,
                                                   id text,
                                                   OUT member_user text, OUT member_group text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM auth.gms_check(group_name, true);
    SELECT r.member_user, r.member_group INTO member_user, member_group
      FROM auth.gms_member_rows(jsonb_build_array(
               jsonb_build_object('kind', kind, 'type', id_type, 'name', id))) AS r;
END $$;

-- the caller adds a member to a group
CREATE OR REPLACE FUNCTION auth.gms_add_member(group_name text, kind text, id_type text,
                                               id text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO auth.group_member (group_name, member_user, member_group)
    SELECT gms_add_member.group_name, m.member_user, m.member_group
      FROM auth.gms_changed_member(group_name, kind, id_type, id) AS m
    ON CONFLICT DO NOTHING;
    UPDATE auth.group g SET modified = now() WHERE g.name = gms_add_member.group_name $$;

-- the caller removes a member from a group; AU012 when it is not one
CREATE OR REPLACE FUNCTION auth.gms_remove_member(group_name text, kind text, id_type text,
                                                  id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    named record := auth.gms_changed_member(group_name, kind, id_type, id);
BEGIN
    DELETE FROM auth.group_member m
     WHERE m.group_name = gms_remove_member.group_name AND NOT m.admin
       AND m.member_user IS NOT DISTINCT FROM named.member_user
       AND m.member_group IS NOT DISTINCT FROM named.member_group;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a member of group %', id, group_name USING ERRCODE = 'AU012';
    END IF;
    UPDATE auth.group g SET modified = now() WHERE g.name = gms_remove_member.group_name;
END $$;

-- the caller removes a group; only its owner may
CREATE OR REPLACE FUNCTION auth.gms_delete_group(group_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth.gms_check(group_name, true);
    DELETE FROM auth.group g WHERE g.name = group_name AND g.owner = auth.caller();
    IF NOT FOUND THEN
        RAISE EXCEPTION '% may not remove group %: only its owner may', auth.caller(), group_name
            USING ERRCODE = 'AU010';
    END IF;
END $$;
