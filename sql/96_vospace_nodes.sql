-- VOSpace 2.1 nodes (/vospace): containers, data and links as rows, permissions decided here.
--
-- A node is a row of vospace.node under its parent (the root has none). A data node's bytes are
-- a file under the storage directory, named by `storage`; the database keeps the pointer, the
-- length and the MD5, and a node shows bytes only once their upload is complete and verified
-- (vospace.finish_upload, in one transaction: sql/97_vospace_transfers.sql). A container's
-- length is the total of the data under it, which quotas (#quota, on homes) are checked against.
--
-- Who may do what (VOSpace 2.1 section 3.2; the properties of section 3.1.2):
--   read a node     its owner, anyone when #ispublic, a member of a #groupread or #groupwrite
--                   group, the owner of a container above it (a home's owner); and the caller
--                   must be able to read every container on the way
--   write in it     its owner, a member of a #groupwrite group, the owner of a container above
--   change rights   its owner
-- A new node is its creator's, with its container's groups.
-- The caller is auth.caller(), the request's signed identity (sql/91_auth_session.sql), so a DBA
-- calling these functions from psql is anonymous unless he acts as the operator
-- (vospace.act_as_operator(), which `hstvo vos` does), who may do everything.
--
-- Faults are raised with SQLSTATE VSnnn, nnn the HTTP status, and a message that begins with
-- the VOSpace fault name (section 5.5.2): the service answers with exactly that.

CREATE SCHEMA IF NOT EXISTS vospace;
COMMENT ON SCHEMA vospace IS 'VOSpace 2.1: nodes, properties, permissions, quotas and transfers';

CREATE TABLE IF NOT EXISTS vospace.node (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent       bigint REFERENCES vospace.node (id),
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('container', 'data', 'link')),
    owner        text,                            -- auth.user; NULL: the service's own nodes
    is_public    boolean NOT NULL DEFAULT false,
    group_read   text[] NOT NULL DEFAULT '{}',    -- group names (auth.group)
    group_write  text[] NOT NULL DEFAULT '{}',
    target       text,                            -- a link's target URI
    length       bigint NOT NULL DEFAULT 0,       -- data: its bytes; container: all under it
    md5          text,                            -- data: hex MD5 of its bytes
    content_type text,
    storage      text,                            -- data: its file under the storage directory
    quota        bigint,                          -- container: most bytes it may hold
    created      timestamptz NOT NULL DEFAULT now(),
    modified     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'link') = (target IS NOT NULL)),
    CHECK ((parent IS NULL) = (name = '')),
    CHECK (storage IS NULL OR kind = 'data')
);
CREATE UNIQUE INDEX IF NOT EXISTS node_name_idx ON vospace.node (parent, name);
CREATE UNIQUE INDEX IF NOT EXISTS node_root_idx ON vospace.node ((true)) WHERE parent IS NULL;
CREATE INDEX IF NOT EXISTS node_storage_idx ON vospace.node (storage) WHERE storage IS NOT NULL;
COMMENT ON TABLE vospace.node IS 'VOSpace nodes: one row each, under its parent container';

-- properties other than the ones the columns hold (#title, #description, anything a user tags)
CREATE TABLE IF NOT EXISTS vospace.property (
    node  bigint NOT NULL REFERENCES vospace.node (id) ON DELETE CASCADE,
    uri   text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (node, uri)
);
COMMENT ON TABLE vospace.property IS 'VOSpace node properties beyond the core ones (vtag)';

INSERT INTO hstvo.setting (name, value, description) VALUES
    ('vospace_home_quota', '21474836480',
     'VOSpace: the #quota (bytes) of a new user''s home container, /home/<name> (20 GiB)')
ON CONFLICT (name) DO NOTHING;

-- the property URIs of VOSpace 2.1 section 3.1.2
CREATE OR REPLACE FUNCTION vospace.core(name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'ivo://ivoa.net/vospace/core#' || name $$;

-- ---------------------------------------------------------------------------------------------
-- Faults
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION vospace.fault(status int, fault text, detail text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: %', fault, detail USING ERRCODE = 'VS' || status::text;
END $$;

-- ---------------------------------------------------------------------------------------------
-- The caller
-- ---------------------------------------------------------------------------------------------

-- for the rest of this session, act as the operator, who may do everything (`hstvo vos`, on a
-- connection of its own; the service never calls it, and a request's identity overrides it)
CREATE OR REPLACE FUNCTION vospace.act_as_operator() RETURNS void
LANGUAGE sql AS $$ SELECT set_config('hstvo.vospace_operator', 'on', false) $$;
REVOKE ALL ON FUNCTION vospace.act_as_operator() FROM PUBLIC;

CREATE OR REPLACE FUNCTION vospace.is_operator() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('hstvo.vospace_operator', true), '') = 'on'
       AND coalesce(current_setting('hstvo.identity', true), '') = '' $$;

CREATE OR REPLACE FUNCTION vospace.caller() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT auth.caller() $$;

-- the caller's groups by name (auth.caller_groups() gives URIs)
CREATE OR REPLACE FUNCTION vospace.caller_group_names() RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(auth.group_name(g)), '{}') FROM unnest(auth.caller_groups()) g $$;

-- the containers from `node_id` up to (not including) the root
CREATE OR REPLACE FUNCTION vospace.ancestors(node_id bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up AS (
        SELECT id, parent FROM vospace.node WHERE id = node_id
        UNION ALL
        SELECT n.id, n.parent FROM vospace.node n JOIN up ON n.id = up.parent)
    SELECT id FROM up WHERE parent IS NOT NULL $$;

-- does `caller` own a container above node `n`? (the owner of a home may read, change and
-- delete whatever others put in it)
CREATE OR REPLACE FUNCTION vospace.owns_above(n vospace.node, caller text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT caller IS NOT NULL AND EXISTS (
        SELECT 1 FROM vospace.node a WHERE a.id IN (SELECT vospace.ancestors(n.parent))
           AND a.owner = caller) $$;

-- readable by the node's own rules (not counting the owners of the containers above it)
CREATE OR REPLACE FUNCTION vospace.readable_itself(n vospace.node, caller text, groups text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT n.is_public OR (caller IS NOT NULL AND n.owner = caller)
        OR n.group_read && groups OR n.group_write && groups $$;

CREATE OR REPLACE FUNCTION vospace.readable(n vospace.node, caller text, groups text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN vospace.readable_itself(n, caller, groups) THEN true
                WHEN vospace.is_operator() THEN true
                ELSE vospace.owns_above(n, caller) END $$;

CREATE OR REPLACE FUNCTION vospace.writable(n vospace.node, caller text, groups text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN caller IS NOT NULL AND (n.owner = caller OR n.group_write && groups) THEN true
                WHEN vospace.is_operator() THEN true
                ELSE vospace.owns_above(n, caller) END $$;

-- PermissionDenied, or for an anonymous caller a request to authenticate first (401)
CREATE OR REPLACE FUNCTION vospace.deny(what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF vospace.caller() IS NULL AND NOT vospace.is_operator() THEN
        PERFORM vospace.fault(401, 'PermissionDenied', what || ': authenticate first');
    END IF;
    PERFORM vospace.fault(403, 'PermissionDenied', what);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Names and paths
-- ---------------------------------------------------------------------------------------------

-- A name is 1 to 255 characters, none of them a control character, '/' or '\', and not '.'
-- or '..' (which would let a path climb out of its container); nor may it begin or end with
-- a space, which no one would see in a listing.
CREATE OR REPLACE FUNCTION vospace.name_problem(name text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN name IS NULL OR name = '' THEN 'an empty name'
        WHEN name IN ('.', '..') THEN format('the name %L climbs the tree', name)
        WHEN octet_length(name) > 255 THEN 'a name longer than 255 bytes'
        WHEN name ~ '[\x01-\x1f\x7f/\\]' THEN format('the name %L holds a control character, / or \', name)
        WHEN name ~ '^\s|\s$' THEN format('the name %L begins or ends with a space', name)
    END $$;

-- the names of a path ('/home/alice/x' -> {home,alice,x}; '/' -> {}), or InvalidURI
CREATE OR REPLACE FUNCTION vospace.path_names(path text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    names text[];
    problem text;
    each text;
BEGIN
    IF path IS NULL OR path ~ '[\x00]' THEN
        PERFORM vospace.fault(400, 'InvalidURI', 'no path');
    END IF;
    path := btrim(path, '/');
    IF path = '' THEN
        RETURN '{}';
    END IF;
    names := string_to_array(path, '/');
    FOREACH each IN ARRAY names LOOP
        problem := vospace.name_problem(each);
        IF problem IS NOT NULL THEN
            PERFORM vospace.fault(400, 'InvalidURI', format('%s in %s', problem, '/' || path));
        END IF;
    END LOOP;
    RETURN names;
END $$;

CREATE OR REPLACE FUNCTION vospace.join_path(names text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '/' || array_to_string(names, '/') $$;

-- the VOSpace URI of a path: vos://<authority>~vospace/<path> (section 2.1)
CREATE OR REPLACE FUNCTION vospace.uri(path text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'vos://' || substr(hstvo.setting('publisher_authority'), 7) || '~vospace'
        || '/' || btrim(path, '/') $$;

-- the path a target URI names on this service (a vos:// URI of this authority, or a path);
-- NULL when it names something elsewhere
CREATE OR REPLACE FUNCTION vospace.local_path(target text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN target LIKE '/%' THEN target
        WHEN target LIKE vospace.uri('') || '%' THEN '/' || substr(target, length(vospace.uri('')) + 1)
        WHEN target ~ ('^vos://' || substr(hstvo.setting('publisher_authority'), 7) || '[~!]vospace(/|$)')
            THEN '/' || regexp_replace(target, '^vos://[^/]*/?', '')
    END $$;

CREATE OR REPLACE FUNCTION vospace.path_of(node_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up AS (
        SELECT id, parent, name, 0 AS depth FROM vospace.node WHERE id = node_id
        UNION ALL
        SELECT n.id, n.parent, n.name, up.depth + 1 FROM vospace.node n JOIN up ON n.id = up.parent)
    SELECT '/' || coalesce(string_agg(name, '/' ORDER BY depth DESC) FILTER (WHERE name <> ''), '')
      FROM up $$;

-- The node a path names, as the caller may see it: NULL when it does not exist. Every container
-- on the way must be readable (PermissionDenied). A link met on the way to a node of this service
-- is followed (a link elsewhere is LinkFound, section 5.5.2), and the last one too when
-- `follow_last`; a cycle of links is InvalidURI.
CREATE OR REPLACE FUNCTION vospace.find(path text, follow_last boolean DEFAULT false,
                                        hops int DEFAULT 0)
RETURNS vospace.node LANGUAGE plpgsql STABLE AS $$
DECLARE
    names text[] := vospace.path_names(path);
    here vospace.node;
    caller text := vospace.caller();
    groups text[] := vospace.caller_group_names();
    i int := 0;
    further text;
BEGIN
    IF hops > 20 THEN
        PERFORM vospace.fault(400, 'InvalidURI', format('the links through %s form a cycle', path));
    END IF;
    SELECT * INTO here FROM vospace.node WHERE parent IS NULL;
    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
        IF here.kind = 'link' THEN
            further := vospace.local_path(here.target);
            IF further IS NULL THEN
                PERFORM vospace.fault(400, 'LinkFound', format('%s leads out of this service to %s',
                                      vospace.join_path(names[1:i - 1]), here.target));
            END IF;
            RETURN vospace.find(rtrim(further, '/') || '/' || array_to_string(names[i:], '/'),
                                follow_last, hops + 1);
        END IF;
        IF here.kind <> 'container' THEN
            PERFORM vospace.fault(404, 'ContainerNotFound',
                                  format('%s is not a container', vospace.join_path(names[1:i - 1])));
        END IF;
        IF NOT vospace.readable(here, caller, groups) THEN
            PERFORM vospace.deny(format('reading %s', vospace.join_path(names[1:i - 1])));
        END IF;
        SELECT * INTO here FROM vospace.node WHERE parent = here.id AND name = names[i];
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END LOOP;
    IF follow_last AND here.kind = 'link' AND vospace.local_path(here.target) IS NOT NULL THEN
        RETURN vospace.find(vospace.local_path(here.target), true, hops + 1);
    END IF;
    RETURN here;
END $$;

-- the node at a path, which must exist (NodeNotFound) and be readable (PermissionDenied)
CREATE OR REPLACE FUNCTION vospace.readable_node(path text, follow_last boolean DEFAULT false)
RETURNS vospace.node LANGUAGE plpgsql STABLE AS $$
DECLARE
    n vospace.node := vospace.find(path, follow_last);
BEGIN
    IF n.id IS NULL THEN
        PERFORM vospace.fault(404, 'NodeNotFound', vospace.join_path(vospace.path_names(path)));
    END IF;
    IF NOT vospace.readable(n, vospace.caller(), vospace.caller_group_names()) THEN
        PERFORM vospace.deny(format('reading %s', vospace.join_path(vospace.path_names(path))));
    END IF;
    RETURN n;
END $$;

-- the container a new node at `path` goes in: it must exist and the caller must write in it
CREATE OR REPLACE FUNCTION vospace.parent_for_writing(path text) RETURNS vospace.node
LANGUAGE plpgsql AS $$
DECLARE
    names text[] := vospace.path_names(path);
    parent_path text;
    p vospace.node;
BEGIN
    IF cardinality(names) = 0 THEN
        PERFORM vospace.fault(403, 'PermissionDenied', 'the root is the service''s');
    END IF;
    IF names[1] = ANY (vospace.archive_roots()) THEN
        PERFORM vospace.fault(403, 'PermissionDenied', format('%s is one of the archive''s folders, '
                              'which are read-only', vospace.join_path(names[1:2])));
    END IF;
    parent_path := vospace.join_path(names[1:cardinality(names) - 1]);
    p := vospace.find(parent_path, true);
    IF p.id IS NULL OR p.kind <> 'container' THEN
        PERFORM vospace.fault(404, 'ContainerNotFound', parent_path);
    END IF;
    IF NOT vospace.writable(p, vospace.caller(), vospace.caller_group_names()) THEN
        PERFORM vospace.deny(format('writing in %s', parent_path));
    END IF;
    -- the row is locked: a concurrent delete or move of the container waits for this write
    PERFORM 1 FROM vospace.node WHERE id = p.id FOR UPDATE;
    RETURN p;
END $$;

CREATE OR REPLACE FUNCTION vospace.last_name(path text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT (vospace.path_names(path))[cardinality(vospace.path_names(path))] $$;

-- ---------------------------------------------------------------------------------------------
-- Lengths and quotas
-- ---------------------------------------------------------------------------------------------

-- `delta` more bytes in container `node_id`: every container up the tree grows by as much.
-- QuotaExceeded (RequestEntityTooLarge, 413) when a container with a #quota would hold more.
CREATE OR REPLACE FUNCTION vospace.grow(node_id bigint, delta bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    full_one record;
BEGIN
    IF delta = 0 THEN
        RETURN;
    END IF;
    UPDATE vospace.node SET length = length + delta WHERE id IN (SELECT vospace.ancestors(node_id));
    IF delta > 0 THEN
        SELECT id, length, quota INTO full_one FROM vospace.node
         WHERE id IN (SELECT vospace.ancestors(node_id)) AND quota IS NOT NULL AND length > quota
         LIMIT 1;
        IF FOUND THEN
            PERFORM vospace.fault(413, 'RequestEntityTooLarge', format(
                'QuotaExceeded: %s may hold %s bytes; this would make it %s',
                vospace.path_of(full_one.id), full_one.quota, full_one.length));
        END IF;
    END IF;
END $$;

-- may `bytes` more go into container `node_id`? (checked before an upload starts)
CREATE OR REPLACE FUNCTION vospace.check_room(node_id bigint, bytes bigint) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    full_one record;
BEGIN
    SELECT id, length, quota INTO full_one FROM vospace.node
     WHERE id IN (SELECT vospace.ancestors(node_id)) AND quota IS NOT NULL
       AND length + coalesce(bytes, 0) > quota
     LIMIT 1;
    IF FOUND THEN
        PERFORM vospace.fault(413, 'RequestEntityTooLarge', format(
            'QuotaExceeded: %s may hold %s bytes and holds %s; %s more do not fit',
            vospace.path_of(full_one.id), full_one.quota, full_one.length, bytes));
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Homes: every user has /home/<name>, which the user owns
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION vospace.service_container(parent_id bigint, container text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT id INTO found_id FROM vospace.node WHERE parent = parent_id AND name = container;
    IF NOT FOUND THEN
        INSERT INTO vospace.node (parent, name, kind, is_public)
        VALUES (parent_id, container, 'container', true) RETURNING id INTO found_id;
    END IF;
    RETURN found_id;
END $$;

CREATE OR REPLACE FUNCTION vospace.root() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    root_id bigint;
BEGIN
    SELECT id INTO root_id FROM vospace.node WHERE parent IS NULL;
    IF NOT FOUND THEN
        INSERT INTO vospace.node (parent, name, kind, is_public)
        VALUES (NULL, '', 'container', true) RETURNING id INTO root_id;
    END IF;
    RETURN root_id;
END $$;

CREATE OR REPLACE FUNCTION vospace.ensure_home(user_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    home bigint := vospace.service_container(vospace.root(), 'home');
BEGIN
    INSERT INTO vospace.node (parent, name, kind, owner, quota)
    VALUES (home, user_name, 'container', user_name, hstvo.setting('vospace_home_quota')::bigint)
    ON CONFLICT (parent, name) DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION vospace.home_for_new_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM vospace.ensure_home(NEW.name);
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS user_home ON auth.user;
CREATE TRIGGER user_home AFTER INSERT ON auth.user
    FOR EACH ROW EXECUTE FUNCTION vospace.home_for_new_user();

SELECT vospace.ensure_home(name) FROM auth.user;

-- ---------------------------------------------------------------------------------------------
-- Reading nodes: what the node documents show (one jsonb per node; pyserver/vospace/xml.py)
-- ---------------------------------------------------------------------------------------------

-- group names as the URIs the #groupread and #groupwrite properties hold, space separated
CREATE OR REPLACE FUNCTION vospace.group_uris(names text[]) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(array_to_string(array(SELECT auth.group_uri(g) FROM unnest(names) g ORDER BY g), ' '), '') $$;

-- (PL/pgSQL: a listing describes a thousand nodes, and a SQL function that cannot be inlined
-- costs five times as much per call)
CREATE OR REPLACE FUNCTION vospace.description(n vospace.node, path text, with_others boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    core CONSTANT text := 'ivo://ivoa.net/vospace/core#';
    props jsonb := jsonb_build_object(
        core || 'length', n.length::text,
        core || 'date', to_char(n.modified AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
        core || 'ctime', to_char(n.created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
        core || 'ispublic', n.is_public::text);
BEGIN
    IF n.owner IS NOT NULL THEN
        props := props || jsonb_build_object(core || 'creator', n.owner);
    END IF;
    IF n.md5 IS NOT NULL THEN
        props := props || jsonb_build_object(core || 'MD5', n.md5);
    END IF;
    IF n.content_type IS NOT NULL THEN
        props := props || jsonb_build_object(core || 'type', n.content_type);
    END IF;
    IF n.quota IS NOT NULL THEN
        props := props || jsonb_build_object(core || 'quota', n.quota::text);
    END IF;
    IF n.group_read <> '{}' THEN
        props := props || jsonb_build_object(core || 'groupread', vospace.group_uris(n.group_read));
    END IF;
    IF n.group_write <> '{}' THEN
        props := props || jsonb_build_object(core || 'groupwrite', vospace.group_uris(n.group_write));
    END IF;
    IF with_others THEN
        props := props || coalesce((SELECT jsonb_object_agg(p.uri, p.value)
                                      FROM vospace.property p WHERE p.node = n.id), '{}');
    END IF;
    RETURN jsonb_build_object('uri', vospace.uri(path), 'path', path, 'kind', n.kind,
                              'target', n.target, 'properties', props);
END $$;

-- the node at a path (NodeNotFound, PermissionDenied); in the archive's folders, computed
-- (sql/98_vospace_archive_folders.sql)
DROP FUNCTION IF EXISTS vospace.read_node(text);
CREATE OR REPLACE FUNCTION vospace.read_node(path text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    names text[] := vospace.path_names(path);
BEGIN
    IF vospace.in_archive(names) THEN
        RETURN vospace.archive_node(names);
    END IF;
    RETURN vospace.description(vospace.readable_node(path), vospace.join_path(names));
END $$;

-- A page of a container's children that the caller may read, by name: from the child named
-- `start` (included: the client skips the one it has, as CADC's does), at most `page_size`
-- (NULL: all). `sort_by` length or date orders them otherwise (and pages no further).
-- (Each page is one index range of node_name_idx: the queries name `start` only when given, so
-- that a plan kept for the session still uses the index.)
CREATE OR REPLACE FUNCTION vospace.children(path text, start text DEFAULT NULL,
                                            page_size int DEFAULT NULL, sort_by text DEFAULT NULL,
                                            descending boolean DEFAULT false)
RETURNS SETOF jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
    container vospace.node;
    base text := rtrim(vospace.join_path(vospace.path_names(path)), '/');
    caller text := vospace.caller();
    groups text[] := vospace.caller_group_names();
    -- the operator, and the owner of the container or of one above it, see every child: asked
    -- once here rather than for each child
    everything boolean;
BEGIN
    IF vospace.in_archive(vospace.path_names(path))
       OR (vospace.path_names(path))[1] = ANY (vospace.archive_roots()) THEN
        RETURN QUERY SELECT * FROM vospace.archive_children(vospace.path_names(path), start, page_size);
        RETURN;
    END IF;
    container := vospace.readable_node(path, true);
    IF container.kind <> 'container' THEN
        RETURN;
    END IF;
    everything := vospace.is_operator()
               OR caller IS NOT NULL AND (container.owner = caller OR vospace.owns_above(container, caller));
    IF sort_by IS NOT NULL THEN
        RETURN QUERY SELECT vospace.description(c, base || '/' || c.name, false)
          FROM vospace.node c
         WHERE c.parent = container.id AND (everything OR vospace.readable_itself(c, caller, groups))
         ORDER BY CASE WHEN descending THEN -1 ELSE 1 END
                  * CASE sort_by WHEN 'length' THEN c.length::float8
                                 ELSE extract(epoch FROM c.modified) END,
                  c.name
         LIMIT page_size;
    ELSIF start IS NULL AND NOT descending THEN
        RETURN QUERY SELECT vospace.description(c, base || '/' || c.name, false)
          FROM vospace.node c
         WHERE c.parent = container.id AND (everything OR vospace.readable_itself(c, caller, groups))
         ORDER BY c.name LIMIT page_size;
    ELSIF NOT descending THEN
        RETURN QUERY SELECT vospace.description(c, base || '/' || c.name, false)
          FROM vospace.node c
         WHERE c.parent = container.id AND c.name >= start AND (everything OR vospace.readable_itself(c, caller, groups))
         ORDER BY c.name LIMIT page_size;
    ELSIF start IS NULL THEN
        RETURN QUERY SELECT vospace.description(c, base || '/' || c.name, false)
          FROM vospace.node c
         WHERE c.parent = container.id AND (everything OR vospace.readable_itself(c, caller, groups))
         ORDER BY c.name DESC LIMIT page_size;
    ELSE
        RETURN QUERY SELECT vospace.description(c, base || '/' || c.name, false)
          FROM vospace.node c
         WHERE c.parent = container.id AND c.name <= start AND (everything OR vospace.readable_itself(c, caller, groups))
         ORDER BY c.name DESC LIMIT page_size;
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Writing nodes
-- ---------------------------------------------------------------------------------------------

-- a group named by a URI (this archive's, or CADC's prefix that CADC's vchmod always writes), or
-- by name; InvalidArgument when there is no such group
CREATE OR REPLACE FUNCTION vospace.group_of(uri text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    named text := coalesce(auth.group_name(uri), substring(uri FROM '^ivo://[^?#]*/gms[?#](.+)$'));
BEGIN
    IF named IS NULL OR NOT EXISTS (SELECT 1 FROM auth.group g WHERE g.name = named) THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('no group %s', uri));
    END IF;
    RETURN named;
END $$;

CREATE OR REPLACE FUNCTION vospace.group_list(value text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT vospace.group_of(g)), '{}')
      FROM regexp_split_to_table(btrim(coalesce(value, '')), '\s+') g WHERE g <> '' $$;

-- Apply properties ({uri: value, ...}; a null value removes one) to node `n`. The permissions
-- are its owner's to change; the properties the service keeps (length, MD5, dates, creator,
-- quota) are read-only and ignored, as CADC's client sends them back with every change.
CREATE OR REPLACE FUNCTION vospace.apply_properties(n vospace.node, properties jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    prop record;
    caller text := vospace.caller();
    may_change_rights boolean := vospace.is_operator() OR n.owner = caller;
    read_only text[] := ARRAY[vospace.core('length'), vospace.core('date'), vospace.core('ctime'),
                              vospace.core('mtime'), vospace.core('creator'), vospace.core('MD5'),
                              vospace.core('quota'), vospace.core('availableSpace')];
BEGIN
    FOR prop IN SELECT key, value #>> '{}' AS value FROM jsonb_each(coalesce(properties, '{}')) LOOP
        IF prop.key = ANY (read_only) THEN
            IF prop.key = vospace.core('quota') AND vospace.is_operator() AND n.kind = 'container' THEN
                UPDATE vospace.node SET quota = prop.value::bigint WHERE id = n.id;
            END IF;
            CONTINUE;
        END IF;
        IF prop.key IN (vospace.core('ispublic'), vospace.core('groupread'), vospace.core('groupwrite')) THEN
            IF NOT may_change_rights THEN
                PERFORM vospace.deny(format('changing the permissions of %s (its owner''s to change)',
                                            vospace.path_of(n.id)));
            END IF;
            IF prop.key = vospace.core('ispublic') THEN
                IF coalesce(lower(prop.value), 'false') NOT IN ('true', 'false') THEN
                    PERFORM vospace.fault(400, 'InvalidArgument', format('ispublic is %s: true or false', prop.value));
                END IF;
                UPDATE vospace.node SET is_public = coalesce(lower(prop.value), 'false') = 'true' WHERE id = n.id;
            ELSIF prop.key = vospace.core('groupread') THEN
                UPDATE vospace.node SET group_read = vospace.group_list(prop.value) WHERE id = n.id;
            ELSE
                UPDATE vospace.node SET group_write = vospace.group_list(prop.value) WHERE id = n.id;
            END IF;
        ELSIF prop.key = vospace.core('type') THEN
            UPDATE vospace.node SET content_type = nullif(prop.value, '') WHERE id = n.id;
        ELSIF prop.value IS NULL OR prop.value = '' AND prop.key <> '' THEN
            DELETE FROM vospace.property WHERE node = n.id AND uri = prop.key;
        ELSIF prop.key !~ '^[a-zA-Z][a-zA-Z0-9+.-]*:' THEN
            PERFORM vospace.fault(400, 'InvalidArgument', format('the property %L is not a URI', prop.key));
        ELSE
            INSERT INTO vospace.property (node, uri, value) VALUES (n.id, prop.key, prop.value)
            ON CONFLICT (node, uri) DO UPDATE SET value = EXCLUDED.value;
        END IF;
    END LOOP;
END $$;

-- Does following `target` from a link at `path` come back to `path`? (a cycle of links)
CREATE OR REPLACE FUNCTION vospace.link_cycle(path text, target text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    seen text[] := ARRAY[vospace.join_path(vospace.path_names(path))];
    next_path text := vospace.local_path(target);
    n vospace.node;
BEGIN
    WHILE next_path IS NOT NULL LOOP
        next_path := vospace.join_path(vospace.path_names(next_path));
        IF next_path = ANY (seen) OR EXISTS (SELECT 1 FROM unnest(seen) s WHERE next_path LIKE s || '/%') THEN
            RETURN true;
        END IF;
        IF cardinality(seen) > 20 THEN
            RETURN true;
        END IF;
        seen := seen || next_path;
        BEGIN
            n := vospace.find(next_path);
        EXCEPTION WHEN OTHERS THEN
            RETURN SQLERRM LIKE '%form a cycle%';
        END;
        IF n.id IS NULL OR n.kind <> 'link' THEN
            RETURN false;
        END IF;
        next_path := vospace.local_path(n.target);
    END LOOP;
    RETURN false;
END $$;

-- PUT a node (VOSpace 2.1 section 6.3.1, createNode): a container, an empty data node or a link,
-- owned by the caller, with the properties given. Returns its description.
CREATE OR REPLACE FUNCTION vospace.create_node(path text, kind text, properties jsonb DEFAULT '{}',
                                               target text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    p vospace.node;
    n vospace.node;
    leaf text := vospace.last_name(path);
    clean text := vospace.join_path(vospace.path_names(path));
BEGIN
    IF kind NOT IN ('container', 'data', 'link') THEN
        PERFORM vospace.fault(400, 'TypeNotSupported', format('%s nodes', kind));
    END IF;
    p := vospace.parent_for_writing(path);
    IF EXISTS (SELECT 1 FROM vospace.node x WHERE x.parent = p.id AND x.name = leaf) THEN
        PERFORM vospace.fault(409, 'DuplicateNode', clean);
    END IF;
    IF kind = 'link' THEN
        IF coalesce(target, '') = '' OR target !~ '^[a-zA-Z][a-zA-Z0-9+.-]*:' AND target NOT LIKE '/%' THEN
            PERFORM vospace.fault(400, 'InvalidArgument', format('a link needs a target URI, not %L', target));
        END IF;
        IF vospace.link_cycle(clean, target) THEN
            PERFORM vospace.fault(400, 'InvalidArgument', format('the link %s -> %s would make a cycle', clean, target));
        END IF;
    ELSE
        target := NULL;
    END IF;
    -- a new node shares its container's groups (a group's folder stays the group's)
    INSERT INTO vospace.node (parent, name, kind, owner, target, is_public, group_read, group_write)
    VALUES (p.id, leaf, kind, vospace.caller(), target, false, p.group_read, p.group_write)
    RETURNING * INTO n;
    PERFORM vospace.apply_properties(n, properties);
    UPDATE vospace.node SET modified = now() WHERE id = p.id;
    SELECT * INTO n FROM vospace.node WHERE id = n.id;
    RETURN vospace.description(n, clean);
END $$;

-- POST a node's properties (section 6.3.3, setNode)
CREATE OR REPLACE FUNCTION vospace.set_properties(path text, properties jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.readable_node(path);
BEGIN
    IF NOT vospace.writable(n, vospace.caller(), vospace.caller_group_names())
       AND NOT vospace.is_operator() THEN
        PERFORM vospace.deny(format('writing %s', vospace.join_path(vospace.path_names(path))));
    END IF;
    PERFORM 1 FROM vospace.node WHERE id = n.id FOR UPDATE;
    PERFORM vospace.apply_properties(n, properties);
    UPDATE vospace.node SET modified = now() WHERE id = n.id RETURNING * INTO n;
    RETURN vospace.description(n, vospace.join_path(vospace.path_names(path)));
END $$;

-- the nodes under (and including) `node_id`
CREATE OR REPLACE FUNCTION vospace.subtree(node_id bigint) RETURNS SETOF vospace.node
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE down AS (
        SELECT * FROM vospace.node WHERE id = node_id
        UNION ALL
        SELECT n.* FROM vospace.node n JOIN down ON n.parent = down.id)
    SELECT * FROM down $$;

-- DELETE a node and all under it (section 6.3.2, deleteNode). The caller must write in its
-- container and in everything under it. Returns the storage files no node points at any more:
-- the service removes them once this transaction has committed.
CREATE OR REPLACE FUNCTION vospace.delete_node(path text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.readable_node(path);
    clean text := vospace.join_path(vospace.path_names(path));
    caller text := vospace.caller();
    groups text[] := vospace.caller_group_names();
    doomed bigint[];
    files text[];
BEGIN
    PERFORM vospace.parent_for_writing(path);
    IF n.parent = (SELECT id FROM vospace.node WHERE parent IS NULL) AND NOT vospace.is_operator() THEN
        PERFORM vospace.fault(403, 'PermissionDenied', format('%s is the service''s', clean));
    END IF;
    SELECT array_agg(id), array_agg(DISTINCT storage) FILTER (WHERE storage IS NOT NULL)
      INTO doomed, files FROM vospace.subtree(n.id);
    IF EXISTS (SELECT 1 FROM vospace.node d WHERE d.id = ANY (doomed)
                AND NOT vospace.writable(d, caller, groups)) THEN
        PERFORM vospace.deny(format('deleting %s: it holds nodes the caller may not write', clean));
    END IF;
    PERFORM vospace.release_references(doomed);  -- reference files in use stay (sql/99)
    PERFORM vospace.grow(n.parent, -n.length);
    -- children before parents (the foreign key to the parent)
    DELETE FROM vospace.node WHERE id = ANY (doomed) AND kind <> 'container';
    PERFORM vospace.delete_containers(n.id);
    UPDATE vospace.node SET modified = now() WHERE id = n.parent;
    RETURN QUERY SELECT f FROM unnest(files) f
                  WHERE NOT EXISTS (SELECT 1 FROM vospace.node x WHERE x.storage = f);
END $$;

-- delete container `node_id` and the containers under it, deepest first
CREATE OR REPLACE FUNCTION vospace.delete_containers(node_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    child bigint;
BEGIN
    FOR child IN SELECT id FROM vospace.node WHERE parent = node_id LOOP
        PERFORM vospace.delete_containers(child);
    END LOOP;
    DELETE FROM vospace.node WHERE id = node_id;
END $$;

-- ---------------------------------------------------------------------------------------------
-- The operator's (hstvo vos)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION vospace.set_owner(path text, user_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT vospace.is_operator() THEN
        PERFORM vospace.deny('giving a node away (the operator''s)');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM auth.user u WHERE u.name = user_name) THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('no user %s', user_name));
    END IF;
    UPDATE vospace.node SET owner = user_name WHERE id = (vospace.readable_node(path)).id;
END $$;

-- a container's #quota in bytes (NULL: none); the operator's to set
CREATE OR REPLACE FUNCTION vospace.set_quota(path text, bytes bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.readable_node(path);
BEGIN
    IF NOT vospace.is_operator() THEN
        PERFORM vospace.deny('setting a quota (the operator''s)');
    END IF;
    IF n.kind <> 'container' THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s is not a container', path));
    END IF;
    IF bytes IS NOT NULL AND bytes < 0 THEN
        PERFORM vospace.fault(400, 'InvalidArgument', 'a quota is not negative');
    END IF;
    UPDATE vospace.node SET quota = bytes WHERE id = n.id;
END $$;

-- containers whose length is not the total of the data under them (`hstvo vos fsck`)
CREATE OR REPLACE FUNCTION vospace.length_problems()
RETURNS TABLE (path text, recorded bigint, actual bigint) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE tree AS (
        SELECT id AS top, id FROM vospace.node WHERE kind = 'container' AND parent IS NOT NULL
        UNION ALL
        SELECT tree.top, n.id FROM vospace.node n JOIN tree ON n.parent = tree.id),
    totals AS (
        SELECT tree.top, coalesce(sum(n.length) FILTER (WHERE n.kind = 'data'), 0) AS total
          FROM tree JOIN vospace.node n ON n.id = tree.id GROUP BY tree.top)
    SELECT vospace.path_of(c.id), c.length, t.total
      FROM vospace.node c JOIN totals t ON t.top = c.id
     WHERE c.length <> t.total $$;

-- what the caller may do with a node (the portal's storage browser shows only what works):
-- write in it (add, move, delete), and change its rights (its owner, or an operator)
CREATE OR REPLACE FUNCTION vospace.caller_rights(path text, OUT may_write boolean,
                                                 OUT may_change_rights boolean)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n vospace.node := vospace.readable_node(path);
BEGIN
    may_write := vospace.writable(n, vospace.caller(), vospace.caller_group_names());
    may_change_rights := vospace.is_operator() OR n.owner = vospace.caller();
END $$;
