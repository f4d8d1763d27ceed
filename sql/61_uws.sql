-- UWS 1.1 jobs of the TAP service (/tap/async), kept in the database: they survive a restart,
-- and any server process can run any job (a job is claimed with FOR UPDATE SKIP LOCKED).
--
-- Phases (UWS 1.1 section 2.1.3): PENDING -> QUEUED -> EXECUTING -> COMPLETED | ERROR | ABORTED;
-- ARCHIVED once its results are gone. uws.job_phase_change() is the only way phases move, so
-- the rules live here: RUN only from PENDING, ABORT only before the job has ended.

CREATE SCHEMA IF NOT EXISTS uws;
COMMENT ON SCHEMA uws IS 'UWS 1.1 jobs of the TAP service: parameters, phase, times, results';

CREATE TABLE IF NOT EXISTS uws.job (
    job_id              text PRIMARY KEY DEFAULT replace(gen_random_uuid()::text, '-', ''),
    run_id              text,
    owner               text,
    phase               text NOT NULL DEFAULT 'PENDING'
                        CHECK (phase IN ('PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR',
                                         'ABORTED', 'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED')),
    parameters          jsonb NOT NULL,            -- the request's parameters, names upper-case
    creation_time       timestamptz NOT NULL DEFAULT now(),
    start_time          timestamptz,
    end_time            timestamptz,
    execution_duration  integer NOT NULL DEFAULT 600,   -- seconds; 0 = unlimited
    destruction         timestamptz NOT NULL DEFAULT now() + interval '7 days',
    error_summary       text,
    backend_pid         integer,                   -- the session running it, for ABORT
    result              bytea,                     -- the result document
    result_type         text,                      -- its media type
    result_rows         bigint
);
-- who asked (the client's address; its owner once it has one): jobs are run fairly between them
ALTER TABLE uws.job ADD COLUMN IF NOT EXISTS client text;
CREATE INDEX IF NOT EXISTS job_queue_idx ON uws.job (creation_time) WHERE phase = 'QUEUED';
CREATE INDEX IF NOT EXISTS job_executing_idx ON uws.job (coalesce(owner, client))
    WHERE phase = 'EXECUTING';
CREATE INDEX IF NOT EXISTS job_destruction_idx ON uws.job (destruction);
COMMENT ON TABLE uws.job IS 'TAP async jobs (UWS 1.1); rows past their destruction time are deleted by uws.reap()';

-- a new job; run = true queues it at once (PHASE=RUN in the creating POST)
-- (owner: the authenticated user who created it; NULL for an anonymous job)
DROP FUNCTION IF EXISTS uws.create_job(jsonb, boolean, text);
DROP FUNCTION IF EXISTS uws.create_job(jsonb, boolean, text, text);
CREATE OR REPLACE FUNCTION uws.create_job(parameters jsonb, run boolean DEFAULT false,
                                          run_id text DEFAULT NULL, client text DEFAULT NULL,
                                          owner text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    id text;
BEGIN
    INSERT INTO uws.job (parameters, run_id, phase, client, owner)
    VALUES (parameters, run_id, CASE WHEN run THEN 'QUEUED' ELSE 'PENDING' END, client, owner)
    RETURNING job_id INTO id;
    IF run THEN
        PERFORM pg_notify('uws_job', id);
    END IF;
    RETURN id;
END $$;

-- PHASE=RUN or PHASE=ABORT; returns the phase after, or raises with the reason
CREATE OR REPLACE FUNCTION uws.job_phase_change(id text, action text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    j uws.job;
BEGIN
    SELECT * INTO j FROM uws.job WHERE job_id = id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no job %', id USING ERRCODE = 'no_data_found';
    END IF;
    IF upper(action) = 'RUN' THEN
        IF j.phase <> 'PENDING' THEN
            RAISE EXCEPTION 'job % is %: only a PENDING job can be run', id, j.phase
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        UPDATE uws.job SET phase = 'QUEUED' WHERE job_id = id;
        PERFORM pg_notify('uws_job', id);
        RETURN 'QUEUED';
    ELSIF upper(action) = 'ABORT' THEN
        IF j.phase IN ('COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED') THEN
            RETURN j.phase;  -- UWS: aborting an ended job changes nothing
        END IF;
        IF j.phase = 'EXECUTING' AND j.backend_pid IS NOT NULL THEN
            PERFORM pg_cancel_backend(j.backend_pid);
        END IF;
        UPDATE uws.job SET phase = 'ABORTED', end_time = now(), backend_pid = NULL
         WHERE job_id = id;
        RETURN 'ABORTED';
    END IF;
    RAISE EXCEPTION 'PHASE=% is not RUN or ABORT', action USING ERRCODE = 'invalid_parameter_value';
END $$;

-- the next queued job, now EXECUTING in this session (NULL when none is waiting): the oldest
-- of those whose requester has the fewest jobs executing, so that one user's hundred jobs do
-- not make everybody else wait for all of them
CREATE OR REPLACE FUNCTION uws.claim_job() RETURNS uws.job
LANGUAGE plpgsql AS $$
DECLARE
    j uws.job;
BEGIN
    SELECT * INTO j FROM uws.job q WHERE phase = 'QUEUED'
     ORDER BY (SELECT count(*) FROM uws.job e
                WHERE e.phase = 'EXECUTING'
                  AND coalesce(e.owner, e.client) IS NOT DISTINCT FROM coalesce(q.owner, q.client)),
              creation_time
       FOR UPDATE SKIP LOCKED LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE uws.job SET phase = 'EXECUTING', start_time = now(), backend_pid = pg_backend_pid()
     WHERE job_id = j.job_id RETURNING * INTO j;
    RETURN j;
END $$;

-- A job's result is a file in the archive's storage (HSTVO_STORAGE), named relative to it, so
-- that every server process sharing that storage serves any job's result, and a large result
-- never passes through memory or a bytea. (`result` holds the documents of jobs that finished
-- before results moved to storage; they are still served.)
ALTER TABLE uws.job ADD COLUMN IF NOT EXISTS result_file text;
ALTER TABLE uws.job ADD COLUMN IF NOT EXISTS result_size bigint;
COMMENT ON COLUMN uws.job.result_file IS 'the result document, relative to the storage directory (HSTVO_STORAGE)';
COMMENT ON COLUMN uws.job.result_size IS 'its size in bytes';

-- the end of a job, whose result was written to `file`; false when the job had been aborted
-- or deleted meanwhile (the caller then removes the file)
DROP FUNCTION IF EXISTS uws.finish_job(text, bytea, text, bigint);
CREATE OR REPLACE FUNCTION uws.finish_job(id text, file text, size bigint, media_type text,
                                          row_count bigint)
RETURNS boolean LANGUAGE sql AS $$
WITH finished AS (
    UPDATE uws.job SET phase = 'COMPLETED', end_time = now(), backend_pid = NULL,
           result_file = file, result_size = size, result_type = media_type,
           result_rows = row_count
     WHERE job_id = id AND phase = 'EXECUTING'
    RETURNING 1)
SELECT EXISTS (SELECT 1 FROM finished)
$$;

-- DELETE /tap/async/{id}: the job is aborted and deleted; returns its result file to remove
CREATE OR REPLACE FUNCTION uws.delete_job(id text) RETURNS text
LANGUAGE sql AS $$
DELETE FROM uws.job WHERE job_id = id RETURNING result_file
$$;

CREATE OR REPLACE FUNCTION uws.fail_job(id text, message text) RETURNS void
LANGUAGE sql AS $$
UPDATE uws.job SET phase = 'ERROR', end_time = now(), backend_pid = NULL, error_summary = message
 WHERE job_id = id AND phase IN ('EXECUTING', 'QUEUED')
$$;

-- jobs whose server died while running them: back to ERROR with the reason
CREATE OR REPLACE FUNCTION uws.recover_orphans() RETURNS integer
LANGUAGE sql AS $$
WITH orphans AS (
    UPDATE uws.job SET phase = 'ERROR', end_time = now(), backend_pid = NULL,
           error_summary = 'the server running this job stopped; please submit it again'
     WHERE phase = 'EXECUTING'
       AND (backend_pid IS NULL OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                                WHERE a.pid = uws.job.backend_pid))
    RETURNING 1)
SELECT count(*)::integer FROM orphans
$$;

-- delete jobs past their destruction time; returns their result files, for the caller to remove
-- (NULL for a job without one)
DROP FUNCTION IF EXISTS uws.reap();
CREATE OR REPLACE FUNCTION uws.reap() RETURNS SETOF text
LANGUAGE sql AS $$
DELETE FROM uws.job WHERE destruction < now() RETURNING result_file
$$;

-- of these job IDs, the ones no job has: result files left by a server killed while writing,
-- or by a job deleted while its result was written, are found with it and removed
CREATE OR REPLACE FUNCTION uws.unknown_jobs(ids text[]) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
SELECT id FROM unnest(ids) AS id WHERE NOT EXISTS (SELECT 1 FROM uws.job j WHERE j.job_id = id)
$$;

-- files POSTed with a job for UPLOAD=name,param:part (deleted with their job)
CREATE TABLE IF NOT EXISTS uws.job_upload (
    job_id   text NOT NULL REFERENCES uws.job ON DELETE CASCADE,
    part     text NOT NULL,
    content  bytea NOT NULL,
    PRIMARY KEY (job_id, part)
);
COMMENT ON TABLE uws.job_upload IS 'VOTables uploaded with TAP async jobs, by form part name';

-- Who may see, change and delete a job: its owner; a job created anonymously, whoever has its
-- URL (its ID is random). 'allowed', 'denied', or NULL when there is no such job.
CREATE OR REPLACE FUNCTION uws.job_access(id text, caller text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN j.owner IS NULL OR j.owner = caller THEN 'allowed' ELSE 'denied' END
      FROM uws.job j WHERE j.job_id = id $$;
