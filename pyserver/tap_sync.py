"""TAP 1.1 synchronous queries: /tap/sync (GET and POST).

Parameters (names case-insensitive, DALI 1.1): LANG=ADQL (ADQL-2.0 and ADQL-2.1 too), QUERY,
REQUEST=doQuery (optional), RESPONSEFORMAT or FORMAT (votable, csv, tsv and their MIME
types), MAXREC, RUNID (echoed back in an INFO).

The query runs in a read-only transaction under statement_timeout, through a server-side
cursor: rows are written out as they arrive, so memory stays flat whatever the result size.
MAXREC rows at most are returned; when there were more, the VOTable ends with
QUERY_STATUS=OVERFLOW.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg
import psycopg.sql
from psycopg.postgres import types as BUILTIN_TYPES
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from psycopg_pool import PoolTimeout
from starlette.responses import Response

from hstvo.config import load_tap_limits

from .replicas import on_primary, on_standby, read_pool, server_gone
from .adql import AdqlError, Catalog, Translation, load_catalog_async, translate
from . import offload
from .errors import database_message
from .identity import Caller, begin, caller_of
from .fits_output import fits_document
from .streaming import StreamAborted, TimedStreamingResponse
from .votable import (PG_TYPES, Base64Stream, Field, binary2_head, binary2_tail,
                      delimited_head, serialised_query, votable_error, votable_head, votable_tail,
                      written_rows_query)

log = logging.getLogger("hstvo.tap")

LIMITS = load_tap_limits()  # HSTVO_TAP_* (hstvo/config.py)

DEFAULT_MAXREC = LIMITS.maxrec_default
HARD_MAXREC = LIMITS.maxrec_hard
SYNC_TIMEOUT_SECONDS = LIMITS.sync_seconds
FETCH_ROWS = 2_000  # the first fetch: a small result is complete in one round trip
AGGREGATE_ROWS_AT_ONCE = 100_000  # at most this many groups are fetched in one piece
STREAM_ROWS = 10_000  # the next ones: fewer round trips, memory still flat (about a megabyte)
CATALOG_SECONDS = 60.0  # TAP_SCHEMA is read again at most this often
MAX_UPLOAD_BYTES = LIMITS.upload_bytes
MAX_UPLOAD_ROWS = LIMITS.upload_rows
MAX_UPLOAD_PARTS = 16  # files in one request
MAX_FORM_FIELDS = 100  # other fields in one request
QUERY_ROLE = "hstvo_tap"  # reads what TAP_SCHEMA publishes, nothing else (sql/62_tap_role.sql)

VOTABLE = "application/x-votable+xml"
BINARY2 = "application/x-votable+xml;serialization=BINARY2"
FITS = "application/fits"
# every spelling TAP 1.1 (section 2.7.1) and DALI 1.1 (section 3.4.3) give, compared in lower case
# and without blanks: the MIME types with their serialization parameter, and the short forms
FORMATS = {
    "votable": VOTABLE, "votable/td": VOTABLE, "application/x-votable+xml": VOTABLE,
    "text/xml": VOTABLE, "application/x-votable+xml;serialization=tabledata": VOTABLE,
    "votable/b2": BINARY2, "binary2": BINARY2,
    "application/x-votable+xml;serialization=binary2": BINARY2,
    "csv": "text/csv", "text/csv": "text/csv", "text/csv;header=present": "text/csv",
    "tsv": "text/tab-separated-values", "text/tab-separated-values": "text/tab-separated-values",
    "fits": FITS, "application/fits": FITS, "image/fits": FITS,
}
LANGUAGES = {"ADQL", "ADQL-2.0", "ADQL-2.1"}


class TapError(Exception):
    """A request the service cannot answer: the message goes back in a DALI error document."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}

    def response(self) -> Response:
        """The DALI error document of this error, with its status and headers."""
        return Response(votable_error(str(self)), status_code=self.status, media_type=VOTABLE,
                        headers=self.headers)


@dataclass
class QueryRequest:
    """The parameters of a TAP query, checked."""

    query: str
    media_type: str
    maxrec: int
    runid: str | None
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (table name, param:part or URL)
    asynchronous: bool = False  # run by the UWS job runner


async def dali_parameters(request: Request) -> dict[str, str]:
    """GET and POST parameters, names upper-cased (DALI: names are case-insensitive). Files of
    a multipart POST are kept, by part name, in request.state.upload_files (for UPLOAD)."""
    params = {k.upper(): v for k, v in request.query_params.items()}
    request.state.upload_files = {}
    if request.method == "POST":
        try:
            form = await request.form(max_files=MAX_UPLOAD_PARTS, max_fields=MAX_FORM_FIELDS,
                                      max_part_size=MAX_UPLOAD_BYTES)
        except (MultiPartException, HTTPException) as exc:
            reason = getattr(exc, "message", None) or getattr(exc, "detail", "")
            raise TapError(f"the request's form cannot be read: {reason}") from None
        for key, value in form.items():
            if isinstance(value, str):
                if "\x00" in value:
                    raise TapError("a parameter holds a NUL character")
                params[key.upper()] = value
            else:
                request.state.upload_files[key] = await value.read(MAX_UPLOAD_BYTES + 1)
    return params


def query_request(params: dict[str, str]) -> QueryRequest:
    """Check the parameters of a query (TAP 1.1 section 2.3)."""
    request = params.get("REQUEST", "doQuery")
    if request != "doQuery":
        raise TapError(f"REQUEST={request} is not supported: use doQuery (or leave it out)")
    lang = params.get("LANG")
    if not lang:
        raise TapError("LANG is missing: use LANG=ADQL")
    if lang.upper() not in LANGUAGES:
        raise TapError(f"LANG={lang} is not supported: use LANG=ADQL")
    query = params.get("QUERY", "")
    if not query.strip():
        raise TapError("QUERY is missing or empty")
    if len(query.encode()) > LIMITS.query_bytes:
        raise TapError(f"QUERY is longer than this service's limit of {LIMITS.query_bytes} bytes")
    wanted = params.get("RESPONSEFORMAT") or params.get("FORMAT") or "votable"
    media_type = FORMATS.get(wanted.lower().replace(" ", ""))
    if media_type is None:
        raise TapError(f"RESPONSEFORMAT={wanted} is not supported: use votable, votable/b2, "
                       "csv, tsv or fits")
    try:
        maxrec = int(params.get("MAXREC", DEFAULT_MAXREC))
    except ValueError:
        raise TapError(f"MAXREC={params['MAXREC']} is not a number") from None
    if maxrec < 0:
        raise TapError("MAXREC cannot be negative")
    return QueryRequest(query, media_type, min(maxrec, HARD_MAXREC), params.get("RUNID"),
                        upload_list(params.get("UPLOAD", "")))


def upload_list(value: str) -> list[tuple[str, str]]:
    """UPLOAD=name,param:part;name2,param:part2 (DALI 1.1 section 3.4.5) as (name, part)."""
    uploads = []
    for item in filter(None, (i.strip() for i in value.split(";"))):
        name, _, source = item.partition(",")
        if not name.isidentifier() or not source:
            raise TapError(f"UPLOAD={item} is not name,param:part")
        if name.lower() in {n.lower() for n, _ in uploads}:
            raise TapError(f"UPLOAD names two tables {name} (names are case-insensitive in ADQL)")
        if not source.startswith(("param:", "http://", "https://")):
            raise TapError(f"UPLOAD {name}: {source} is neither param:part nor an http(s) URL")
        uploads.append((name, source))
    return uploads


async def usable_role(conn: psycopg.AsyncConnection, role: str) -> str | None:
    """`role` when this connection's user may become it, else None (logged as an error: the
    service's reads then run as its own user, which the access rules do not bind)."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(r)s)"
        " AND pg_has_role(current_user, (SELECT oid FROM pg_roles WHERE rolname = %(r)s), 'MEMBER')",
        {"r": role})
    if (await cursor.fetchone())[0]:
        return role
    log.error("role %s is missing or not granted to the service user: a DBA must run hstvo db "
              "upgrade as a superuser (see sql/62_tap_role.sql and sql/92_access_rules.sql)", role)
    return None


async def query_role(conn: psycopg.AsyncConnection) -> str | None:
    """QUERY_ROLE when this connection's user may become it (sql/62_tap_role.sql), else None."""
    return await usable_role(conn, QUERY_ROLE)


async def translate_off_loop(query_text: str, catalog: Catalog) -> Translation:
    """translate() off the event loop (pyserver/offload.py), so that a long or deeply nested
    query does not hold up the other requests; TapError when it is not a query this service
    runs."""
    try:
        return await offload.run(translate, len(query_text.encode()), query_text, catalog)
    except AdqlError as exc:
        raise TapError(str(exc)) from None


async def catalog_of_connection(state, conn: psycopg.AsyncConnection) -> Catalog:
    """TAP_SCHEMA as the translator sees it: the app's cached catalog (`state` is app.state),
    read again on `conn` when older than CATALOG_SECONDS."""
    if getattr(state, "catalog", None) is None or time.monotonic() - state.catalog_read > CATALOG_SECONDS:
        state.catalog = await load_catalog_async(conn)
        state.catalog_read = time.monotonic()
    return state.catalog


@dataclass
class ResultColumn:
    """A column of a query's result as the database describes it before running it."""

    name: str
    type_oid: int
    typmod: int


async def describe(conn: psycopg.AsyncConnection, sql: str) -> list[ResultColumn]:
    """The result columns of `sql`, from the database's parse and analysis only (a protocol
    Describe of the unnamed statement: the query is not planned). TapError when the database
    refuses the query."""
    # psycopg has no public describe; its cursors do this with the same two calls
    pgconn = conn.pgconn
    pgconn.send_prepare(b"", sql.encode())
    results = await conn.wait(psycopg.generators.execute(pgconn))
    if results[-1].status == psycopg.pq.ExecStatus.COMMAND_OK:
        pgconn.send_describe_prepared(b"")
        results = await conn.wait(psycopg.generators.execute(pgconn))
    result = results[-1]
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        error = psycopg.errors.error_from_result(result)
        if server_gone(error):
            # a standby shutting down under the query ("terminating connection due to
            # administrator command"): not the query's fault, and run again elsewhere
            raise error
        raise TapError(_database_message(error, 0))
    return [ResultColumn(result.fname(i).decode(), result.ftype(i), result.fmod(i))
            for i in range(result.nfields)]


def result_fields(translation: Translation, columns: list[ResultColumn],
                  type_names: dict[int, str]) -> list[Field]:
    """FIELDs of a result: TAP_SCHEMA's metadata for its columns, PostgreSQL's type otherwise."""
    by_sql_name = {c.sql_name: c for t in translation.tables for c in t.columns.values()}
    named = {c.name.lower(): c.source for c in translation.columns if c.source is not None}
    fields = []
    for column in columns:
        source = named.get(column.name.lower()) or by_sql_name.get(column.name)
        if source is not None:
            fields.append(Field(source.published if column.name == source.sql_name else column.name,
                                source.datatype, source.arraysize, source.xtype, source.unit,
                                source.ucd, source.utype, source.description))
            continue
        pg_type = type_names.get(column.type_oid, "")
        datatype, arraysize, xtype = PG_TYPES.get(pg_type, ("char", "*", None))
        if pg_type == "bpchar" and column.typmod > 4:  # character(n)
            arraysize = str(column.typmod - 4)
        fields.append(Field(column.name, datatype, arraysize, xtype))
    return fields


# FITS is written from a BINARY2 VOTable the database serialises (pyserver/fits_output.py)
SERIALISATIONS = {VOTABLE: "votable", BINARY2: "binary2", FITS: "binary2", "text/csv": "csv",
                  "text/tab-separated-values": "tsv"}


@dataclass
class OpenQuery:
    """A query running in a read-only transaction: its cursor of serialised rows (one value
    each: see pyserver/votable.py), the first of them, and the result's fields."""

    cursor: psycopg.AsyncServerCursor | psycopg.AsyncCursor
    first: list[tuple]
    fields: list[Field]
    rows_sent: int = 0
    caller: Caller | None = None  # who asked, its credential checked


async def open_query(conn: psycopg.AsyncConnection, translation: Translation, query: QueryRequest,
                     timeout_seconds: int, role: str | None, caller: Caller) -> OpenQuery:
    """Start a translated query inside the connection's open transaction (read-only, as `role`
    when given, for `caller` under the access rules, under a statement timeout; 0 means none).
    TapError when the database refuses it."""
    # cursor_tuple_fraction: a TAP client reads the whole result (up to the LIMIT the wrapping
    # query has), so plan for all rows, not for the first tenth as PostgreSQL does for cursors
    # (twice as fast for a large result: a hash join instead of a nested loop)
    # jit off: the expression that writes a row out is long, and compiling it costs some 400 ms
    # on a large result, more than it saves in any result a TAP client streams
    # parallel_setup_cost: starting workers costs some 5 ms, which only a scan of the order of a
    # million rows wins back (PostgreSQL's default would start them for a tenth of that)
    settings = ["SET TRANSACTION READ ONLY", "SET LOCAL cursor_tuple_fraction = 1.0",
                "SET LOCAL jit = off", "SET LOCAL parallel_setup_cost = 10000",
                f"SET LOCAL statement_timeout = '{int(timeout_seconds)}s'"]
    await conn.execute("; ".join(settings))  # one round trip
    caller = await begin(conn, caller, role)  # who asks, and the query role (pyserver/identity.py)
    columns = await describe(conn, translation.sql)
    type_names = await _type_names(conn, columns)
    fields = result_fields(translation, columns, type_names)
    pg_types = [type_names.get(c.type_oid, "") for c in columns]
    media_type, limit = SERIALISATIONS[query.media_type], query.maxrec + 1
    # whole ObsCore rows are stored written out: read, not written (pyserver/votable.py)
    sql = written_rows_query(translation, fields, pg_types, media_type, limit) \
        or serialised_query(translation.sql, fields, pg_types, media_type, limit)
    # BINARY2 rows are bytea: binary results bring them without hex encoding. A result is
    # streamed from a server-side cursor, but PostgreSQL never runs a cursor's query in
    # parallel: an aggregate's result (COUNT(*), GROUP BY), a row per group, comes whole, and
    # its scan of the table may use every core
    binary = query.media_type in (BINARY2, FITS)
    if translation.aggregated and query.maxrec < AGGREGATE_ROWS_AT_ONCE:
        cursor = conn.cursor(binary=binary)
    else:
        cursor = conn.cursor(name=f"tap_{uuid.uuid4().hex}", binary=binary)
    try:
        await cursor.execute(sql)
        first = await cursor.fetchmany(min(FETCH_ROWS, query.maxrec + 1))
    except psycopg.Error as exc:
        if server_gone(exc):
            raise  # (a read on a standby that went away is run again elsewhere)
        raise TapError(_database_message(exc, timeout_seconds, query.asynchronous)) from None
    return OpenQuery(cursor, first, fields, caller=caller)


async def result_chunks(running: OpenQuery, query: QueryRequest,
                        timeout_seconds: int) -> AsyncIterator[bytes]:
    """The result document, chunk by chunk: at most MAXREC rows, then OVERFLOW when there
    were more; an error after the first row ends the VOTable with QUERY_STATUS=ERROR."""
    overflow, error = False, None
    encoder = Base64Stream() if query.media_type in (BINARY2, FITS) else None
    yield _head(query, running.fields).encode()
    # the next rows are fetched while this chunk is written and sent: the database and Python
    # work at once (on two cores, a full-width stream goes half as fast again)
    following: asyncio.Future | None = None
    try:
        rows, asked = running.first, min(FETCH_ROWS, query.maxrec + 1)
        while rows:
            room = query.maxrec - running.rows_sent
            if len(rows) > room:
                rows, overflow = rows[:room], True
            elif len(rows) == asked:  # (fewer than asked: the last of them)
                following = asyncio.ensure_future(running.cursor.fetchmany(STREAM_ROWS))
                await asyncio.sleep(0)  # (the fetch sends its command before the work below)
            if encoder:
                chunk = encoder.encode(b"".join([row[0] for row in rows]))
            else:
                chunk = "".join([row[0] for row in rows]).encode()
            running.rows_sent += len(rows)
            yield chunk
            if following is None:
                break
            rows, asked, following = await following, STREAM_ROWS, None
    except psycopg.Error as exc:
        error = _database_message(exc, timeout_seconds, query.asynchronous)
        if not query.media_type.startswith(VOTABLE) and query.media_type != FITS:
            # CSV and TSV have no way to say so: the transfer is cut off instead
            raise StreamAborted(f"the query failed after {running.rows_sent} rows: {error}") from None
    finally:
        if following is not None:  # the client left: the fetch ends before the connection does
            with contextlib.suppress(Exception):
                await following
    if encoder:
        yield binary2_tail(encoder, overflow, error).encode()
    elif query.media_type == VOTABLE:
        yield votable_tail(overflow, error).encode()


async def run_query(request: Request, query: QueryRequest) -> Response:
    """Translate, run and stream one query; errors before the first row are error documents.
    The query takes a connection of the streaming pool, at most LIMITS.streams_per_client at
    once per client, and one time limit covers it from the request's start to its last byte."""
    started = asyncio.get_running_loop().time()
    client = request.client.host if request.client else "-"
    streams = request.app.state.streams
    if streams.get(client, 0) >= LIMITS.streams_per_client:
        raise TapError(f"this client already has {LIMITS.streams_per_client} queries streaming: "
                       "read those first", status=429, headers={"Retry-After": "5"})
    streams[client] = streams.get(client, 0) + 1
    try:
        if query.uploads:  # (an upload is a temporary table: the primary's to write)
            on_primary(request)
        connection_context = read_pool(request, "stream").connection()
        try:
            conn = await connection_context.__aenter__()
        except PoolTimeout:
            if on_standby(request):
                raise  # (pyserver/replicas.py runs the query on the next server)
            raise TapError("the service is busy: try again in a few seconds", status=503,
                           headers={"Retry-After": "5"}) from None
    except BaseException:
        _release_stream(streams, client)
        raise
    transaction = None
    try:
        entering = conn.transaction()
        await entering.__aenter__()
        transaction = entering  # (one that failed to begin is not ended)
        known = await catalog_of_connection(request.app.state, conn)
        if query.uploads:
            from .tap_upload import create_uploads  # it imports this module's limits

            known = await create_uploads(conn, known, query.uploads,
                                         getattr(request.state, "upload_files", {}),
                                         request.app.state.query_role,
                                         str(request.base_url), _upload_depth(request))
        translation = await translate_off_loop(query.query, known)
        running = await open_query(conn, translation, query, SYNC_TIMEOUT_SECONDS,
                                   request.app.state.query_role, caller_of(request))
        request.state.caller = running.caller  # named, for the audit
    except BaseException as exc:
        try:
            if transaction is not None:
                await transaction.__aexit__(type(exc), exc, None)
            await connection_context.__aexit__(None, None, None)
        finally:
            _release_stream(streams, client)
        raise
    log.info("sync query (%s): %s", query.runid or "-", " ".join(query.query.split())[:300])

    async def body() -> AsyncIterator[str | bytes]:
        try:
            if query.media_type == FITS:
                yield await fits_document(result_chunks(running, query, SYNC_TIMEOUT_SECONDS))
            else:
                async for chunk in result_chunks(running, query, SYNC_TIMEOUT_SECONDS):
                    yield chunk
        finally:
            try:
                try:
                    await transaction.__aexit__(None, None, None)
                finally:
                    await connection_context.__aexit__(None, None, None)
            finally:
                _release_stream(streams, client)

    return TimedStreamingResponse(body(), SYNC_TIMEOUT_SECONDS, started,
                                  media_type=_content_type(query.media_type))


def _upload_depth(request: Request) -> int:
    """How many upload fetches deep a request is (tap_upload.DEPTH_HEADER)."""
    from .tap_upload import DEPTH_HEADER

    value = request.headers.get(DEPTH_HEADER, "0")
    return int(value) if value.isdigit() else 1


def _release_stream(streams: dict[str, int], client: str) -> None:
    streams[client] -= 1
    if streams[client] <= 0:
        del streams[client]


def _content_type(media_type: str) -> str:
    return media_type + ("" if media_type.startswith(VOTABLE) else ";charset=utf-8")


def _head(query: QueryRequest, fields: list[Field]) -> str:
    if query.media_type.startswith(VOTABLE) or query.media_type == FITS:
        infos = [("QUERY", query.query)] + ([("RUNID", query.runid)] if query.runid else [])
        return (binary2_head if query.media_type in (BINARY2, FITS) else votable_head)(fields, infos)
    return delimited_head(fields, "," if query.media_type == "text/csv" else "\t")


async def _type_names(conn: psycopg.AsyncConnection, columns: list[ResultColumn]) -> dict[int, str]:
    """pg_type names of the columns' types: built-in ones from psycopg's registry (their oids
    are fixed), the others (pgsphere's, the domains of caom2) from the database."""
    names, unknown = {}, []
    for oid in {c.type_oid for c in columns}:
        info = BUILTIN_TYPES.get(oid)
        if info is None:
            unknown.append(oid)
        else:
            names[oid] = "_" + info.name if info.array_oid == oid else info.name
    if unknown:
        cursor = await conn.execute("SELECT oid::int, typname FROM pg_type WHERE oid = ANY(%s)",
                                    (unknown,))
        names.update(await cursor.fetchall())
    return names


def _database_message(exc: psycopg.Error, timeout_seconds: int, asynchronous: bool = False) -> str:
    """What a user can act on (pyserver/errors.py); the database's own words go to the log."""
    log.info("the database refused a query: %s %s", exc.sqlstate,
             (exc.diag.message_primary or "").splitlines()[0] if exc.diag.message_primary else "")
    return database_message(exc, timeout_seconds, asynchronous)


async def tap_sync(request: Request) -> Response:
    """GET/POST /tap/sync."""
    try:
        query = query_request(await dali_parameters(request))
        return await run_query(request, query)
    except TapError as exc:
        return exc.response()
