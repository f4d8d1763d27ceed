"""/processing: the recalibration queue as the batch system showed it, for people.

    GET  /processing                  the jobs (filters: status, owner, VM type), with totals
    GET  /processing/monitor          jobs completed per hour, queue depth, failures and held
                                      jobs over the last day or week; the workers
    GET  /processing/{id}             a job: its reasons, history and last error
    POST /processing/{id}             hold, release, retry or cancel it (operators only)

Everything is read through sql/88_portal_processing.sql, under the caller's access rules: a job
of a dataset the caller may not see is not listed.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import urlencode

import psycopg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..identity import acting, caller_of, reading
from . import same_origin, templates
from .charts import bar_chart

log = logging.getLogger("hstvo.portal")

STATUSES = ("idle", "running", "held", "completed", "failed", "cancelled")
ACTIONS = {"hold": "Hold", "release": "Release", "retry": "Retry", "cancel": "Cancel"}
# which actions a job's status allows (queue.set_status)
ACTIONS_BY_STATUS = {"idle": ("hold", "cancel"), "running": ("hold", "cancel"),
                     "held": ("release", "cancel"), "failed": ("retry",),
                     "cancelled": ("retry",), "completed": ("retry",)}
PAGE_SIZE = 100
MAX_JOB_ID = 2**63 - 1  # queue.job.id is a bigint
SPANS = {"day": (timedelta(days=1), 24), "week": (timedelta(days=7), 28)}


def _filters(request: Request) -> tuple[list[str] | None, str | None, str | None, int]:
    params = request.query_params
    statuses = [s for s in params.getlist("status") if s in STATUSES] or None
    owner = params.get("owner", "").strip()[:100] or None
    vm_type = params.get("vm_type", "").strip()[:100] or None
    page = params.get("page", "1")
    return statuses, owner, vm_type, int(page) if page.isdigit() and int(page) < 100_000 else 1


async def job_list(request: Request) -> Response:
    """GET /processing: the queue's jobs, newest first."""
    statuses, owner, vm_type, page = _filters(request)
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT * FROM portal.jobs(%s, %s, %s, %s, %s)",
                                    (statuses, owner, vm_type, page, PAGE_SIZE))
        names = [d.name for d in cursor.description]
        jobs = [dict(zip(names, row)) for row in await cursor.fetchall()]
        cursor = await conn.execute("SELECT * FROM portal.job_totals(%s, %s)", (owner, vm_type))
        totals = dict(await cursor.fetchall())
        cursor = await conn.execute("SELECT * FROM portal.job_choices()")
        owners, vm_types = await cursor.fetchone()
        cursor = await conn.execute("SELECT portal.may_act_on_jobs()")
        may_act = (await cursor.fetchone())[0]
    shown = sum(totals[s] for s in (statuses or STATUSES))
    return templates.TemplateResponse(request, "processing.html", {
        "section": "processing", "jobs": jobs, "totals": totals, "statuses": STATUSES,
        "chosen": statuses or [], "owner": owner, "vm_type": vm_type, "owners": owners or [],
        "vm_types": vm_types or [], "shown": shown, "page": page,
        "more": len(jobs) == PAGE_SIZE, "may_act": may_act, "actions": ACTIONS,
        "actions_by_status": ACTIONS_BY_STATUS, "message": request.query_params.get("message"),
        "query": request.url.query})


def _no_job(request: Request, job_id: int) -> Response:
    return templates.TemplateResponse(request, "message.html", {
        "section": "processing", "title": "No such job",
        "message": f"There is no job {job_id}, or you may not see it."}, status_code=404)


async def job_page(request: Request) -> Response:
    """GET /processing/{id}: one job."""
    job_id = request.path_params["job_id"]
    if job_id > MAX_JOB_ID:  # not a bigint: no job has it
        return _no_job(request, job_id)
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT * FROM portal.job(%s)", (job_id,))
        names = [d.name for d in cursor.description]
        row = await cursor.fetchone()
        job = dict(zip(names, row)) if row else None
        cursor = await conn.execute("SELECT * FROM portal.job_history(%s)", (job_id,))
        history = await cursor.fetchall()
        cursor = await conn.execute("SELECT portal.may_act_on_jobs()")
        may_act = (await cursor.fetchone())[0]
    if job is None:
        return _no_job(request, job_id)
    return templates.TemplateResponse(request, "job.html", {
        "section": "processing", "job": job, "history": history, "may_act": may_act,
        "actions": ACTIONS, "allowed": ACTIONS_BY_STATUS.get(job["status"], ()),
        "reasons": json.dumps(job["reasons"], indent=1), "arguments": json.dumps(job["arguments"]),
        "message": request.query_params.get("message")})


async def act(request: Request) -> Response:
    """POST /processing/{id} (action=hold|release|retry|cancel): as the caller, an operator."""
    job_id = request.path_params["job_id"]
    if job_id > MAX_JOB_ID:
        return _no_job(request, job_id)
    form = await request.form()
    action = str(form.get("action", ""))
    back = str(form.get("back", "")) or f"/processing/{job_id}"
    if not back.startswith("/processing"):
        back = f"/processing/{job_id}"
    if not same_origin(request):
        return templates.TemplateResponse(request, "message.html", {
            "section": "processing", "title": "Refused",
            "message": "This form was sent from another site."}, status_code=403)
    if action not in ACTIONS:
        message = f"unknown action {action!r}"
    else:
        try:
            async with acting(request) as conn:
                cursor = await conn.execute("SELECT portal.act_on_job(%s, %s)", (job_id, action))
                status = (await cursor.fetchone())[0]
            message = f"job {job_id} is {status}"
            log.info("job %s: %s by %s", job_id, action, caller_of(request).name)
        except psycopg.Error as exc:
            if not (exc.sqlstate or "").startswith(("PT", "QU")):
                raise
            message = exc.diag.message_primary
            if exc.sqlstate == "PT401":
                return RedirectResponse(f"/login?next=/processing/{job_id}", status_code=303)
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}{urlencode({'message': message})}", status_code=303)


async def monitor(request: Request) -> Response:
    """GET /processing/monitor?span=day|week: the queue over time, and the workers."""
    span = request.query_params.get("span", "day")
    span = span if span in SPANS else "day"
    length, buckets = SPANS[span]
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT * FROM portal.queue_activity(%s, %s)", (length, buckets))
        activity = await cursor.fetchall()
        cursor = await conn.execute("SELECT * FROM portal.workers()")
        workers = await cursor.fetchall()
        cursor = await conn.execute("SELECT * FROM portal.job_totals()")
        totals = dict(await cursor.fetchall())
    times = [row[0] for row in activity]
    step = "hour" if span == "day" else "6 hours"
    charts = [(f"Jobs completed per {step}", bar_chart(f"Jobs completed per {step}", times, [r[2] for r in activity], "completed")),
              ("Queue depth (idle jobs)", bar_chart("Queue depth (idle jobs)", times, [r[5] for r in activity], "depth")),
              (f"Failures per {step}", bar_chart(f"Failures per {step}", times, [r[3] for r in activity], "failed")),
              ("Held jobs", bar_chart("Held jobs", times, [r[6] for r in activity], "held"))]
    return templates.TemplateResponse(request, "monitor.html", {
        "section": "processing", "span": span, "charts": charts, "activity": activity,
        "workers": workers, "totals": totals, "statuses": STATUSES})
