-- The audit trail: every authenticated request and every refusal, one row each, for a DBA:
--   SELECT * FROM auth.audit WHERE outcome <> 'ok' AND at > now() - interval '1 day';
-- The service records rows after answering, in batches (auth.record_batch; nothing is written
-- in a read's own transaction). auth.prune_audit(age) deletes what is older (`hstvo users audit --prune AGE`).

CREATE TABLE IF NOT EXISTS auth.audit (
    at         timestamptz NOT NULL DEFAULT now(),
    user_name  text,                 -- NULL: anonymous
    method     text,                 -- token, basic, cookie, dn
    endpoint   text NOT NULL,        -- GET /files/HST/x.fits
    object     text,                 -- what was asked for, when one thing was
    outcome    text NOT NULL,        -- ok, unauthenticated, forbidden, not found, failed
    status     integer NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at_idx ON auth.audit (at);
CREATE INDEX IF NOT EXISTS audit_user_idx ON auth.audit (user_name, at);
COMMENT ON TABLE auth.audit IS 'authenticated requests and refusals, one row each (pruned by auth.prune_audit)';

-- delete audit rows older than `age`; how many
CREATE OR REPLACE FUNCTION auth.prune_audit(age interval DEFAULT '90 days') RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM auth.audit WHERE at < now() - age RETURNING 1)
    SELECT count(*) FROM gone $$;

-- many rows at once (the service writes them in batches, twice a second): a JSON array of
-- objects with user_name, method, endpoint, object, status and at
CREATE OR REPLACE FUNCTION auth.record_batch(entries jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO auth.audit (at, user_name, method, endpoint, object, outcome, status)
    SELECT (e ->> 'at')::timestamptz, e ->> 'user_name', e ->> 'method', e ->> 'endpoint',
           e ->> 'object',
           CASE WHEN (e ->> 'status')::integer < 400 THEN 'ok'
                WHEN (e ->> 'status')::integer = 401 THEN 'unauthenticated'
                WHEN (e ->> 'status')::integer = 403 THEN 'forbidden'
                WHEN (e ->> 'status')::integer = 404 THEN 'not found' ELSE 'failed' END,
           (e ->> 'status')::integer
      FROM jsonb_array_elements(entries) AS e $$;
