"""VOSpace transfers (VOSpace 2.1 section 6.4): UWS 1.1 jobs of the database
(vospace.transfer, sql/97_vospace_transfers.sql).

    POST /vospace/synctrans                 a transfer document: run now, 303 to its details
    GET|POST /vospace/synctrans?TARGET=&DIRECTION=&PROTOCOL=[&REQUEST=redirect]
                                            the same by parameters; REQUEST=redirect sends the
                                            client straight to the endpoint
    GET|POST /vospace/transfers             the caller's transfers; POST creates one (PENDING)
    GET|DELETE /vospace/transfers/ID        the job (UWS); POST ACTION=DELETE
    GET|POST /vospace/transfers/ID/phase    PHASE=RUN or ABORT
    GET /vospace/transfers/ID/error         the fault that ended it
    GET /vospace/transfers/ID/results/transferDetails   the negotiated endpoints

pushToVoSpace and pullFromVoSpace are negotiated: the endpoints are /vospace/files/PATH, where
the client then sends or fetches the bytes with its own credentials. moveNode and copyNode
(direction a node URI, keepBytes false or true) are done when the job runs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ..vosi import base_url
from .documents import read_transfer, transfer_document
from .faults import Fault, as_caller, call, handles_faults

UWS = "http://www.ivoa.net/xml/UWS/v1.0"
PROTOCOL = "ivo://ivoa.net/vospace/core#"
# what a client may ask for, and what this service answers it with
PUSH = {PROTOCOL + "httpput", PROTOCOL + "httpsput"}
PULL = {PROTOCOL + "httpget", PROTOCOL + "httpsget"}


def _jobs_url(request: Request) -> str:
    return base_url(request) + "/vospace/transfers"


def _endpoint(request: Request, path: str) -> str:
    return base_url(request) + "/vospace/files" + quote(path)


def _protocols_for(direction: str, asked: list[str]) -> list[str]:
    """The protocols a push or pull is answered with: those asked for that this service speaks
    (ProtocolNotSupported when none), or all of them when none were asked for."""
    speaks = PUSH if direction == "pushToVoSpace" else PULL if direction == "pullFromVoSpace" else set()
    if not speaks:
        return []
    if not asked:
        return sorted(speaks)
    chosen = [uri for uri in asked if uri in speaks]
    if not chosen:
        raise Fault(400, f"ProtocolNotSupported: {', '.join(asked)}; this service speaks "
                         f"{', '.join(sorted(speaks))}")
    return list(dict.fromkeys(chosen))


async def _create(request: Request, run: bool) -> tuple[str, dict]:
    """Create a transfer from the request (a document, or TARGET/DIRECTION/PROTOCOL)."""
    content_type = request.headers.get("content-type", "")
    if "xml" in content_type:
        asked = read_transfer(await request.body())
        target, direction, keep, protocols, length = (asked.target, asked.direction,
                                                      asked.keep_bytes, asked.protocols, asked.length)
    else:
        params = {k.upper(): v for k, v in (await request.form()).items()}
        params.update({k.upper(): v for k, v in request.query_params.items()})
        target, direction = params.get("TARGET"), params.get("DIRECTION")
        if not target or not direction:
            raise Fault(400, "InvalidArgument: a transfer needs TARGET and DIRECTION")
        keep, length = None, None
        protocols = [params["PROTOCOL"]] if params.get("PROTOCOL") else []
    protocols = _protocols_for(direction, protocols)
    async with as_caller(request) as conn:
        job_id = await call(conn, "create_transfer", target, direction, keep, protocols, length, run)
        job = _as_dict(await _job_row(conn, job_id))
    return job_id, job


async def _job_row(conn, job_id: str) -> tuple:
    cursor = await conn.execute("SELECT * FROM vospace.own_transfer(%s)", (job_id,))
    return cursor.description, await cursor.fetchone()


def _as_dict(described: tuple) -> dict:
    description, row = described
    return {column.name: value for column, value in zip(description, row)}


async def _job(request: Request) -> dict:
    async with as_caller(request) as conn:
        return _as_dict(await _job_row(conn, request.path_params["job_id"]))


# -- sync ------------------------------------------------------------------------------------

@handles_faults
async def sync(request: Request) -> Response:
    """/vospace/synctrans: negotiate a transfer at once."""
    job_id, job = await _create(request, run=True)
    details = f"{_jobs_url(request)}/{job_id}/results/transferDetails"
    wants_redirect = (request.query_params.get("REQUEST") or "").lower() == "redirect"
    if not wants_redirect and "xml" not in request.headers.get("content-type", ""):
        form = await request.form()
        wants_redirect = (form.get("REQUEST") or "").lower() == "redirect"
    if wants_redirect:
        if job["phase"] == "ERROR":
            status = 404 if job["error_summary"].startswith("NodeNotFound") else 400
            raise Fault(status, job["error_summary"])
        if job["direction"] in ("pushToVoSpace", "pullFromVoSpace"):
            return RedirectResponse(_endpoint(request, job["target"]), status_code=303)
    return RedirectResponse(details, status_code=303)


# -- async -----------------------------------------------------------------------------------

def _iso(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if value else ""


def _element(name: str, value: object) -> str:
    if value in (None, ""):
        return f'<uws:{name} xsi:nil="true"/>'
    return f"<uws:{name}>{escape(str(value))}</uws:{name}>"


def _direction(job: dict, request: Request) -> str:
    if job["direction"] == "node":
        return _node_uri(request, job["destination"])
    return job["direction"]


def _node_uri(request: Request, path: str) -> str:
    return request.app.state.vospace_root_uri + quote(path)


def _details(request: Request, job: dict) -> str:
    """The transfer document of a job, with its endpoints once negotiated."""
    endpoints = []
    if job["phase"] in ("EXECUTING", "COMPLETED") and job["direction"] in ("pushToVoSpace", "pullFromVoSpace"):
        url = _endpoint(request, job["target"])
        endpoints = [(uri, url) for uri in job["protocols"]]
    keep = job["keep_bytes"] if job["direction"] == "node" else None
    return transfer_document(_node_uri(request, job["target"]), _direction(job, request),
                             endpoints, keep)


def job_xml(request: Request, job: dict) -> str:
    """A UWS 1.1 job document for a transfer, the transfer itself as its jobInfo."""
    url = f"{_jobs_url(request)}/{job['job_id']}"
    results = ""
    if job["direction"] in ("pushToVoSpace", "pullFromVoSpace") and job["phase"] in ("EXECUTING", "COMPLETED"):
        results = (f'<uws:result id="transferDetails" xlink:href="{escape(url)}/results/transferDetails"/>')
    error = ""
    if job["phase"] == "ERROR":
        error = (f'<uws:errorSummary type="fatal" hasDetail="true"><uws:message>'
                 f'{escape(job["error_summary"] or "")}</uws:message></uws:errorSummary>')
    info = _details(request, job).split("\n", 1)[1]
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:job xmlns:uws="{UWS}" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.1">'
            f"{_element('jobId', job['job_id'])}{_element('runId', job['run_id'])}"
            f"{_element('ownerId', job['owner'])}{_element('phase', job['phase'])}"
            f"{_element('quote', None)}<uws:creationTime>{_iso(job['creation_time'])}</uws:creationTime>"
            f"{_element('startTime', _iso(job['start_time']))}{_element('endTime', _iso(job['end_time']))}"
            f"<uws:executionDuration>0</uws:executionDuration>"
            f"{_element('destruction', _iso(job['destruction']))}"
            f"<uws:parameters/><uws:results>{results}</uws:results>{error}"
            f"<uws:jobInfo>{info}</uws:jobInfo></uws:job>\n")


def _xml(body: str) -> Response:
    return Response(body, media_type="text/xml")


@handles_faults
async def job_list(request: Request) -> Response:
    """GET: the caller's transfers; POST: a new one (PENDING; running at once with PHASE=RUN)."""
    if request.method == "POST":
        run = (request.query_params.get("PHASE") or "").upper() == "RUN"
        job_id, _ = await _create(request, run=run)
        return RedirectResponse(f"{_jobs_url(request)}/{job_id}", status_code=303)
    async with as_caller(request) as conn:
        cursor = await conn.execute("SELECT * FROM vospace.transfers()")
        names = [c.name for c in cursor.description]
        jobs = [dict(zip(names, row)) for row in await cursor.fetchall()]
    refs = "".join(f'<uws:jobref id="{escape(j["job_id"])}" xlink:href="{escape(_jobs_url(request))}/'
                   f'{escape(j["job_id"])}"><uws:phase>{j["phase"]}</uws:phase>'
                   f'<uws:creationTime>{_iso(j["creation_time"])}</uws:creationTime></uws:jobref>'
                   for j in jobs)
    return _xml(f'<?xml version="1.0" encoding="UTF-8"?>\n<uws:jobs xmlns:uws="{UWS}" '
                f'xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1">{refs}</uws:jobs>\n')


@handles_faults
async def job(request: Request) -> Response:
    """GET the job; DELETE it (or POST ACTION=DELETE)."""
    job_id = request.path_params["job_id"]
    if request.method == "POST":
        form = await request.form()
        if (form.get("ACTION") or "").upper() != "DELETE":
            raise Fault(400, "InvalidArgument: POST to a job takes ACTION=DELETE")
    if request.method in ("DELETE", "POST"):
        async with as_caller(request) as conn:
            await call(conn, "delete_transfer", job_id)
        return RedirectResponse(_jobs_url(request), status_code=303)
    return _xml(job_xml(request, await _job(request)))


@handles_faults
async def phase(request: Request) -> Response:
    """GET the phase; POST PHASE=RUN or PHASE=ABORT."""
    job_id = request.path_params["job_id"]
    if request.method == "GET":
        return PlainTextResponse((await _job(request))["phase"])
    form = {k.upper(): v for k, v in (await request.form()).items()}
    wanted = (form.get("PHASE") or "").upper()
    if wanted not in ("RUN", "ABORT"):
        raise Fault(400, f"InvalidArgument: PHASE={form.get('PHASE')}: RUN or ABORT")
    async with as_caller(request) as conn:
        await call(conn, "run_transfer" if wanted == "RUN" else "abort_transfer", job_id)
    return RedirectResponse(f"{_jobs_url(request)}/{job_id}", status_code=303)


@handles_faults
async def attribute(request: Request) -> Response:
    """GET error, results, transferDetails, or a UWS job attribute."""
    found = await _job(request)
    name = request.path_params["attribute"]
    if name == "error":
        return PlainTextResponse(found["error_summary"] or "")
    if name == "results/transferDetails":
        return _xml(_details(request, found))
    if name == "results":
        body = job_xml(request, found)
        start = body.index("<uws:results>")
        return _xml('<?xml version="1.0" encoding="UTF-8"?>\n'
                    + body[start:body.index("</uws:results>") + len("</uws:results>")]
                    .replace("<uws:results>", f'<uws:results xmlns:uws="{UWS}" '
                             'xmlns:xlink="http://www.w3.org/1999/xlink">'))
    simple = {"owner": found["owner"] or "", "quote": "", "executionduration": "0",
              "destruction": _iso(found["destruction"]), "jobid": found["job_id"]}
    if name.lower() in simple:
        return PlainTextResponse(simple[name.lower()])
    raise Fault(404, f"NodeNotFound: transfers have no {name}")

