-- The recalibration work queue: jobs, their history, and the functions workers call.
--
-- A job's life (every change is a row of queue.job_history):
--
--     idle ──claim──> running ──complete──> completed
--      ^  ^              │ │
--      │  └──fail, reap──┘ └──fail or reap, the max_starts-th time──> held ──release──> idle
--      │                                                                  │
--      └───────────────────────────── retry ─── failed/cancelled <───────┘ cancel
--
--   idle       waiting for a worker whose resources satisfy it (VM type, CPUs, memory)
--   running    claimed: a lease the worker keeps alive with heartbeats; when the lease runs
--              out (a worker killed, a VM gone) queue.reap_expired() returns it to idle
--   held       started max_starts times without completing: waits for a person
--              (last_error says why); `hstvo jobs release` makes it idle again
--   completed  done; failed and cancelled are ended by a person (`hstvo jobs retry` revives)
--
-- Workers claim with FOR UPDATE SKIP LOCKED, so any number of them on any number of machines
-- take distinct jobs without waiting on each other; LISTEN queue_job wakes the idle ones.
-- Requests for a dataset that already has an idle job coalesce into that job (its reasons
-- grow), so a burst of new reference files recalibrates each dataset once.

CREATE SCHEMA IF NOT EXISTS queue;
COMMENT ON SCHEMA queue IS 'the recalibration work queue (sql/73_work_queue.sql)';

DO $$ BEGIN
    CREATE TYPE queue.job_status AS ENUM ('idle', 'running', 'held', 'completed', 'failed',
                                          'cancelled');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS queue.job (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           text NOT NULL DEFAULT current_user,   -- who asked (a DBA, a procedure)
    status          queue.job_status NOT NULL DEFAULT 'idle',
    command         text NOT NULL,          -- what the worker runs: calibrate, noop, ...
    vm_type         text,                   -- the kind of VM it needs; NULL: any
    min_cpus        integer NOT NULL DEFAULT 1 CHECK (min_cpus > 0),
    min_memory_mb   integer NOT NULL DEFAULT 1024 CHECK (min_memory_mb > 0),
    priority        integer NOT NULL DEFAULT 0,   -- higher first
    starts          integer NOT NULL DEFAULT 0,   -- how many times a worker claimed it
    max_starts      integer NOT NULL DEFAULT 3 CHECK (max_starts > 0),
    lease_expires   timestamptz,            -- while running: the worker's lease
    worker          text,                   -- while running: who has it (host:pid/slot)
    dataset         text,                   -- the HST dataset (exposure) it calibrates
    reasons         jsonb NOT NULL DEFAULT '[]',  -- why: new reference files, CAL_VER
    arguments       jsonb NOT NULL DEFAULT '{}',  -- what the command needs
    last_error      text,
    result          jsonb,
    created         timestamptz NOT NULL DEFAULT now(),
    started         timestamptz,            -- the last claim
    finished        timestamptz
);
-- the claim's scan: idle jobs per VM type, best first
CREATE INDEX IF NOT EXISTS job_claim_idx ON queue.job (vm_type, priority DESC, id)
    WHERE status = 'idle';
-- the reaper's scan
CREATE INDEX IF NOT EXISTS job_lease_idx ON queue.job (lease_expires) WHERE status = 'running';
-- one pending job per dataset: further requests coalesce into it
CREATE UNIQUE INDEX IF NOT EXISTS job_pending_dataset_idx ON queue.job (dataset)
    WHERE status = 'idle' AND dataset IS NOT NULL;
COMMENT ON TABLE queue.job IS 'recalibration jobs (hstvo jobs; sql/73_work_queue.sql has the life of a job)';

-- Retries back off: a job that failed (or whose worker's lease ran out) is idle again, but not
-- claimed before not_before: queue_retry_seconds after its first start, four times that after
-- its second, and so on (at most an hour). A fault that fails every start (a calibration
-- program missing on the workers) holds the job after minutes, with the reason, instead of
-- burning its starts within a second.
ALTER TABLE queue.job ADD COLUMN IF NOT EXISTS not_before timestamptz;
COMMENT ON COLUMN queue.job.not_before IS 'an idle job that failed is not claimed before this (retries back off)';
INSERT INTO hstvo.setting (name, value, description) VALUES
    ('queue_retry_seconds', '30',
     'seconds before a failed recalibration job is tried again; each further failure waits four times longer (at most an hour)')
ON CONFLICT (name) DO NOTHING;

-- how long a job that has been started `starts` times waits before its next start
CREATE OR REPLACE FUNCTION queue.retry_delay(starts integer) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT least(coalesce(hstvo.setting('queue_retry_seconds')::double precision, 30)
                 * 4 ^ greatest(starts - 1, 0), 3600) * interval '1 second' $$;

-- who moves a job by hand: the operating-system user `hstvo jobs` runs as (it sets
-- hstvo.actor), or else the database role
CREATE OR REPLACE FUNCTION queue.actor() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('hstvo.actor', true), ''), current_user) $$;

-- no foreign key to queue.job: the check would cost every claim and completion a lookup and a
-- lock; queue.purge() removes a job's history with the job
CREATE TABLE IF NOT EXISTS queue.job_history (
    job_id       bigint NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    from_status  queue.job_status,          -- NULL: created
    to_status    queue.job_status NOT NULL,
    worker       text,
    note         text
);
CREATE INDEX IF NOT EXISTS job_history_job_idx ON queue.job_history (job_id, at);

-- every status change is recorded, whoever makes it (a function here, or a DBA's UPDATE): a
-- row trigger for changes (one job at a time, the hot path), a statement trigger for creation
-- (thousands at a time)
CREATE OR REPLACE FUNCTION queue.record_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- the note says why: a worker's error (and when the job may run again), or who moved it
    INSERT INTO queue.job_history (job_id, from_status, to_status, worker, note)
    VALUES (NEW.id, OLD.status, NEW.status, coalesce(NEW.worker, OLD.worker),
            CASE WHEN OLD.status = 'running' AND NEW.status IN ('held', 'failed', 'idle')
                 THEN NEW.last_error
                      || CASE WHEN NEW.not_before > now()
                              THEN format(' (tried again from %s)',
                                          to_char(NEW.not_before, 'YYYY-MM-DD HH24:MI:SS TZ'))
                              ELSE '' END
                 WHEN OLD.status = 'held' AND NEW.status = 'idle'
                 THEN 'released by ' || queue.actor()
                 WHEN NEW.status = 'idle' THEN 'retried by ' || queue.actor()
                 WHEN NEW.status = 'cancelled' THEN 'cancelled by ' || queue.actor()
                 WHEN NEW.status = 'held' THEN 'held by ' || queue.actor() END);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION queue.record_creation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO queue.job_history (job_id, from_status, to_status, note)
    SELECT n.id, NULL, n.status, n.reasons::text FROM new_rows n;
    PERFORM pg_notify('queue_job', '');  -- wake idle workers (one notification per statement)
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS job_history_update ON queue.job;
CREATE TRIGGER job_history_update AFTER UPDATE OF status ON queue.job
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION queue.record_history();
DROP TRIGGER IF EXISTS job_history_insert ON queue.job;
CREATE TRIGGER job_history_insert AFTER INSERT ON queue.job
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue.record_creation();

-- queue.purge: delete ended jobs (completed, failed, cancelled) that finished before `before`,
-- with their history; how many
CREATE OR REPLACE FUNCTION queue.purge(before timestamptz) RETURNS integer
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM queue.job
         WHERE status IN ('completed', 'failed', 'cancelled') AND finished < before
        RETURNING id),
    history AS (DELETE FROM queue.job_history h USING gone WHERE h.job_id = gone.id)
    SELECT count(*)::integer FROM gone $$;

-- ---------------------------------------------------------------------------------------------
-- Asking
-- ---------------------------------------------------------------------------------------------

-- queue.enqueue: a job for a dataset, or the dataset's pending job with the reason added;
-- returns the job's id
CREATE OR REPLACE FUNCTION queue.enqueue(command text, dataset text DEFAULT NULL,
                                         reason jsonb DEFAULT '{}', vm_type text DEFAULT NULL,
                                         min_cpus integer DEFAULT 1,
                                         min_memory_mb integer DEFAULT 1024,
                                         priority integer DEFAULT 0,
                                         arguments jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO queue.job (command, dataset, reasons, vm_type, min_cpus, min_memory_mb,
                           priority, arguments)
    VALUES (command, dataset, jsonb_build_array(reason), vm_type, min_cpus, min_memory_mb,
            priority, arguments)
    ON CONFLICT (dataset) WHERE status = 'idle' AND dataset IS NOT NULL
    DO UPDATE SET reasons = queue.job.reasons || EXCLUDED.reasons,
                  priority = greatest(queue.job.priority, EXCLUDED.priority)
    RETURNING id $$;

-- ---------------------------------------------------------------------------------------------
-- Working
-- ---------------------------------------------------------------------------------------------

-- how many jobs a worker of these resources could still get: idle ones it may claim, and
-- running ones (a lease that runs out brings them back). `hstvo worker --once` stops when none.
CREATE OR REPLACE FUNCTION queue.jobs_within_reach(vm_type text, cpus integer, memory_mb integer)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM queue.job j
     WHERE j.status IN ('idle', 'running')
       AND (j.vm_type IS NULL OR j.vm_type = jobs_within_reach.vm_type)
       AND j.min_cpus <= jobs_within_reach.cpus AND j.min_memory_mb <= jobs_within_reach.memory_mb
$$;

-- queue.claim: the best idle job this worker's resources satisfy, now running under a lease
-- (none when there is none). Jobs for this VM type and jobs for any VM are two ranges of
-- job_claim_idx: the best of each is taken, then the better of the two, so that idle jobs
-- of other VM types never stand in the way however many there are.
CREATE OR REPLACE FUNCTION queue.claim(worker text, vm_type text, cpus integer,
                                       memory_mb integer, lease_seconds integer DEFAULT 60)
RETURNS SETOF queue.job
LANGUAGE plpgsql AS $$
DECLARE
    mine record;     -- the best idle job for this VM type
    any_vm record;   -- the best idle job for any VM
    chosen bigint;
BEGIN
    SELECT c.id, c.priority INTO mine FROM queue.job c
     WHERE c.status = 'idle' AND c.vm_type = claim.vm_type
       AND c.min_cpus <= claim.cpus AND c.min_memory_mb <= claim.memory_mb
       AND (c.not_before IS NULL OR c.not_before <= now())
     ORDER BY c.priority DESC, c.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    SELECT c.id, c.priority INTO any_vm FROM queue.job c
     WHERE c.status = 'idle' AND c.vm_type IS NULL
       AND c.min_cpus <= claim.cpus AND c.min_memory_mb <= claim.memory_mb
       AND (c.not_before IS NULL OR c.not_before <= now())
     ORDER BY c.priority DESC, c.id LIMIT 1 FOR UPDATE SKIP LOCKED;
    chosen := CASE WHEN any_vm.id IS NULL THEN mine.id
                   WHEN mine.id IS NULL THEN any_vm.id
                   WHEN (any_vm.priority, -any_vm.id) > (mine.priority, -mine.id) THEN any_vm.id
                   ELSE mine.id END;
    IF chosen IS NOT NULL THEN
        RETURN QUERY
        UPDATE queue.job j
           SET status = 'running', worker = claim.worker, starts = j.starts + 1,
               not_before = NULL, started = now(), lease_expires = now() + lease_seconds * interval '1 second'
         WHERE j.id = chosen
        RETURNING j.*;
    END IF;
END $$;

-- the job `job_id`, locked; raises when there is none
CREATE OR REPLACE FUNCTION queue.locked_job(job_id bigint) RETURNS queue.job
LANGUAGE plpgsql AS $$
DECLARE
    found queue.job;
BEGIN
    SELECT * INTO found FROM queue.job WHERE id = job_id FOR UPDATE;
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'job % does not exist', job_id USING ERRCODE = 'QU001';
    END IF;
    RETURN found;
END $$;

-- the running job `job_id` of `worker`, locked; raises when it is not (any more) theirs
CREATE OR REPLACE FUNCTION queue.own_job(job_id bigint, worker text) RETURNS queue.job
LANGUAGE plpgsql AS $$
DECLARE
    found queue.job := queue.locked_job(job_id);
BEGIN
    IF found.status <> 'running' OR found.worker IS DISTINCT FROM own_job.worker THEN
        RAISE EXCEPTION 'job % is not running for worker % (it is %, worker %)', job_id,
            own_job.worker, found.status, coalesce(found.worker, '-')
            USING ERRCODE = 'QU002',
                  HINT = 'its lease ran out and it went back to the queue: drop the work';
    END IF;
    RETURN found;
END $$;

-- queue.heartbeat: extend the lease; false when the job is no longer this worker's
CREATE OR REPLACE FUNCTION queue.heartbeat(job_id bigint, worker text,
                                           lease_seconds integer DEFAULT 60) RETURNS boolean
LANGUAGE sql AS $$
    WITH kept AS (
        UPDATE queue.job SET lease_expires = now() + lease_seconds * interval '1 second'
         WHERE id = job_id AND status = 'running' AND queue.job.worker = heartbeat.worker
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM kept) $$;

-- queue.complete: the job is done (raises when it is not this worker's: then its lease ran out
-- and another worker has it or will, and this worker's work must not count)
CREATE OR REPLACE FUNCTION queue.complete(job_id bigint, worker text, result jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE queue.job j SET status = 'completed', finished = now(), lease_expires = NULL,
                           result = complete.result
     WHERE j.id = job_id AND j.status = 'running' AND j.worker = complete.worker;
    IF NOT FOUND THEN
        PERFORM queue.own_job(job_id, worker);  -- raises, saying why
    END IF;
END $$;

-- queue.fail: the job failed this time: idle again, or held after its max_starts-th start
CREATE OR REPLACE FUNCTION queue.fail(job_id bigint, worker text, error text) RETURNS queue.job_status
LANGUAGE plpgsql AS $$
DECLARE
    failed queue.job := queue.own_job(job_id, worker);
    outcome queue.job_status := CASE WHEN failed.starts >= failed.max_starts THEN 'held' ELSE 'idle' END;
BEGIN
    UPDATE queue.job SET status = outcome, last_error = error, lease_expires = NULL,
                         worker = CASE WHEN outcome = 'held' THEN queue.job.worker END,
                         not_before = CASE WHEN outcome = 'idle'
                                           THEN now() + queue.retry_delay(failed.starts) END
     WHERE id = job_id;
    RETURN outcome;
END $$;

-- queue.release_job: a worker gives a job back unstarted (it is shutting down): idle, and the
-- start does not count
CREATE OR REPLACE FUNCTION queue.release_job(job_id bigint, worker text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue.own_job(job_id, worker);
    UPDATE queue.job SET status = 'idle', worker = NULL, lease_expires = NULL,
                         starts = greatest(starts - 1, 0), last_error = 'released by its worker'
     WHERE id = job_id;
END $$;

-- queue.reap_expired: running jobs whose lease ran out go back to idle (or to held when they
-- have been started max_starts times); returns how many
CREATE OR REPLACE FUNCTION queue.reap_expired() RETURNS integer
LANGUAGE sql AS $$
    WITH expired AS (
        UPDATE queue.job
           SET status = CASE WHEN starts >= max_starts THEN 'held' ELSE 'idle' END::queue.job_status,
               last_error = format('lease of worker %s expired at %s', worker, lease_expires),
               not_before = CASE WHEN starts < max_starts THEN now() + queue.retry_delay(starts) END,
               worker = NULL, lease_expires = NULL
         WHERE id IN (SELECT id FROM queue.job
                       WHERE status = 'running' AND lease_expires < now()
                       FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*)::integer FROM expired $$;

-- ---------------------------------------------------------------------------------------------
-- People (hstvo jobs hold|release|cancel|retry)
-- ---------------------------------------------------------------------------------------------

-- queue.set_status: a person moves a job; only the moves the life above allows
CREATE OR REPLACE FUNCTION queue.set_status(job_id bigint, action text) RETURNS queue.job
LANGUAGE plpgsql AS $$
DECLARE
    moved queue.job;
    allowed queue.job_status[];
    target queue.job_status;
BEGIN
    moved := queue.locked_job(job_id);
    CASE action
        WHEN 'hold' THEN allowed := '{idle,running}'; target := 'held';
        WHEN 'release' THEN allowed := '{held}'; target := 'idle';
        WHEN 'cancel' THEN allowed := '{idle,running,held}'; target := 'cancelled';
        WHEN 'retry' THEN allowed := '{failed,cancelled,held,completed}'; target := 'idle';
        ELSE RAISE EXCEPTION 'unknown action %: hold, release, cancel or retry', action
                 USING ERRCODE = 'QU003';
    END CASE;
    IF NOT moved.status = ANY (allowed) THEN
        RAISE EXCEPTION 'job % is %: it cannot be %', job_id, moved.status,
            CASE action WHEN 'hold' THEN 'held' WHEN 'cancel' THEN 'cancelled'
                        ELSE action || 'd' END
            USING ERRCODE = 'QU004';
    END IF;
    IF target = 'idle' AND moved.dataset IS NOT NULL AND EXISTS (
            SELECT 1 FROM queue.job j WHERE j.dataset = moved.dataset AND j.status = 'idle') THEN
        RAISE EXCEPTION 'dataset % already has an idle job', moved.dataset USING ERRCODE = 'QU005';
    END IF;
    UPDATE queue.job
       SET status = target, lease_expires = NULL,
           worker = CASE WHEN target = 'held' THEN queue.job.worker END,
           starts = CASE WHEN action IN ('release', 'retry') THEN 0 ELSE starts END,
           not_before = NULL,
           finished = CASE WHEN target = 'cancelled' THEN now() ELSE finished END,
           last_error = CASE WHEN action = 'hold' THEN 'held by ' || queue.actor() ELSE last_error END
     WHERE id = job_id
    RETURNING * INTO moved;
    IF target = 'idle' THEN
        PERFORM pg_notify('queue_job', '');
    END IF;
    RETURN moved;
END $$;

-- totals per status, as a batch system shows them
CREATE OR REPLACE VIEW queue.totals AS
SELECT s.status, count(j.id) AS jobs
  FROM unnest(enum_range(NULL::queue.job_status)) AS s(status)
  LEFT JOIN queue.job j ON j.status = s.status
 GROUP BY s.status
 ORDER BY s.status;

-- queue.complete_and_claim: complete a job and claim the next in one round trip (what a busy
-- worker does between jobs); vm_type NULL claims nothing (the worker is stopping)
CREATE OR REPLACE FUNCTION queue.complete_and_claim(job_id bigint, worker text, result jsonb,
                                                    vm_type text, cpus integer,
                                                    memory_mb integer,
                                                    lease_seconds integer DEFAULT 60)
RETURNS SETOF queue.job
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM queue.complete(job_id, worker, result);
    IF vm_type IS NOT NULL THEN
        RETURN QUERY SELECT * FROM queue.claim(worker, vm_type, cpus, memory_mb, lease_seconds);
    END IF;
END $$;
