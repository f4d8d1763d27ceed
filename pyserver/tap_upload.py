"""TAP UPLOAD (DALI 1.1 section 3.4.5): VOTables POSTed with a query, queryable as TAP_UPLOAD.name.

Each uploaded table becomes a temporary table of the query's transaction (dropped at its end),
filled with COPY and readable by the query role; the translator sees it in a per-request copy
of the catalog, so TAP_UPLOAD.name can be joined with ObsCore like any published table.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import numpy as np
import psycopg
import psycopg.sql as sql
from astropy.io.votable import parse_single_table
from lxml import etree
from astropy.utils.exceptions import AstropyWarning

from .adql import Catalog, Column, Table
from . import offload
from .errors import database_message
from .tap_sync import LIMITS, MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, TapError

FETCH_SECONDS = 30

# VOTable datatype of a scalar column -> PostgreSQL type; result columns keep the datatype
PG_TYPE = {"short": "smallint", "int": "integer", "long": "bigint", "float": "real",
           "double": "double precision", "boolean": "boolean", "unsignedByte": "smallint",
           "char": "text", "unicodeChar": "text", "bit": "boolean"}
# what a column of that type is in a result
RESULT_DATATYPE = {"smallint": "short", "boolean": "boolean"}
# DALI geometry xtypes -> (pgsphere type, datatype, arraysize)
GEOMETRY = {"point": ("spoint", "double", "2"), "circle": ("scircle", "double", "3"),
            "polygon": ("spoly", "double", "*")}
GEOMETRY_LENGTH = {"spoint": 2, "scircle": 3}  # a polygon: 3 or more pairs
GEOMETRY_NAME = {"spoint": "point", "scircle": "circle", "spoly": "polygon"}
# a table fetched by URL from this service may not itself upload by URL (a chain of requests
# to itself would hold up everything): the fetch says how deep it is with this header
DEPTH_HEADER = "HSTVO-Upload-Depth"


def _read(name: str, data: bytes | None):
    """The FIELDs and the table of an uploaded VOTable."""
    if data is None:
        raise TapError(f"UPLOAD {name}: the POST has no part of that name")
    if len(data) > MAX_UPLOAD_BYTES:
        raise TapError(f"UPLOAD {name}: larger than {MAX_UPLOAD_BYTES // 1_000_000} MB")
    # counted before parsing: astropy's parsing time grows with the square of the columns
    if data.count(b"<FIELD") > LIMITS.upload_columns:
        raise TapError(f"UPLOAD {name}: more than {LIMITS.upload_columns} columns")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            votable = parse_single_table(io.BytesIO(data))
            table = votable.to_table(use_names_over_ids=True)
    except Exception as exc:  # whatever astropy says of a broken VOTable is the user's error
        raise TapError(f"UPLOAD {name}: not a readable VOTable: {exc}") from None
    if len(table) > MAX_UPLOAD_ROWS:
        raise TapError(f"UPLOAD {name}: more than {MAX_UPLOAD_ROWS} rows")
    return votable.fields, table


def _column_type(name: str, column: str, field) -> tuple[str, str, str | None]:
    """The PostgreSQL type of an uploaded column, and the datatype and arraysize its values
    have in results (those of that type: an unsignedByte column comes back as short)."""
    if field.xtype in GEOMETRY and field.datatype in ("double", "float"):
        return GEOMETRY[field.xtype]
    if field.xtype == "timestamp" and field.datatype == "char":
        return "timestamp", "char", "*"
    text = field.datatype in ("char", "unicodeChar")
    if field.datatype not in PG_TYPE or (field.arraysize and not text) or field.xtype:
        raise TapError(f"UPLOAD {name}: column {column} ({field.datatype}"
                       f"{'[' + field.arraysize + ']' if field.arraysize else ''}"
                       f"{', ' + field.xtype if field.xtype else ''}) is not supported here")
    pg_type = PG_TYPE[field.datatype]
    return pg_type, RESULT_DATATYPE.get(pg_type, field.datatype), "*" if text else None


def _geometry_value(value, pg_type: str) -> str | None:
    """A point, circle or polygon cell as pgsphere's text in degrees (None when masked)."""
    if value is np.ma.masked:
        return None
    numbers = [float(v) for v in np.ma.filled(np.ma.asarray(value), np.nan).ravel()]
    if any(np.isnan(numbers)):
        return None
    if len(numbers) != GEOMETRY_LENGTH.get(pg_type, len(numbers)) or (
            pg_type == "spoly" and (len(numbers) < 6 or len(numbers) % 2)):
        raise ValueError(f"a {GEOMETRY_NAME[pg_type]} of {len(numbers)} numbers")
    pairs = [f"({numbers[i]!r}d, {numbers[i + 1]!r}d)" for i in range(0, len(numbers) - 1, 2)]
    if pg_type == "spoint":
        return pairs[0]
    if pg_type == "scircle":
        return f"<{pairs[0]}, {numbers[2]!r}d>"
    return "{" + ", ".join(pairs) + "}"


async def _fetch(name: str, url: str, own_url: str, depth: int) -> bytes:
    """A table by URL: from this service itself only (a TAP service that fetched any URL it
    is given would be an open proxy), and not from within such a fetch."""
    if urlsplit(url).netloc != urlsplit(own_url).netloc:
        raise TapError(f"UPLOAD {name}: only URLs of this service ({urlsplit(own_url).netloc}) "
                       f"can be uploaded from, not {url}")
    if depth >= 1:
        raise TapError(f"UPLOAD {name}: a table fetched by URL for an upload cannot itself "
                       "upload a table by URL")
    try:
        async with httpx.AsyncClient(timeout=FETCH_SECONDS,
                                     headers={DEPTH_HEADER: str(depth + 1)}) as client:
            async with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise TapError(f"UPLOAD {name}: {url} answered {response.status_code}: "
                                   f"{_error_message(response.content)}")
                data = b""
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_UPLOAD_BYTES:
                        break
                return data
    except httpx.HTTPError as exc:
        raise TapError(f"UPLOAD {name}: cannot read {url}: {exc}") from None


def _error_message(document: bytes) -> str:
    """The message of a DALI error document, or the start of whatever came instead."""
    try:
        tree = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
        infos = tree.xpath("//*[local-name()='INFO'][@name='QUERY_STATUS'][@value='ERROR']")
        if infos:
            return (infos[-1].text or "").strip()
    except etree.XMLSyntaxError:
        pass
    return document[:200].decode("utf-8", "replace").strip()


@dataclass(frozen=True)
class UploadedTable:
    """An uploaded table, ready to COPY: its columns (as the catalog will know them), their
    PostgreSQL types, and its rows as COPY takes them."""

    columns: list[Column]
    pg_types: list[str]
    rows: list[tuple]


def prepare_upload(name: str, data: bytes | None) -> UploadedTable:
    """Parse, check and convert an uploaded VOTable (the heavy part: run off the event loop,
    in another process for a large one; see pyserver/offload.py)."""
    fields, table = _read(name, data)
    columns: dict[str, Column] = {}
    pg_types = []
    for field, column in zip(fields, table.colnames):
        if not column.isidentifier():
            raise TapError(f"UPLOAD {name}: column name {column!r} is not an ADQL identifier")
        if column.lower() in columns:
            raise TapError(f"UPLOAD {name}: two columns are called {column} (names are "
                           "case-insensitive in ADQL)")
        pg_type, datatype, arraysize = _column_type(name, column, field)
        pg_types.append(pg_type)
        columns[column.lower()] = Column(column, column.lower(), datatype, arraysize,
                                         field.xtype, field.unit and str(field.unit), field.ucd)
    values = [_column_values(name, column, table[column.published], pg_type)
              for column, pg_type in zip(columns.values(), pg_types)]
    return UploadedTable(list(columns.values()), pg_types, list(zip(*values)))


def _column_values(name: str, column: Column, data, pg_type: str) -> list:
    """A column's cells as COPY takes them, None for masked ones (column-wise: fast)."""
    if pg_type in ("spoint", "scircle", "spoly"):
        cells = []
        for row_number, value in enumerate(data, start=1):
            try:
                cells.append(_geometry_value(value, pg_type))
            except (ValueError, TypeError, IndexError) as exc:
                raise TapError(f"UPLOAD {name}: row {row_number}, column {column.published}: "
                               f"{exc}") from None
        return cells
    cells = data.tolist()  # Python values; a masked cell is None
    if getattr(data, "mask", None) is not None and np.any(data.mask):
        cells = [None if masked else cell for cell, masked in zip(cells, data.mask.tolist())]
    return [cell.decode("utf-8", "replace") if isinstance(cell, bytes) else cell
            for cell in cells]


async def create_uploads(conn: psycopg.AsyncConnection, catalog: Catalog,
                         uploads: list[tuple[str, str]], files: dict[str, bytes],
                         role: str | None, own_url: str, depth: int = 0) -> Catalog:
    """Create the uploaded tables in the open transaction; the catalog with them added.
    A source is param:part (a file of the POST) or a URL of this service; `depth` is how many
    upload fetches deep this request is (the DEPTH_HEADER of the request)."""
    extended = Catalog(dict(catalog.tables))
    for name, source in uploads:
        if source.startswith("param:"):
            data = files.get(source[len("param:"):])
        else:
            data = await _fetch(name, source, own_url, depth)
        # parsing a large VOTable takes a while: not on the event loop, which serves everybody
        uploaded = await offload.run(prepare_upload, len(data or b""), name, data)
        relation = f"tap_upload_{name.lower()}"
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.sql_name), sql.SQL(pg_type))
            for c, pg_type in zip(uploaded.columns, uploaded.pg_types))
        await conn.execute(sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
            sql.Identifier(relation), definition))
        await _fill(conn, name, relation, uploaded.rows)
        if role:
            await conn.execute(sql.SQL("GRANT SELECT ON pg_temp.{} TO {}").format(
                sql.Identifier(relation), sql.Identifier(role)))
        extended.tables[f"tap_upload.{name.lower()}"] = Table(
            f"TAP_UPLOAD.{name}", "pg_temp", relation, {c.sql_name: c for c in uploaded.columns})
    return extended


async def _fill(conn: psycopg.AsyncConnection, name: str, relation: str, rows: list[tuple]) -> None:
    """COPY the rows in; a value the column's type cannot hold is the user's error."""
    try:
        async with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(
                sql.Identifier(relation))) as copy:
            for row in rows:
                await copy.write_row(row)
    except psycopg.Error as exc:
        raise TapError(f"UPLOAD {name}: a value cannot be stored as its column's type "
                       f"({database_message(exc)})") from None
