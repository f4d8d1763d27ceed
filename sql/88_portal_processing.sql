-- The portal's processing pages (/processing): the recalibration queue's jobs as a batch system
-- shows them, what a person may do to them, and the activity the monitoring view plots.
--
-- Who sees what: a job names a dataset, and a proprietary dataset's name is the proprietary
-- metadata the access rules close. So a job is listed for a caller who may see its dataset's
-- observation (sql/92_access_rules.sql), or when it names none; operators (the writers group)
-- see every job. Only operators hold, release, retry or cancel; the history records who.
--
-- The functions run as their owner (SECURITY DEFINER, the queue's owner) and decide by the
-- request's identity (auth.caller, sql/91_auth_session.sql), so hstvo_reader needs no right on
-- the queue itself.

CREATE SCHEMA IF NOT EXISTS portal;

-- may the caller see a job of this dataset?
CREATE OR REPLACE FUNCTION portal.job_visible(dataset text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN dataset IS NULL OR auth.caller_is_writer() OR EXISTS (
        SELECT 1 FROM caom2.observation o
         WHERE o.observationid = dataset
           AND auth.meta_visible(o.metarelease, o.metareadgroups, auth.caller_groups(), false));
END $$;

-- the jobs, newest first, with the filters of the page (NULL: any)
CREATE OR REPLACE FUNCTION portal.jobs(statuses text[] DEFAULT NULL, job_owner text DEFAULT NULL,
                                       vm text DEFAULT NULL, page int DEFAULT 1,
                                       page_size int DEFAULT 100)
RETURNS SETOF queue.job
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT j.* FROM queue.job j
     WHERE (statuses IS NULL OR j.status::text = ANY (statuses))
       AND (job_owner IS NULL OR j.owner = job_owner)
       AND (vm IS NULL OR j.vm_type IS NOT DISTINCT FROM nullif(vm, 'any'))
       AND portal.job_visible(j.dataset)
     ORDER BY j.id DESC
     LIMIT greatest(1, least(page_size, 1000)) OFFSET (greatest(page, 1) - 1) * greatest(1, least(page_size, 1000)) $$;

-- how many jobs of each status the filters select (statuses with none: 0)
CREATE OR REPLACE FUNCTION portal.job_totals(job_owner text DEFAULT NULL, vm text DEFAULT NULL)
RETURNS TABLE (status text, jobs bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.status::text, count(j.id)
      FROM unnest(enum_range(NULL::queue.job_status)) AS s(status)
      LEFT JOIN queue.job j ON j.status = s.status
            AND (job_owner IS NULL OR j.owner = job_owner)
            AND (vm IS NULL OR j.vm_type IS NOT DISTINCT FROM nullif(vm, 'any'))
            AND portal.job_visible(j.dataset)
     GROUP BY s.status ORDER BY s.status $$;

-- the owners and VM types the filters offer
CREATE OR REPLACE FUNCTION portal.job_choices(OUT owners text[], OUT vm_types text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT array_agg(DISTINCT j.owner ORDER BY j.owner),
           array_agg(DISTINCT coalesce(j.vm_type, 'any') ORDER BY coalesce(j.vm_type, 'any'))
      FROM queue.job j WHERE portal.job_visible(j.dataset) $$;

-- one job (none when it does not exist or the caller may not see it)
CREATE OR REPLACE FUNCTION portal.job(job_id bigint) RETURNS SETOF queue.job
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT j.* FROM queue.job j WHERE j.id = job_id AND portal.job_visible(j.dataset) $$;

-- a job's history, oldest first
CREATE OR REPLACE FUNCTION portal.job_history(job_id bigint)
RETURNS TABLE (at timestamptz, from_status text, to_status text, worker text, note text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT h.at, h.from_status::text, h.to_status::text, h.worker, h.note
      FROM queue.job_history h
     WHERE h.job_id = job_history.job_id
       AND EXISTS (SELECT 1 FROM queue.job j WHERE j.id = job_history.job_id
                                              AND portal.job_visible(j.dataset))
     ORDER BY h.at, h.to_status $$;

-- may the caller act on jobs? (the writers group: the archive's operators)
CREATE OR REPLACE FUNCTION portal.may_act_on_jobs() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT coalesce(auth.caller_is_writer(), false) $$;

-- hold, release, retry or cancel a job as the request's caller (queue.set_status, whose
-- history note names the caller)
CREATE OR REPLACE FUNCTION portal.act_on_job(job_id bigint, action text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    moved queue.job;
BEGIN
    IF auth.caller() IS NULL THEN
        RAISE EXCEPTION 'log in to act on jobs' USING ERRCODE = 'PT401';
    END IF;
    IF NOT portal.may_act_on_jobs() THEN
        RAISE EXCEPTION '% may not act on jobs: only operators (the % group) may', auth.caller(),
            hstvo.setting('writers_group') USING ERRCODE = 'PT403';
    END IF;
    PERFORM set_config('hstvo.actor', auth.caller(), true);
    moved := queue.set_status(job_id, action);
    RETURN moved.status::text;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Monitoring: the queue over time, from queue.job_history
-- ---------------------------------------------------------------------------------------------

-- per bucket of the last `span` (one of `buckets` equal steps, ending now): jobs created,
-- completed and failed (a start that ended in an error), jobs held, and the queue's depth (idle
-- jobs) and held jobs at the bucket's end. Depth is walked back from now through the history's
-- transitions: one pass, whatever the span.
CREATE OR REPLACE FUNCTION portal.queue_activity(span interval DEFAULT '1 day', buckets int DEFAULT 24)
RETURNS TABLE (bucket_end timestamptz, created bigint, completed bigint, failed bigint,
               held bigint, depth bigint, held_jobs bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH steps AS (
        SELECT now() - span + span * n / buckets AS bucket_end
          FROM generate_series(1, greatest(1, least(buckets, 500))) AS n),
    moves AS (
        SELECT h.at, h.from_status, h.to_status FROM queue.job_history h
         WHERE h.at > now() - span),
    per_step AS (
        SELECT s.bucket_end,
               count(*) FILTER (WHERE m.from_status IS NULL) AS created,
               count(*) FILTER (WHERE m.to_status = 'completed') AS completed,
               count(*) FILTER (WHERE m.from_status = 'running' AND m.to_status IN ('idle', 'held', 'failed')) AS failed,
               count(*) FILTER (WHERE m.to_status = 'held') AS held
          FROM steps s
          LEFT JOIN moves m ON m.at > s.bucket_end - span / buckets AND m.at <= s.bucket_end
         GROUP BY s.bucket_end),
    now_counts AS (
        SELECT count(*) FILTER (WHERE status = 'idle') AS idle,
               count(*) FILTER (WHERE status = 'held') AS held FROM queue.job)
    SELECT p.bucket_end, p.created, p.completed, p.failed, p.held,
           -- now's count, less what arrived after the bucket's end, plus what left
           n.idle - (SELECT count(*) FILTER (WHERE m.to_status = 'idle')
                          - count(*) FILTER (WHERE m.from_status = 'idle')
                       FROM moves m WHERE m.at > p.bucket_end),
           n.held - (SELECT count(*) FILTER (WHERE m.to_status = 'held')
                          - count(*) FILTER (WHERE m.from_status = 'held')
                       FROM moves m WHERE m.at > p.bucket_end)
      FROM per_step p, now_counts n
     ORDER BY p.bucket_end $$;

-- the workers heard from in the last week: when last (a claim, a completion, a failure, or the
-- lease of the job each runs now, which its heartbeats keep ahead), what it runs, what it did
CREATE OR REPLACE FUNCTION portal.workers()
RETURNS TABLE (worker text, last_heard timestamptz, running bigint, lease_expires timestamptz,
               completed_last_day bigint, failed_last_day bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH seen AS (
        SELECT h.worker, max(h.at) AS last_at,
               count(*) FILTER (WHERE h.to_status = 'completed' AND h.at > now() - interval '1 day') AS completed,
               count(*) FILTER (WHERE h.from_status = 'running' AND h.to_status IN ('idle', 'held', 'failed')
                                  AND h.at > now() - interval '1 day') AS failed
          FROM queue.job_history h
         WHERE h.worker IS NOT NULL AND h.at > now() - interval '7 days'
         GROUP BY h.worker),
    busy AS (
        SELECT j.worker, count(*) AS running, max(j.lease_expires) AS lease_expires
          FROM queue.job j WHERE j.status = 'running' GROUP BY j.worker)
    SELECT coalesce(s.worker, b.worker), greatest(s.last_at, b.lease_expires - interval '60 seconds'),
           coalesce(b.running, 0), b.lease_expires, coalesce(s.completed, 0), coalesce(s.failed, 0)
      FROM seen s FULL JOIN busy b ON b.worker = s.worker
     ORDER BY 2 DESC NULLS LAST $$;
-- (hstvo_reader's use of schema portal: sql/89_portal_search.sql)
