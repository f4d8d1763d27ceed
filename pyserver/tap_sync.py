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

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import psycopg
import psycopg.sql
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .adql import AdqlError, Catalog, Translation, load_catalog_async, translate
from .votable import (PG_TYPES, Binary2Encoder, Field, binary2_head, binary2_tail,
                      delimited_head, delimited_rows, votable_error, votable_head, votable_rows,
                      votable_tail)

log = logging.getLogger("hstvo.tap")

DEFAULT_MAXREC = 10_000
HARD_MAXREC = 10_000_000
SYNC_TIMEOUT_SECONDS = 60
FETCH_ROWS = 2_000
CATALOG_SECONDS = 60.0  # TAP_SCHEMA is read again at most this often
MAX_UPLOAD_BYTES = 10_000_000
MAX_UPLOAD_ROWS = 200_000
QUERY_ROLE = "hstvo_tap"  # reads what TAP_SCHEMA publishes, nothing else (sql/62_tap_role.sql)

VOTABLE = "application/x-votable+xml"
BINARY2 = "application/x-votable+xml;serialization=BINARY2"
FORMATS = {
    "votable": VOTABLE, VOTABLE: VOTABLE, "text/xml": VOTABLE,
    "application/x-votable+xml;serialization=tabledata": VOTABLE,
    "votable/b2": BINARY2, BINARY2: BINARY2, "binary2": BINARY2,
    "csv": "text/csv", "text/csv": "text/csv",
    "tsv": "text/tab-separated-values", "text/tab-separated-values": "text/tab-separated-values",
}
LANGUAGES = {"ADQL", "ADQL-2.0", "ADQL-2.1"}


class TapError(Exception):
    """A request the service cannot answer: the message goes back in a DALI error document."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class QueryRequest:
    """The parameters of a TAP query, checked."""

    query: str
    media_type: str
    maxrec: int
    runid: str | None
    uploads: list[tuple[str, str]] = field(default_factory=list)  # (table name, param:part or URL)


async def dali_parameters(request: Request) -> dict[str, str]:
    """GET and POST parameters, names upper-cased (DALI: names are case-insensitive). Files of
    a multipart POST are kept, by part name, in request.state.upload_files (for UPLOAD)."""
    params = {k.upper(): v for k, v in request.query_params.items()}
    request.state.upload_files = {}
    if request.method == "POST":
        form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        for key, value in form.items():
            if isinstance(value, str):
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
    wanted = params.get("RESPONSEFORMAT") or params.get("FORMAT") or "votable"
    media_type = FORMATS.get(wanted.lower().replace(" ", ""))
    if media_type is None:
        raise TapError(f"RESPONSEFORMAT={wanted} is not supported: use votable, votable/b2, "
                       "csv or tsv")
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
        if not source.startswith(("param:", "http://", "https://")):
            raise TapError(f"UPLOAD {name}: {source} is neither param:part nor an http(s) URL")
        uploads.append((name, source))
    return uploads


async def query_role(conn: psycopg.AsyncConnection) -> str | None:
    """QUERY_ROLE when this connection's user may become it (sql/62_tap_role.sql), else None."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %(r)s)"
        " AND pg_has_role(current_user, (SELECT oid FROM pg_roles WHERE rolname = %(r)s), 'MEMBER')",
        {"r": QUERY_ROLE})
    if (await cursor.fetchone())[0]:
        return QUERY_ROLE
    log.warning("role %s is missing or not granted to the service user: TAP queries run as the "
                "service user, guarded by the ADQL translator only (see sql/62_tap_role.sql)",
                QUERY_ROLE)
    return None


async def catalog_of_connection(state, conn: psycopg.AsyncConnection) -> Catalog:
    """TAP_SCHEMA as the translator sees it: the app's cached catalog (`state` is app.state),
    read again on `conn` when older than CATALOG_SECONDS."""
    if getattr(state, "catalog", None) is None or time.monotonic() - state.catalog_read > CATALOG_SECONDS:
        state.catalog = await load_catalog_async(conn)
        state.catalog_read = time.monotonic()
    return state.catalog


def result_fields(translation: Translation, description: list, type_names: dict[int, str]) -> list[Field]:
    """FIELDs of a result: TAP_SCHEMA's metadata for its columns, PostgreSQL's type otherwise."""
    by_sql_name = {c.sql_name: c for t in translation.tables for c in t.columns.values()}
    named = {c.name.lower(): c.source for c in translation.columns if c.source is not None}
    fields = []
    for column in description:
        source = named.get(column.name.lower()) or by_sql_name.get(column.name)
        if source is not None:
            fields.append(Field(source.published if column.name == source.sql_name else column.name,
                                source.datatype, source.arraysize, source.xtype, source.unit,
                                source.ucd, source.utype, source.description))
            continue
        datatype, arraysize, xtype = PG_TYPES.get(type_names.get(column.type_code, ""),
                                                  ("char", "*", None))
        fields.append(Field(column.name, datatype, arraysize, xtype))
    return fields


@dataclass
class OpenQuery:
    """A query running in a read-only transaction: its cursor, first rows and result fields."""

    cursor: psycopg.AsyncServerCursor
    first: list[tuple]
    fields: list[Field]
    rows_sent: int = 0


async def open_query(conn: psycopg.AsyncConnection, translation: Translation, query: QueryRequest,
                     timeout_seconds: int, role: str | None) -> OpenQuery:
    """Start a translated query inside the connection's open transaction (read-only, as `role`
    when given, under a statement timeout; 0 means none). TapError when the database refuses it."""
    await conn.execute("SET TRANSACTION READ ONLY")
    if role:
        await conn.execute(psycopg.sql.SQL("SET LOCAL ROLE {}").format(psycopg.sql.Identifier(role)))
    await conn.execute(f"SET LOCAL statement_timeout = '{int(timeout_seconds)}s'")
    cursor = conn.cursor(name=f"tap_{uuid.uuid4().hex}")
    try:
        await cursor.execute(translation.sql)
        first = await cursor.fetchmany(min(FETCH_ROWS, query.maxrec + 1))
    except psycopg.Error as exc:
        raise TapError(_database_message(exc, timeout_seconds)) from None
    type_names = await _type_names(conn, cursor.description)
    return OpenQuery(cursor, first, result_fields(translation, cursor.description, type_names))


async def result_chunks(running: OpenQuery, query: QueryRequest,
                        timeout_seconds: int) -> AsyncIterator[str]:
    """The result document, chunk by chunk: at most MAXREC rows, then OVERFLOW when there
    were more; an error after the first row ends the VOTable with QUERY_STATUS=ERROR."""
    overflow, error = False, None
    encoder = Binary2Encoder(running.fields) if query.media_type == BINARY2 else None
    yield _head(query, running.fields)
    try:
        rows = running.first
        while rows:
            room = query.maxrec - running.rows_sent
            if len(rows) > room:
                rows, overflow = rows[:room], True
            yield encoder.rows(rows) if encoder else _rows(query, rows, running.fields)
            running.rows_sent += len(rows)
            if overflow:
                break
            rows = await running.cursor.fetchmany(FETCH_ROWS)
            if running.rows_sent == query.maxrec and rows:
                overflow = True
                break
    except psycopg.Error as exc:
        error = _database_message(exc, timeout_seconds)
    if encoder:
        yield binary2_tail(encoder, overflow, error)
    elif query.media_type == VOTABLE:
        yield votable_tail(overflow, error)


async def run_query(request: Request, query: QueryRequest) -> Response:
    """Translate, run and stream one query; errors before the first row are error documents."""
    connection_context = request.app.state.pool.connection()
    conn = await connection_context.__aenter__()
    transaction = None
    try:
        transaction = conn.transaction()
        await transaction.__aenter__()
        known = await catalog_of_connection(request.app.state, conn)
        if query.uploads:
            from .tap_upload import create_uploads  # it imports this module's limits

            known = await create_uploads(conn, known, query.uploads,
                                         getattr(request.state, "upload_files", {}),
                                         request.app.state.query_role,
                                         str(request.base_url))
        try:
            translation = translate(query.query, known)
        except AdqlError as exc:
            raise TapError(str(exc)) from None
        running = await open_query(conn, translation, query, SYNC_TIMEOUT_SECONDS,
                                   request.app.state.query_role)
    except BaseException as exc:
        if transaction is not None:
            await transaction.__aexit__(type(exc), exc, None)
        await connection_context.__aexit__(None, None, None)
        raise
    log.info("sync query (%s): %s", query.runid or "-", " ".join(query.query.split())[:300])

    async def body() -> AsyncIterator[str]:
        try:
            async for chunk in result_chunks(running, query, SYNC_TIMEOUT_SECONDS):
                yield chunk
        finally:
            try:
                await transaction.__aexit__(None, None, None)
            finally:
                await connection_context.__aexit__(None, None, None)

    return StreamingResponse(body(), media_type=_content_type(query.media_type))


def _content_type(media_type: str) -> str:
    return media_type + ("" if media_type.startswith(VOTABLE) else ";charset=utf-8")


def _head(query: QueryRequest, fields: list[Field]) -> str:
    if query.media_type.startswith(VOTABLE):
        infos = [("QUERY", query.query)] + ([("RUNID", query.runid)] if query.runid else [])
        return (binary2_head if query.media_type == BINARY2 else votable_head)(fields, infos)
    return delimited_head(fields, "," if query.media_type == "text/csv" else "\t")


def _rows(query: QueryRequest, rows: list[tuple], fields: list[Field]) -> str:
    if query.media_type == VOTABLE:
        return votable_rows(rows, fields)
    return delimited_rows(rows, fields, "," if query.media_type == "text/csv" else "\t")


async def _type_names(conn: psycopg.AsyncConnection, description) -> dict[int, str]:
    oids = sorted({c.type_code for c in description or []})
    if not oids:
        return {}
    cursor = await conn.execute("SELECT oid::int, typname FROM pg_type WHERE oid = ANY(%s)", (oids,))
    return dict(await cursor.fetchall())


def _database_message(exc: psycopg.Error, timeout_seconds: int) -> str:
    """What a user can act on, without the database's internals."""
    diag = exc.diag
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return (f"the query ran longer than {timeout_seconds} s and was stopped: "
                "use /tap/async for long queries, or narrow it down")
    message = diag.message_primary or str(exc).splitlines()[0]
    return f"the database refused the query: {message}"


async def tap_sync(request: Request) -> Response:
    """GET/POST /tap/sync."""
    try:
        query = query_request(await dali_parameters(request))
        return await run_query(request, query)
    except TapError as exc:
        return Response(votable_error(str(exc)), status_code=exc.status, media_type=VOTABLE)
