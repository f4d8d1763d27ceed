"""TAP 1.1 asynchronous queries: /tap/async as UWS 1.1, jobs kept in the database (sql/61_uws.sql).

Every server process runs a job runner (started by the app's lifespan): it waits for a
notification on channel uws_job (or polls every few seconds), claims the oldest QUEUED job with
uws.claim_job() and runs it on the same connection, so that PHASE=ABORT can cancel that backend.
The result document is stored with the job. A reaper deletes jobs past their destruction time,
and jobs whose runner died are set to ERROR at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from xml.sax.saxutils import escape

import psycopg
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .adql import AdqlError, translate
from .tap_sync import (LIMITS, VOTABLE, TapError, catalog_of_connection, dali_parameters,
                       open_query, query_request, result_chunks)
from .votable import votable_error
from .tap_upload import create_uploads
from .vosi import base_url

log = logging.getLogger("hstvo.uws")

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
MAX_EXECUTION_SECONDS = LIMITS.async_max_seconds
DEFAULT_EXECUTION_SECONDS = LIMITS.async_default_seconds
MAX_WAIT_SECONDS = 60
POLL_SECONDS = 2.0
ENDED = ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
JOB_SQL = ("SELECT job_id, run_id, owner, phase, parameters, creation_time, start_time, end_time,"
           " execution_duration, destruction, error_summary, result_type, result_rows"
           " FROM uws.job WHERE job_id = %s")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else None


def _element(name: str, value: object, nil: bool = True) -> str:
    if value is None:
        return f'<uws:{name} xsi:nil="true"/>' if nil else ""
    return f"<uws:{name}>{escape(str(value))}</uws:{name}>"


def _parameters(job: dict) -> str:
    """The <uws:parameter> elements of a job."""
    return "".join(f'<uws:parameter id="{escape(k.lower())}">{escape(str(v))}</uws:parameter>'
                   for k, v in sorted(job["parameters"].items()))


def _results(job: dict, jobs_url: str) -> str:
    """The <uws:result> element of a completed job."""
    if job["phase"] != "COMPLETED":
        return ""
    href = f"{jobs_url}/{job['job_id']}/results/result"
    return (f'<uws:result id="result" xlink:href="{escape(href)}"'
            f' mime-type="{escape(job["result_type"] or VOTABLE)}"/>')


def job_xml(job: dict, jobs_url: str) -> str:
    """A UWS 1.1 job document."""
    error = ""
    if job["phase"] == "ERROR":
        error = (f'<uws:errorSummary type="fatal" hasDetail="false">'
                 f'<uws:message>{escape(job["error_summary"] or "")}</uws:message></uws:errorSummary>')
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<uws:job xmlns:uws="{UWS_NS}" xmlns:xlink="http://www.w3.org/1999/xlink"'
        f' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1">'
        f"{_element('jobId', job['job_id'])}{_element('runId', job['run_id'], nil=False)}"
        f"{_element('ownerId', job['owner'])}{_element('phase', job['phase'])}"
        f"{_element('quote', None)}{_element('creationTime', _iso(job['creation_time']), nil=False)}"
        f"{_element('startTime', _iso(job['start_time']))}{_element('endTime', _iso(job['end_time']))}"
        f"{_element('executionDuration', job['execution_duration'])}"
        f"{_element('destruction', _iso(job['destruction']))}"
        f"<uws:parameters>{_parameters(job)}</uws:parameters>"
        f"<uws:results>{_results(job, jobs_url)}</uws:results>"
        f"{error}</uws:job>\n")


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/xml")


def _jobs_url(request: Request) -> str:
    return base_url(request) + "/tap/async"


async def _job(conn: psycopg.AsyncConnection, job_id: str) -> dict | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(JOB_SQL, (job_id,))
    return await cursor.fetchone()


def _not_found(job_id: str) -> Response:
    return Response(f"no job {job_id}\n", status_code=404, media_type="text/plain")


async def job_list(request: Request) -> Response:
    """GET /tap/async (filters PHASE, AFTER, LAST); POST /tap/async creates a job."""
    if request.method == "POST":
        return await create_job(request)
    params = request.query_params
    phases = [p.upper() for p in params.getlist("PHASE")] or None
    after = params.get("AFTER")
    last = params.get("LAST")
    sql = ("SELECT job_id, phase, run_id, owner, creation_time FROM uws.job"
           " WHERE (%(phases)s::text[] IS NULL AND phase <> 'ARCHIVED' OR phase = ANY(%(phases)s))"
           " AND (%(after)s::timestamptz IS NULL OR creation_time > %(after)s)"
           " ORDER BY creation_time DESC LIMIT %(last)s")
    try:
        values = {"phases": phases, "after": after, "last": int(last) if last else None}
        async with request.app.state.pool.connection() as conn:
            rows = await (await conn.execute(sql, values)).fetchall()
    except (ValueError, psycopg.DataError):
        return Response("LAST must be an integer and AFTER an ISO 8601 time\n", status_code=400,
                        media_type="text/plain")
    url = _jobs_url(request)
    refs = "".join(
        f'<uws:jobref id="{escape(job_id)}" xlink:href="{escape(url)}/{escape(job_id)}">'
        f"<uws:phase>{phase}</uws:phase>{_element('runId', run_id, nil=False)}"
        f"{_element('ownerId', owner)}{_element('creationTime', _iso(created))}</uws:jobref>"
        for job_id, phase, run_id, owner, created in rows)
    return _xml(f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:jobs xmlns:uws="{UWS_NS}"'
                f' xmlns:xlink="http://www.w3.org/1999/xlink"'
                f' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1">'
                f"{refs}</uws:jobs>\n")


async def create_job(request: Request) -> Response:
    """POST /tap/async: a new job (PENDING, or QUEUED with PHASE=RUN); 303 to it."""
    params = await dali_parameters(request)
    run = params.pop("PHASE", "").upper() == "RUN"
    async with request.app.state.pool.connection() as conn:
        async with conn.transaction():
            cursor = await conn.execute("SELECT uws.create_job(%s, false, %s)",
                                        (psycopg.types.json.Jsonb(params), params.get("RUNID")))
            job_id = (await cursor.fetchone())[0]
            for part, content in getattr(request.state, "upload_files", {}).items():
                await conn.execute("INSERT INTO uws.job_upload (job_id, part, content)"
                                   " VALUES (%s, %s, %s)", (job_id, part, content))
        if run:  # queued once its uploads are stored
            await conn.execute("SELECT uws.job_phase_change(%s, 'RUN')", (job_id,))
    log.info("job %s created (%s)", job_id, "queued" if run else "pending")
    return RedirectResponse(f"{_jobs_url(request)}/{job_id}", status_code=303)


async def job(request: Request) -> Response:
    """GET /tap/async/{id} (WAIT blocking); DELETE, or POST ACTION=DELETE, deletes it."""
    job_id = request.path_params["job_id"]
    if request.method == "DELETE" or (request.method == "POST" and (
            await dali_parameters(request)).get("ACTION", "").upper() == "DELETE"):
        async with request.app.state.pool.connection() as conn:
            await conn.execute("SELECT uws.job_phase_change(%s, 'ABORT')", (job_id,))
            await conn.execute("DELETE FROM uws.job WHERE job_id = %s", (job_id,))
        return RedirectResponse(_jobs_url(request), status_code=303)
    wait = request.query_params.get("WAIT")
    async with request.app.state.pool.connection() as conn:
        found = await _job(conn, job_id)
        if found is None:
            return _not_found(job_id)
        if wait is not None:
            found = await _wait(conn, found, wait, request.query_params.get("PHASE"))
    return _xml(job_xml(found, _jobs_url(request)))


async def _wait(conn, found: dict, wait: str, phase: str | None) -> dict:
    """UWS 1.1 blocking: wait up to WAIT seconds (capped) while the job is in `phase` (or in any
    active phase)."""
    try:
        seconds = min(float(wait), MAX_WAIT_SECONDS) if float(wait) >= 0 else MAX_WAIT_SECONDS
    except ValueError:
        return found
    start_phase = found["phase"]
    active = ("PENDING", "QUEUED", "EXECUTING")
    if start_phase not in active or (phase and phase.upper() != start_phase):
        return found
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        found = await _job(conn, found["job_id"])
        if found["phase"] != start_phase:
            break
    return found


async def job_attribute(request: Request) -> Response:
    """GET/POST /tap/async/{id}/{phase|executionduration|destruction|error|quote|parameters|
    owner|results}."""
    job_id, attribute = request.path_params["job_id"], request.path_params["attribute"]
    async with request.app.state.pool.connection() as conn:
        found = await _job(conn, job_id)
        if found is None:
            return _not_found(job_id)
        if request.method == "POST":
            params = await dali_parameters(request)
            try:
                await _change(conn, job_id, attribute, params)
            except (TapError, psycopg.Error) as exc:
                message = exc.diag.message_primary if isinstance(exc, psycopg.Error) else str(exc)
                return Response(f"{message}\n", status_code=400, media_type="text/plain")
            return RedirectResponse(f"{_jobs_url(request)}/{job_id}", status_code=303)
    value = {
        "phase": found["phase"], "executionduration": found["execution_duration"],
        "destruction": _iso(found["destruction"]), "quote": "", "owner": found["owner"] or "",
        "error": found["error_summary"] or "",
    }
    if attribute in value:
        if attribute == "error":
            if found["phase"] != "ERROR":
                return Response("the job has no error\n", status_code=404, media_type="text/plain")
            return Response(votable_error(found["error_summary"] or ""), media_type=VOTABLE)
        return Response(f"{value[attribute]}", media_type="text/plain")
    if attribute in ("parameters", "results"):
        content = (_parameters(found) if attribute == "parameters"
                   else _results(found, _jobs_url(request)))
        return _xml(f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:{attribute} xmlns:uws="{UWS_NS}"'
                    f' xmlns:xlink="http://www.w3.org/1999/xlink">{content}</uws:{attribute}>\n')
    return Response(f"no attribute {attribute}\n", status_code=404, media_type="text/plain")


async def _change(conn, job_id: str, attribute: str, params: dict[str, str]) -> None:
    if attribute == "phase":
        if "PHASE" not in params:
            raise TapError("PHASE is missing: use PHASE=RUN or PHASE=ABORT")
        await conn.execute("SELECT uws.job_phase_change(%s, %s)", (job_id, params["PHASE"]))
    elif attribute == "executionduration":
        seconds = int(params.get("EXECUTIONDURATION", "x")) if params.get(
            "EXECUTIONDURATION", "").isdigit() else None
        if seconds is None:
            raise TapError("EXECUTIONDURATION must be a whole number of seconds")
        seconds = MAX_EXECUTION_SECONDS if seconds == 0 else min(seconds, MAX_EXECUTION_SECONDS)
        await conn.execute("UPDATE uws.job SET execution_duration = %s WHERE job_id = %s"
                           " AND phase = 'PENDING'", (seconds, job_id))
    elif attribute == "destruction":
        await conn.execute("UPDATE uws.job SET destruction = least(%s::timestamptz,"
                           " creation_time + interval '30 days') WHERE job_id = %s",
                           (params.get("DESTRUCTION"), job_id))
    elif attribute == "parameters":
        await conn.execute("UPDATE uws.job SET parameters = parameters || %s WHERE job_id = %s"
                           " AND phase = 'PENDING'", (psycopg.types.json.Jsonb(params), job_id))
    else:
        raise TapError(f"{attribute} cannot be changed")


async def job_result(request: Request) -> Response:
    """GET /tap/async/{id}/results/result."""
    job_id = request.path_params["job_id"]
    async with request.app.state.pool.connection() as conn:
        row = await (await conn.execute("SELECT phase, result, result_type FROM uws.job"
                                        " WHERE job_id = %s", (job_id,))).fetchone()
    if row is None:
        return _not_found(job_id)
    if row[0] != "COMPLETED" or row[1] is None:
        return Response(f"job {job_id} has no result (it is {row[0]})\n", status_code=404,
                        media_type="text/plain")
    return Response(bytes(row[1]), media_type=row[2] or VOTABLE)


# ---------------------------------------------------------------------------------------------
# The job runner
# ---------------------------------------------------------------------------------------------

async def run_one(conn: psycopg.AsyncConnection, state) -> bool:
    """Claim and run one queued job on `conn`; False when none was waiting."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT * FROM uws.claim_job()")
    claimed = await cursor.fetchone()
    if not claimed or claimed["job_id"] is None:
        return False
    job_id = claimed["job_id"]
    timeout = claimed["execution_duration"] or MAX_EXECUTION_SECONDS
    log.info("job %s executing", job_id)
    try:
        query = query_request(claimed["parameters"])
        # PHASE=ABORT cancels the backend at once (uws.job_phase_change); a cancel that lands
        # between two statements is lost, so a watcher also cancels once it sees ABORTED
        watcher = asyncio.create_task(_cancel_when_aborted(state.pool, conn, job_id))
        try:
            async with conn.transaction():
                known = await catalog_of_connection(state, conn)
                if query.uploads:
                    files = dict(await (await conn.execute(
                        "SELECT part, content FROM uws.job_upload WHERE job_id = %s",
                        (job_id,))).fetchall())
                    known = await create_uploads(conn, known, query.uploads, files,
                                                 state.query_role, state.public_url)
                try:
                    translation = translate(query.query, known)
                except AdqlError as exc:
                    raise TapError(str(exc)) from None
                running = await open_query(conn, translation, query, timeout, state.query_role)
                document = "".join([chunk async for chunk in result_chunks(running, query, timeout)])
        finally:
            watcher.cancel()
        await conn.execute("SELECT uws.finish_job(%s, %s, %s, %s)",
                           (job_id, document.encode(), query.media_type, running.rows_sent))
        log.info("job %s completed: %d rows", job_id, running.rows_sent)
    except TapError as exc:
        await conn.execute("SELECT uws.fail_job(%s, %s)", (job_id, str(exc)))
        log.info("job %s failed: %s", job_id, exc)
    return True


async def _cancel_when_aborted(pool, conn: psycopg.AsyncConnection, job_id: str) -> None:
    while True:
        await asyncio.sleep(0.25)
        async with pool.connection() as probe:
            phase = await (await probe.execute("SELECT phase FROM uws.job WHERE job_id = %s",
                                               (job_id,))).fetchone()
        if phase is None or phase[0] == "ABORTED":
            # again and again until the query is gone: a cancel between statements is lost
            # (the runner cancels this watcher when the query ends)
            conn.cancel()
            log.info("job %s aborted: cancelling its query", job_id)


async def runner(app) -> None:
    """Run queued jobs until cancelled; also reaps expired jobs now and then."""
    pool = app.state.pool
    async with pool.connection() as conn:
        recovered = await (await conn.execute("SELECT uws.recover_orphans()")).fetchone()
        if recovered[0]:
            log.warning("%d job(s) whose runner had stopped set to ERROR", recovered[0])
    listener = await psycopg.AsyncConnection.connect(app.state.database_url, autocommit=True)
    await listener.execute("LISTEN uws_job")
    reaped_at = 0.0
    try:
        while True:
            async with pool.connection() as conn:
                while await run_one(conn, app.state):
                    pass
                now = asyncio.get_running_loop().time()
                if now - reaped_at > 300:
                    gone = (await (await conn.execute("SELECT uws.reap()")).fetchone())[0]
                    if gone:
                        log.info("reaped %d expired job(s)", gone)
                    reaped_at = now
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(_next_notification(listener), POLL_SECONDS)
    finally:
        await listener.close()


async def _next_notification(listener: psycopg.AsyncConnection) -> None:
    async for _ in listener.notifies():
        return
