"""The CAOM2 repository service under /caom2repo: the protocol of CADC's repository (torkeep),
so that CADC's own `caom2repo` client works against it unmodified.

    GET    /caom2repo/capabilities                         VOSI: obs-1.2 and del-1.0
    GET    /caom2repo/observations                         the collections, one per line
    GET    /caom2repo/observations/{collection}?MAXREC=&START=&END=
                                                           collection, observationID,
                                                           maxLastModified, accMetaChecksum (TSV)
    GET    /caom2repo/observations/{collection}/{id}       CAOM 2.4 XML, ETag accMetaChecksum
    PUT    /caom2repo/observations/{collection}/{id}       create (409 when it exists)
    POST   /caom2repo/observations/{collection}/{id}       update (404 when absent; If-Match:
                                                           412 when accMetaChecksum moved on)
    DELETE /caom2repo/observations/{collection}/{id}       delete, leaving a tombstone
    GET    /caom2repo/deletions/{collection}?MAXREC=&START=&END=   the tombstones (TSV)

Reads follow the access rules (an observation hidden from the caller is not found, nor listed);
writes need a member of the writers group (pyserver/auth.py), authenticated by a bearer token,
a password or a session: the capabilities declare those security methods. Documents are read
and written by loaders/caom2xml, stored by caom2.put_observation.
"""

from __future__ import annotations

from datetime import datetime, timezone

from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from loaders.caom2xml import CaomXmlError, read_document, write_document

from .auth import write_authorized, write_refused
from .identity import reading
from .vosi import capability

OBS_STANDARD = "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#obs-1.2"
DEL_STANDARD = "vos://cadc.nrc.ca~vospace/CADC/std/CAOM2Repository#del-1.0"
MAXREC_DEFAULT = 100_000
CAOM_XML = "text/x-caom+xml"
TSV = "text/tab-separated-values"


def _text(message: str, status: int) -> Response:
    return PlainTextResponse(message.rstrip() + "\n", status_code=status)


async def _base(request: Request) -> str:
    async with request.app.state.pool.connection() as conn:
        cursor = await conn.execute("SELECT hstvo.setting('service_url')")
        return (await cursor.fetchone())[0] or str(request.base_url).rstrip("/")


async def capabilities(request: Request) -> Response:
    """GET /caom2repo/capabilities."""
    base = (await _base(request)) + "/caom2repo"

    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<vosi:capabilities '
            'xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">'
            + capability("ivo://ivoa.net/std/VOSI#capabilities", f"{base}/capabilities", False)
            + capability("ivo://ivoa.net/std/VOSI#availability", f"{base}/availability", False)
            + capability(OBS_STANDARD, f"{base}/observations", True)
            + capability(DEL_STANDARD, f"{base}/deletions", True)
            + "</vosi:capabilities>\n")
    return Response(body, media_type="text/xml")


async def home(request: Request) -> Response:
    """GET /caom2repo: what a person following the landing page's link wants, the capabilities."""
    return RedirectResponse(str(request.url).rstrip("/") + "/capabilities", status_code=303)


async def availability(request: Request) -> Response:
    """GET /caom2repo/availability."""
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n<vosi:availability '
                    'xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
                    '<vosi:available>true</vosi:available></vosi:availability>\n',
                    media_type="text/xml")


def _timestamp(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}={value} is not an IVOA timestamp (2024-01-31T12:00:00.000)") from None
    if moment.tzinfo is not None:  # an offset is honoured: the listings are in UTC
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _ivoa(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _page(request: Request) -> tuple[datetime | None, datetime | None, int, bool]:
    """START, END, MAXREC and ORDER of a listing (names case-insensitive: both CADC clients)."""
    params = {k.upper(): v for k, v in request.query_params.items()}
    try:
        maxrec = int(params.get("MAXREC") or MAXREC_DEFAULT)
    except ValueError:
        raise ValueError(f"MAXREC={params['MAXREC']} is not a whole number") from None
    return (_timestamp(params.get("START"), "START"), _timestamp(params.get("END"), "END"),
            max(0, min(maxrec, MAXREC_DEFAULT)), params.get("ORDER", "").lower() == "desc")


async def observations(request: Request) -> Response:
    """GET /caom2repo/observations[/{collection}]: collections, or a collection's states."""
    collection = request.path_params.get("collection")
    async with reading(request) as conn:
        if collection is None:
            cursor = await conn.execute("SELECT caom2.repository_collections()")
            return Response("".join(f"{c}\n" for (c,) in await cursor.fetchall()), media_type=TSV)
        try:
            start, end, maxrec, descending = _page(request)
        except ValueError as exc:
            return _text(str(exc), 400)
        cursor = await conn.execute("SELECT * FROM caom2.observation_states(%s, %s, %s, %s, %s)",
                                    (collection, start, end, maxrec, descending))
        rows = await cursor.fetchall()
    return Response("".join(f"{c}\t{o}\t{_ivoa(m)}\t{a}\n" for c, o, m, a in rows), media_type=TSV)


async def deletions(request: Request) -> Response:
    """GET /caom2repo/deletions/{collection}: the tombstones."""
    try:
        start, end, maxrec, _ = _page(request)
    except ValueError as exc:
        return _text(str(exc), 400)
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT * FROM caom2.deletion_states(%s, %s, %s, %s)",
                                    (request.path_params["collection"], start, end, maxrec))
        rows = await cursor.fetchall()
    return Response("".join(f"{i}\t{c}\t{o}\t{_ivoa(m)}\n" for i, c, o, m in rows), media_type=TSV)


async def observation(request: Request) -> Response:
    """GET, PUT, POST and DELETE /caom2repo/observations/{collection}/{observationID}."""
    collection = request.path_params["collection"]
    observation_id = request.path_params["observation_id"]
    if request.method == "GET":  # as the caller: what it may not see is not found
        async with reading(request) as conn:
            # (its checksum and its document in one round trip: a harvester asks for
            # thousands of them)
            cursor = await conn.execute(
                "SELECT o.accmetachecksum, caom2.observation_document(o.obsid) "
                "  FROM caom2.observation o WHERE o.collection = %s AND o.observationid = %s",
                (collection, observation_id))
            found = await cursor.fetchone()
        if found is None:
            return _text(f"not found: {collection}/{observation_id}", 404)
        return Response(write_document(found[1]), media_type=CAOM_XML,
                        headers={"ETag": found[0]})
    if not await write_authorized(request):
        return write_refused(request)
    async with request.app.state.pool.connection() as conn:  # a writer sees everything
        current = await _current(conn, collection, observation_id)
        if request.method == "DELETE":
            if current is None:
                return _text(f"not found: {collection}/{observation_id}", 404)
            await conn.execute("SELECT caom2.delete_observation(%s, %s)", (collection, observation_id))
            return Response(status_code=200)
        return await _store(request, conn, collection, observation_id, current)


async def _current(conn, collection: str, observation_id: str) -> tuple | None:
    """The stored observation's id and accMetaChecksum, when there is one (and the
    connection's role may see it)."""
    cursor = await conn.execute(
        "SELECT obsid, accmetachecksum FROM caom2.observation "
        "WHERE collection = %s AND observationid = %s", (collection, observation_id))
    return await cursor.fetchone()


async def _store(request: Request, conn, collection: str, observation_id: str, current) -> Response:
    """PUT creates, POST updates; the document must be the one the path names."""
    if request.method == "PUT" and current is not None:
        return _text(f"already exists: {collection}/{observation_id}", 409)
    if request.method == "POST":
        if current is None:
            return _text(f"not found: {collection}/{observation_id}", 404)
        expected = request.headers.get("if-match")
        if expected and expected.strip('"') != current[1]:
            return _text(f"precondition failed: {collection}/{observation_id} is now {current[1]}, "
                         f"not {expected}", 412)
    try:
        document = read_document(await request.body())
    except CaomXmlError as exc:
        return _text(f"invalid CAOM document: {exc}", 400)
    stored = document["observation"]
    if (stored.get("collection"), stored.get("observationid")) != (collection, observation_id):
        return _text(f"the document is {stored.get('collection')}/{stored.get('observationid')}, "
                     f"not {collection}/{observation_id} as the path says", 400)
    if request.method == "POST" and str(stored.get("obsid")) != str(current[0]):
        return _text(f"the document's observation id {stored.get('obsid')} is not the stored "
                     f"{current[0]}", 400)
    try:
        async with conn.transaction():
            cursor = await conn.execute("SELECT caom2.put_observation(%s, false)", (Jsonb(document),))
            summary = (await cursor.fetchone())[0]
    except Exception as exc:  # a database refusal of this document is the client's error
        message = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
        status = 409 if "unique" in message or "duplicate" in message else 400
        return _text(f"cannot store {collection}/{observation_id}: {message}", status)
    return Response(status_code=200 if request.method == "POST" else 201,
                    headers={"ETag": summary.get("accmetachecksum", "")})
