-- VOSpace 2.1 transfers (section 6.4): the bytes of data nodes in and out, and nodes moved and
-- copied, as UWS jobs (/vospace/transfers, async; /vospace/synctrans, sync).
--
-- An upload is written to a file of its own under the storage directory, its MD5 computed on the
-- way; only then does vospace.finish_upload point the node at it, in one transaction. So a node
-- never shows half its bytes: an upload cut off leaves the node as it was (and no node, if it
-- was new), and at most a file that no node points at, which `hstvo vos fsck` finds. Files are
-- never rewritten: a copied node shares its original's file, and a file goes when the last node
-- pointing at it does.

CREATE TABLE IF NOT EXISTS vospace.transfer (
    job_id        text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
    run_id        text,
    owner         text,                  -- NULL: an anonymous caller's (a pull of public data)
    phase         text NOT NULL DEFAULT 'PENDING'
                  CHECK (phase IN ('PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR',
                                   'ABORTED', 'ARCHIVED')),
    direction     text NOT NULL,         -- pushToVoSpace, pullFromVoSpace, or a node (move, copy)
    target        text NOT NULL,         -- the node's path
    destination   text,                  -- moveNode and copyNode: where to
    keep_bytes    boolean,               -- false: moveNode, true: copyNode
    protocols     text[] NOT NULL DEFAULT '{}',   -- what the client asked for
    content_length bigint,               -- pushToVoSpace: the size the client announced
    error_summary text,
    creation_time timestamptz NOT NULL DEFAULT now(),
    start_time    timestamptz,
    end_time      timestamptz,
    destruction   timestamptz NOT NULL DEFAULT now() + interval '7 days'
);
CREATE INDEX IF NOT EXISTS transfer_pushing_idx ON vospace.transfer (target)
    WHERE phase = 'EXECUTING' AND direction = 'pushToVoSpace';
COMMENT ON TABLE vospace.transfer IS 'VOSpace transfers (UWS 1.1 jobs): pushes, pulls, moves and copies';

-- ---------------------------------------------------------------------------------------------
-- The bytes of a data node
-- ---------------------------------------------------------------------------------------------

-- Where `bytes` for the node at `path` may go: raises what an upload would meet (not a data
-- node, PermissionDenied, ContainerNotFound, QuotaExceeded) before a byte is sent, and returns
-- the new file's name under the storage directory. Writes nothing.
CREATE OR REPLACE FUNCTION vospace.begin_upload(path text, bytes bigint DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.find(path);
    p vospace.node;
    key text := replace(gen_random_uuid()::text, '-', '');
BEGIN
    IF n.id IS NOT NULL AND n.kind <> 'data' THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s is a %s node: only data nodes hold bytes',
                              vospace.join_path(vospace.path_names(path)), n.kind));
    END IF;
    IF n.id IS NOT NULL AND NOT vospace.writable(n, vospace.caller(), vospace.caller_group_names()) THEN
        PERFORM vospace.deny(format('writing %s', vospace.join_path(vospace.path_names(path))));
    END IF;
    p := vospace.parent_for_writing(path);
    IF n.id IS NULL AND vospace.caller() IS NULL AND NOT vospace.is_operator() THEN
        PERFORM vospace.deny('creating a node');
    END IF;
    PERFORM vospace.check_room(p.id, coalesce(bytes, 0) - coalesce(n.length, 0));
    RETURN substr(key, 1, 2) || '/' || substr(key, 3, 2) || '/' || key;
END $$;

-- The upload to `storage` is complete and its MD5 verified: point the node at `path` (made
-- now, the caller's, if it is new) at it, with its length and MD5, in this transaction. Ends
-- the pushes that waited for it. Returns the file the node pointed at before, when no node
-- points at it any more (the service removes it after the commit).
CREATE OR REPLACE FUNCTION vospace.finish_upload(path text, storage text, bytes bigint, md5 text,
                                                 content_type text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    clean text := vospace.join_path(vospace.path_names(path));
    p vospace.node;
    n vospace.node;
    previous text;
BEGIN
    PERFORM vospace.begin_upload(path, bytes);  -- the same checks, now in the writing transaction
    p := vospace.parent_for_writing(path);
    SELECT * INTO n FROM vospace.node WHERE parent = p.id AND name = vospace.last_name(path) FOR UPDATE;
    IF FOUND THEN
        previous := n.storage;
        UPDATE vospace.node
           SET storage = finish_upload.storage, length = bytes, md5 = finish_upload.md5,
               content_type = coalesce(finish_upload.content_type, n.content_type), modified = now()
         WHERE id = n.id;
        PERFORM vospace.grow(p.id, bytes - n.length);
    ELSE
        INSERT INTO vospace.node (parent, name, kind, owner, storage, length, md5, content_type,
                                  group_read, group_write)
        VALUES (p.id, vospace.last_name(path), 'data', vospace.caller(), storage, bytes, md5,
                content_type, p.group_read, p.group_write);
        PERFORM vospace.grow(p.id, bytes);
    END IF;
    UPDATE vospace.node SET modified = now() WHERE id = p.id;
    UPDATE vospace.transfer SET phase = 'COMPLETED', end_time = now()
     WHERE phase = 'EXECUTING' AND direction = 'pushToVoSpace' AND target = clean;
    IF previous IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vospace.node x WHERE x.storage = previous) THEN
        RETURN previous;
    END IF;
    RETURN NULL;
END $$;

-- What a download of the node at `path` sends (a link to a node here is followed): its file,
-- length, MD5, type, name and date; or {redirect: URL} for a link to a web address (the
-- archive's files in its folders among them); NodeNotFound, PermissionDenied, or
-- InvalidArgument for a container.
CREATE OR REPLACE FUNCTION vospace.download(path text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    names text[] := vospace.path_names(path);
    n vospace.node;
    described jsonb;
BEGIN
    IF vospace.in_archive(names) THEN  -- a file of the archive's folders: fetched at its URL
        described := vospace.archive_node(names);
        IF described->>'kind' <> 'link' THEN
            PERFORM vospace.fault(400, 'InvalidArgument', format('%s is a container: it has no bytes', path));
        END IF;
        RETURN jsonb_build_object('redirect', described->>'target');
    END IF;
    n := vospace.readable_node(path, true);
    IF n.kind = 'link' AND n.target ~* '^https?://' THEN
        RETURN jsonb_build_object('redirect', n.target);
    END IF;
    IF n.kind = 'link' THEN
        PERFORM vospace.fault(400, 'LinkFound', format('%s links to %s', path, n.target));
    END IF;
    IF n.kind <> 'data' THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s is a container: it has no bytes',
                              vospace.join_path(vospace.path_names(path))));
    END IF;
    RETURN jsonb_build_object('storage', n.storage, 'length', n.length, 'md5', n.md5,
                              'content_type', n.content_type, 'name', n.name,
                              'modified', n.modified);
END $$;

-- every file a node points at (`hstvo vos fsck` compares them with the storage directory)
CREATE OR REPLACE FUNCTION vospace.stored_files()
RETURNS TABLE (storage text, length bigint, md5 text, nodes bigint)
LANGUAGE sql STABLE AS $$
    SELECT storage, max(length), max(md5), count(*) FROM vospace.node
     WHERE storage IS NOT NULL GROUP BY storage $$;

-- ---------------------------------------------------------------------------------------------
-- Moving and copying (moveNode, copyNode: section 6.4.1)
-- ---------------------------------------------------------------------------------------------

-- where a node moved or copied to `destination` lands: into it when it is a container, else
-- at it (a new name in its container). Returns (container, name).
CREATE OR REPLACE FUNCTION vospace.landing(destination text, moving_name text,
                                           OUT container vospace.node, OUT name text)
LANGUAGE plpgsql AS $$
DECLARE
    d vospace.node := vospace.find(destination, true);
BEGIN
    IF d.id IS NOT NULL AND d.kind = 'container' THEN
        container := d;
        name := moving_name;
        IF NOT vospace.writable(d, vospace.caller(), vospace.caller_group_names()) THEN
            PERFORM vospace.deny(format('writing in %s', vospace.join_path(vospace.path_names(destination))));
        END IF;
        PERFORM 1 FROM vospace.node WHERE id = d.id FOR UPDATE;
    ELSIF d.id IS NOT NULL THEN
        PERFORM vospace.fault(409, 'DuplicateNode', vospace.join_path(vospace.path_names(destination)));
    ELSE
        container := vospace.parent_for_writing(destination);
        name := vospace.last_name(destination);
    END IF;
    IF EXISTS (SELECT 1 FROM vospace.node x WHERE x.parent = container.id AND x.name = landing.name) THEN
        PERFORM vospace.fault(409, 'DuplicateNode', rtrim(vospace.path_of(container.id), '/') || '/' || name);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION vospace.move_node(source text, destination text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.readable_node(source);
    place record;
BEGIN
    PERFORM vospace.parent_for_writing(source);
    IF vospace.reference_tree() IN ((vospace.path_names(source))[1], (vospace.path_names(destination))[1]) THEN
        -- a reference file's registration goes with its place in the tree (sql/99)
        PERFORM vospace.fault(403, 'PermissionDenied', format(
            'reference files are not moved in or out of /%s: write and delete them', vospace.reference_tree()));
    END IF;
    IF n.parent = (SELECT id FROM vospace.node WHERE parent IS NULL) AND NOT vospace.is_operator() THEN
        PERFORM vospace.fault(403, 'PermissionDenied', format('%s is the service''s', source));
    END IF;
    IF NOT vospace.writable(n, vospace.caller(), vospace.caller_group_names()) THEN
        PERFORM vospace.deny(format('moving %s', vospace.join_path(vospace.path_names(source))));
    END IF;
    SELECT * INTO place FROM vospace.landing(destination, n.name);
    IF (place.container).id IN (SELECT id FROM vospace.subtree(n.id)) THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s cannot move into itself', source));
    END IF;
    PERFORM vospace.grow(n.parent, -n.length);
    UPDATE vospace.node SET parent = (place.container).id, name = place.name, modified = now()
     WHERE id = n.id;
    PERFORM vospace.grow((place.container).id, n.length);
    UPDATE vospace.node SET modified = now() WHERE id IN (n.parent, (place.container).id);
    RETURN vospace.description(n, vospace.path_of(n.id));
END $$;

-- a copy of node `source_id` (and all under it) as `new_name` in container `into_id`, the caller's
CREATE OR REPLACE FUNCTION vospace.copy_subtree(source_id bigint, into_id bigint, new_name text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    copy_id bigint;
    child record;
BEGIN
    INSERT INTO vospace.node (parent, name, kind, owner, is_public, group_read, group_write, target,
                              length, md5, content_type, storage)
    SELECT into_id, new_name, kind, coalesce(vospace.caller(), owner), is_public, group_read,
           group_write, target, CASE WHEN kind = 'container' THEN 0 ELSE length END, md5,
           content_type, storage
      FROM vospace.node WHERE id = source_id
    RETURNING id INTO copy_id;
    INSERT INTO vospace.property (node, uri, value)
    SELECT copy_id, uri, value FROM vospace.property WHERE node = source_id;
    FOR child IN SELECT id, name FROM vospace.node WHERE parent = source_id LOOP
        PERFORM vospace.copy_subtree(child.id, copy_id, child.name);
    END LOOP;
    UPDATE vospace.node c SET length = (SELECT coalesce(sum(length), 0) FROM vospace.node x
                                         WHERE x.parent = copy_id)
     WHERE c.id = copy_id AND c.kind = 'container';
    RETURN copy_id;
END $$;

CREATE OR REPLACE FUNCTION vospace.copy_node(source text, destination text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    n vospace.node := vospace.readable_node(source);
    place record;
    copy_id bigint;
    caller text := vospace.caller();
    groups text[] := vospace.caller_group_names();
BEGIN
    IF caller IS NULL AND NOT vospace.is_operator() THEN
        PERFORM vospace.deny('copying');
    END IF;
    IF EXISTS (SELECT 1 FROM vospace.subtree(n.id) s WHERE NOT vospace.readable(s, caller, groups)) THEN
        PERFORM vospace.deny(format('copying %s: it holds nodes the caller may not read', source));
    END IF;
    SELECT * INTO place FROM vospace.landing(destination, n.name);
    IF (place.container).id IN (SELECT id FROM vospace.subtree(n.id)) THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('%s cannot be copied into itself', source));
    END IF;
    copy_id := vospace.copy_subtree(n.id, (place.container).id, place.name);
    PERFORM vospace.grow((place.container).id, n.length);
    UPDATE vospace.node SET modified = now() WHERE id = (place.container).id;
    SELECT * INTO n FROM vospace.node WHERE id = copy_id;
    RETURN vospace.description(n, vospace.path_of(copy_id));
END $$;

-- ---------------------------------------------------------------------------------------------
-- Transfer jobs
-- ---------------------------------------------------------------------------------------------

-- a new transfer, the caller's; `run` starts it at once (a sync transfer, or PHASE=RUN)
CREATE OR REPLACE FUNCTION vospace.create_transfer(target text, direction text,
                                                   keep_bytes boolean DEFAULT NULL,
                                                   protocols text[] DEFAULT '{}',
                                                   content_length bigint DEFAULT NULL,
                                                   run boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    id text;
    destination text;
    target_path text := vospace.local_path(target);
BEGIN
    IF target_path IS NULL THEN
        PERFORM vospace.fault(400, 'InvalidURI', format('%s is not a node of this service', target));
    END IF;
    IF direction NOT IN ('pushToVoSpace', 'pullFromVoSpace') THEN
        destination := vospace.local_path(direction);
        IF destination IS NULL THEN
            PERFORM vospace.fault(400, 'InvalidArgument', format(
                'direction %s: pushToVoSpace, pullFromVoSpace, or a node of this service', direction));
        END IF;
        direction := 'node';
    END IF;
    INSERT INTO vospace.transfer (owner, direction, target, destination, keep_bytes, protocols,
                                  content_length)
    VALUES (vospace.caller(), direction, vospace.join_path(vospace.path_names(target_path)),
            CASE WHEN destination IS NOT NULL THEN vospace.join_path(vospace.path_names(destination)) END,
            coalesce(keep_bytes, true),
            coalesce(protocols, '{}'), content_length)
    RETURNING job_id INTO id;
    IF run THEN
        PERFORM vospace.run_transfer(id);
    END IF;
    RETURN id;
END $$;

-- The transfer job `id`, the caller's (NodeNotFound for anyone else's: its name says nothing)
CREATE OR REPLACE FUNCTION vospace.own_transfer(id text) RETURNS vospace.transfer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t vospace.transfer;
BEGIN
    SELECT * INTO t FROM vospace.transfer WHERE job_id = id;
    IF NOT FOUND OR (t.owner IS DISTINCT FROM vospace.caller() AND NOT vospace.is_operator()) THEN
        PERFORM vospace.fault(404, 'NodeNotFound', format('no transfer %s', id));
    END IF;
    RETURN t;
END $$;

-- Run transfer `id`: a move or copy is done now; a push or pull is negotiated (what the node
-- allows is checked; the endpoints follow from the job) and waits for its bytes (a push) or is
-- complete (a pull). A failure is the job's ERROR, with the fault as its summary.
CREATE OR REPLACE FUNCTION vospace.run_transfer(id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t vospace.transfer := vospace.own_transfer(id);
    ends text;
BEGIN
    IF t.phase <> 'PENDING' THEN
        PERFORM vospace.fault(400, 'InvalidArgument', format('transfer %s is %s: only a PENDING one runs', id, t.phase));
    END IF;
    UPDATE vospace.transfer SET start_time = now() WHERE job_id = id;
    BEGIN
        IF t.direction = 'pushToVoSpace' THEN
            PERFORM vospace.begin_upload(t.target, t.content_length);
            ends := 'EXECUTING';
        ELSIF t.direction = 'pullFromVoSpace' THEN
            PERFORM vospace.download(t.target);
            ends := 'COMPLETED';
        ELSIF t.keep_bytes THEN
            PERFORM vospace.copy_node(t.target, t.destination);
            ends := 'COMPLETED';
        ELSE
            PERFORM vospace.move_node(t.target, t.destination);
            ends := 'COMPLETED';
        END IF;
        UPDATE vospace.transfer SET phase = ends,
               end_time = CASE WHEN ends = 'COMPLETED' THEN now() END
         WHERE job_id = id;
    EXCEPTION WHEN SQLSTATE 'VS400' OR SQLSTATE 'VS401' OR SQLSTATE 'VS403' OR SQLSTATE 'VS404'
                   OR SQLSTATE 'VS409' OR SQLSTATE 'VS413' THEN
        UPDATE vospace.transfer SET phase = 'ERROR', error_summary = SQLERRM, end_time = now()
         WHERE job_id = id;
        ends := 'ERROR';
    END;
    RETURN ends;
END $$;

-- PHASE=ABORT: a transfer not yet ended is ABORTED
CREATE OR REPLACE FUNCTION vospace.abort_transfer(id text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t vospace.transfer := vospace.own_transfer(id);
BEGIN
    IF t.phase IN ('PENDING', 'QUEUED', 'EXECUTING') THEN
        UPDATE vospace.transfer SET phase = 'ABORTED', end_time = now() WHERE job_id = id;
        RETURN 'ABORTED';
    END IF;
    RETURN t.phase;
END $$;

CREATE OR REPLACE FUNCTION vospace.delete_transfer(id text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM vospace.own_transfer(id);
    DELETE FROM vospace.transfer WHERE job_id = id;
END $$;

-- the caller's transfers, newest first (GET /vospace/transfers); none for an anonymous caller,
-- whose jobs are reached by their (unguessable) URL only: anonymous callers are many people
CREATE OR REPLACE FUNCTION vospace.transfers(max_rows int DEFAULT 1000)
RETURNS SETOF vospace.transfer LANGUAGE sql STABLE AS $$
    SELECT * FROM vospace.transfer
     WHERE (owner = vospace.caller()) OR vospace.is_operator()
     ORDER BY creation_time DESC LIMIT max_rows $$;

-- transfers past their destruction time go (UWS 1.1 section 2.2.3.3)
CREATE OR REPLACE FUNCTION vospace.reap_transfers() RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM vospace.transfer WHERE destruction < now() RETURNING 1)
    SELECT count(*) FROM gone $$;
