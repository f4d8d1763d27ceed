"""TAP 1.1 asynchronous queries: /tap/async as UWS 1.1, jobs kept in the database (sql/61_uws.sql).

Every server process runs a job runner (started by the app's lifespan): it waits for a
notification on channel uws_job (or polls every few seconds), claims the oldest QUEUED job with
uws.claim_job() and runs it on the same connection, so that PHASE=ABORT can cancel that backend.
The result document is written, as the database streams it, to a file in the archive's storage
(pyserver/results.py), which the job row names. A reaper deletes jobs past their destruction
time with their results, and jobs whose runner died are set to ERROR at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from . import results
from .errors import database_message
from .identity import AuthenticationFailed, Caller, forbidden, resolved, unauthorized
from .replicas import server_gone
from .fits_output import fits_document
from .streaming import StreamAborted
from .tap_sync import (FITS, LIMITS, VOTABLE, TapError, catalog_of_connection, dali_parameters,
                       open_query, query_request, result_chunks, translate_off_loop, upload_list)
from .votable import escape, votable_error
from .tap_upload import create_uploads
from .vosi import base_url

log = logging.getLogger("hstvo.uws")

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
MAX_EXECUTION_SECONDS = LIMITS.async_max_seconds
DEFAULT_EXECUTION_SECONDS = LIMITS.async_default_seconds
MAX_WAIT_SECONDS = 60
POLL_SECONDS = 2.0
RESTART_SECONDS = 1.0  # between a runner task's stop and its restart: no busy loop
SLOTS = LIMITS.async_slots
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


async def _refused(request: Request, conn: psycopg.AsyncConnection, job_id: str) -> Response | None:
    """The answer when the caller may not reach this job (uws.job_access), else None."""
    caller = await resolved(request)
    cursor = await conn.execute("SELECT uws.job_access(%s, %s)", (job_id, caller.name))
    access = (await cursor.fetchone())[0]
    if access is None:
        return _not_found(job_id)
    if access == "denied":
        if caller.name is None:
            return unauthorized(base_url(request), f"job {job_id} belongs to a user: "
                                "authenticate as its owner", invalid=False)
        return forbidden(f"job {job_id} is not yours")
    return None


async def job_list(request: Request) -> Response:
    """GET /tap/async (filters PHASE, AFTER, LAST); POST /tap/async creates a job."""
    if request.method == "POST":
        return await create_job(request)
    params = request.query_params
    phases = [p.upper() for p in params.getlist("PHASE")] or None
    after = params.get("AFTER")
    last = params.get("LAST")
    # a caller's own jobs; anonymous jobs are reached by their URL only
    sql = ("SELECT job_id, phase, run_id, owner, creation_time FROM uws.job"
           " WHERE owner = %(caller)s"
           " AND (%(phases)s::text[] IS NULL AND phase <> 'ARCHIVED' OR phase = ANY(%(phases)s))"
           " AND (%(after)s::timestamptz IS NULL OR creation_time > %(after)s)"
           " ORDER BY creation_time DESC LIMIT %(last)s")
    try:
        values = {"phases": phases, "after": after, "last": int(last) if last else None,
                  "caller": (await resolved(request)).name}
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
    try:
        params = await dali_parameters(request)
        run = params.pop("PHASE", "").upper() == "RUN"
        # a job whose query is wrong is still created, and fails when it runs (TAP 1.1, 2.2.2)
        parts = _named_parts(params, getattr(request.state, "upload_files", {}))
    except TapError as exc:
        return exc.response()
    client = request.client.host if request.client else None
    async with request.app.state.pool.connection() as conn:
        async with conn.transaction():
            cursor = await conn.execute("SELECT uws.create_job(%s, false, %s, %s, %s)",
                                        (psycopg.types.json.Jsonb(params), params.get("RUNID"),
                                         client, (await resolved(request)).name))
            job_id = (await cursor.fetchone())[0]
            for part, content in parts.items():
                await conn.execute("INSERT INTO uws.job_upload (job_id, part, content)"
                                   " VALUES (%s, %s, %s)", (job_id, part, content))
            if "EXECUTIONDURATION" in params:  # UWS 1.1 section 2.2.3: settable at creation
                try:
                    await _change(conn, job_id, "executionduration", params)
                except TapError as exc:
                    await conn.execute("SELECT uws.fail_job(%s, %s)", (job_id, str(exc)))
        if run:  # queued once its uploads are stored
            await conn.execute("SELECT uws.job_phase_change(%s, 'RUN')", (job_id,))
    log.info("job %s created (%s)", job_id, "queued" if run else "pending")
    return RedirectResponse(f"{_jobs_url(request)}/{job_id}", status_code=303)


def _named_parts(params: dict[str, str], files: dict[str, bytes]) -> dict[str, bytes]:
    """The uploaded files that UPLOAD names (param:part), within one total size; the other
    parts of the request are not kept."""
    try:
        sources = upload_list(params.get("UPLOAD", ""))
    except TapError:
        return {}  # the job fails with the reason when it runs
    named = {source.removeprefix("param:") for _, source in sources if source.startswith("param:")}
    kept = {part: files[part] for part in named if part in files}
    if sum(map(len, kept.values())) > LIMITS.upload_bytes:
        raise TapError(f"the uploaded tables are larger than {LIMITS.upload_bytes} bytes together",
                       status=413)
    return kept


async def job(request: Request) -> Response:
    """GET /tap/async/{id} (WAIT blocking); DELETE, or POST ACTION=DELETE, deletes it."""
    job_id = request.path_params["job_id"]
    if request.method == "DELETE" or (request.method == "POST" and (
            await dali_parameters(request)).get("ACTION", "").upper() == "DELETE"):
        async with request.app.state.pool.connection() as conn:
            if (refused := await _refused(request, conn, job_id)) is not None:
                return refused
            await conn.execute("SELECT uws.job_phase_change(%s, 'ABORT')", (job_id,))
            stored = await (await conn.execute("SELECT uws.delete_job(%s)", (job_id,))).fetchone()
        results.remove_results(request.app.state.storage_dir, [stored[0]])
        return RedirectResponse(_jobs_url(request), status_code=303)
    wait = request.query_params.get("WAIT")
    async with request.app.state.pool.connection() as conn:
        if (refused := await _refused(request, conn, job_id)) is not None:
            return refused
        found = await _job(conn, job_id)
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
        if (refused := await _refused(request, conn, job_id)) is not None:
            return refused
        found = await _job(conn, job_id)
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
        if (refused := await _refused(request, conn, job_id)) is not None:
            return refused
        row = await (await conn.execute(
            "SELECT phase, result_file, result_type, error_summary, result"
            " FROM uws.job WHERE job_id = %s", (job_id,))).fetchone()
    if row is None:
        return _not_found(job_id)
    if row[0] == "ERROR":  # no result: what went wrong instead, as a DALI error document
        return Response(votable_error(f"job {job_id} failed: {row[3] or 'no reason recorded'}"),
                        status_code=404, media_type=VOTABLE)
    media_type = row[2] or VOTABLE
    if row[0] == "COMPLETED" and row[1] is None and row[4] is not None:
        return Response(bytes(row[4]), media_type=media_type)  # a job from before files
    path = results.result_path(request.app.state.storage_dir, row[1]) if row[1] else None
    if row[0] != "COMPLETED" or path is None:
        return Response(f"job {job_id} has no result (it is {row[0]})\n", status_code=404,
                        media_type="text/plain")
    if not path.exists():  # the storage is not shared with the process that ran the job
        log.error("job %s: its result %s is not in this server's storage %s", job_id, row[1],
                  request.app.state.storage_dir)
        return Response(f"job {job_id}'s result is not reachable from this server\n",
                        status_code=503, media_type="text/plain")
    return FileResponse(path, media_type=media_type)


# ---------------------------------------------------------------------------------------------
# The job runner
# ---------------------------------------------------------------------------------------------

async def run_one(conn: psycopg.AsyncConnection, state) -> bool:
    """Claim and run one queued job on `conn`; False when none was waiting. Whatever goes
    wrong with the job ends it in ERROR with a message the user can act on; it never stops the
    runner."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT * FROM uws.claim_job()")
    claimed = await cursor.fetchone()
    if not claimed or claimed["job_id"] is None:
        return False
    job_id = claimed["job_id"]
    log.info("job %s executing", job_id)
    try:
        name, size, query, rows = await _execute_on_a_reader(conn, state, claimed)
    except TapError as exc:
        message = str(exc)
    except AuthenticationFailed as exc:  # its owner was disabled since it was created
        message = f"the job's owner cannot run queries any more: {exc}"
    except psycopg.Error as exc:
        message = database_message(exc)
        log.warning("job %s: the database refused it: %s %s", job_id, exc.sqlstate,
                    exc.diag.message_primary)
    except Exception:  # a fault of the service: logged in full, the user told plainly
        log.exception("job %s failed in the service", job_id)
        message = "the job failed in the service; the fault is logged and will be looked at"
    else:
        finished = await (await conn.execute("SELECT uws.finish_job(%s, %s, %s, %s, %s)",
                                             (job_id, name, size, query.media_type, rows))).fetchone()
        if finished[0]:
            log.info("job %s completed: %d rows, %d bytes in %s", job_id, rows, size, name)
        else:  # aborted or deleted while its result was written
            results.remove_results(state.storage_dir, [name])
        return True
    await _fail(state, conn, job_id, message)
    log.info("job %s failed: %s", job_id, message)
    return True


async def _execute_on_a_reader(conn: psycopg.AsyncConnection, state,
                               claimed: dict) -> tuple[str, int, object, int]:
    """Run a claimed job's query on a standby in rotation (pyserver/replicas.py), the next one
    when that one goes away, and on the primary (`conn`, where the job's state stays) when
    there is none, or when the job has uploads (temporary tables: the primary's to write)."""
    servers = getattr(state, "read_servers", None)
    if servers is None or not servers.standbys or query_request(claimed["parameters"]).uploads:
        return await _execute(conn, state, claimed)
    for server in servers.candidates():
        if server.primary:
            break
        try:
            async with server.pools["job"].connection() as reader:
                executed = await _execute(reader, state, claimed)
            log.info("job %s ran on standby %s", claimed["job_id"], server.name)
            return executed
        except (psycopg.Error, PoolTimeout) as exc:
            if not (isinstance(exc, PoolTimeout) or server_gone(exc)):
                raise
            servers.take_out(server, f"{type(exc).__name__}: {exc}".strip()[:300])
            log.info("job %s: standby %s failed, trying the next server", claimed["job_id"],
                     server.name)
    return await _execute(conn, state, claimed)


async def _execute(conn: psycopg.AsyncConnection, state,
                   claimed: dict) -> tuple[str, int, object, int]:
    """Run a claimed job's query into its result file; the file's name and size, the request
    and the row count."""
    job_id = claimed["job_id"]
    timeout = claimed["execution_duration"] or MAX_EXECUTION_SECONDS
    query = query_request(claimed["parameters"])
    query.asynchronous = True
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
            translation = await translate_off_loop(query.query, known)
            # the job's owner is who asks (anonymous when it had none)
            running = await open_query(conn, translation, query, timeout, state.query_role,
                                       Caller(claimed["owner"], "job"))
            chunks = result_chunks(running, query, timeout)
            name = results.result_name(job_id, query.media_type)
            try:
                if query.media_type == FITS:  # FITS needs its row count first: made whole
                    chunks = _single(await fits_document(chunks))
                size = await results.write_result(state.storage_dir, name, chunks)
            except StreamAborted as exc:
                raise TapError(str(exc)) from None
    finally:
        watcher.cancel()
    return name, size, query, running.rows_sent


async def _single(document: bytes):
    yield document


async def _fail(state, conn: psycopg.AsyncConnection, job_id: str, message: str) -> None:
    """Set the job to ERROR; on another connection when the job broke this one."""
    try:
        await conn.execute("SELECT uws.fail_job(%s, %s)", (job_id, message))
    except psycopg.Error:
        async with state.pool.connection() as other:
            await other.execute("SELECT uws.fail_job(%s, %s)", (job_id, message))


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
    """The supervisor of this process's job slots (HSTVO_TAP_ASYNC_SLOTS) and of the listener
    that wakes them: a task that stops for any reason is started again, and the log says so."""
    async with app.state.pool.connection() as conn:
        recovered = await (await conn.execute("SELECT uws.recover_orphans()")).fetchone()
        if recovered[0]:
            log.warning("%d job(s) whose runner had stopped set to ERROR", recovered[0])
    wake = asyncio.Event()
    starters = {"listener": lambda: _listen(app, wake)}
    starters.update({f"slot {n}": (lambda n=n: _slot(app, n, wake)) for n in range(SLOTS)})
    tasks = {asyncio.create_task(start(), name=f"uws-{name}"): name
             for name, start in starters.items()}
    try:
        while True:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                name = tasks.pop(task)
                reason = task.exception() if not task.cancelled() else "cancelled"
                log.error("job runner %s stopped (%r): starting it again", name, reason)
                await asyncio.sleep(RESTART_SECONDS)
                tasks[asyncio.create_task(starters[name](), name=f"uws-{name}")] = name
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _slot(app, number: int, wake: asyncio.Event) -> None:
    """One job at a time, on a connection of the job pool; slot 0 also reaps expired jobs."""
    reaped_at = 0.0
    while True:
        try:
            async with app.state.job_pool.connection() as conn:
                while await run_one(conn, app.state):
                    pass
                now = asyncio.get_running_loop().time()
                if number == 0 and now - reaped_at > 300:
                    await _reap(conn, app.state.storage_dir)
                    reaped_at = now
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database went away, the pool is closing, ...
            log.warning("job runner slot %d: %s: trying again", number, exc)
            await asyncio.sleep(RESTART_SECONDS)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), POLL_SECONDS)
        wake.clear()


async def _reap(conn: psycopg.AsyncConnection, storage) -> None:
    """Delete the jobs past their destruction time with their results, and the result files
    that no job names any more."""
    gone = [row[0] for row in await (await conn.execute("SELECT * FROM uws.reap()")).fetchall()]
    if gone:
        removed = results.remove_results(storage, gone)
        log.info("reaped %d expired job(s) and %d result file(s)", len(gone), removed)
    await results.sweep_orphans(conn, storage)


async def _listen(app, wake: asyncio.Event) -> None:
    """Wake the slots on each notification of channel uws_job (a job was queued)."""
    listener = await psycopg.AsyncConnection.connect(app.state.database_url, autocommit=True)
    try:
        await listener.execute("LISTEN uws_job")
        async for _ in listener.notifies():
            wake.set()
    finally:
        await listener.close()
