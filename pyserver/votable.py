"""Query results as VOTable 1.4 (TABLEDATA or BINARY2), CSV and TSV, written as rows stream in.

A result is described by its fields (name, datatype, arraysize, xtype, unit, ucd, utype,
description): from TAP_SCHEMA for published columns, from the PostgreSQL type otherwise. The
rows themselves are written by the database: `serialised_query` wraps a query so that each row
comes back as its TABLEDATA <TR>, its CSV/TSV line or its BINARY2 bytes, using the functions of
sql/63_votable.sql (which say how each type is written, as DALI 1.1 asks). Python writes the
document around them: the head with the FIELDs, the tail with the status.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
import re
from xml.sax.saxutils import escape as _escape, quoteattr as _quoteattr

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
# characters XML 1.0 does not allow, even escaped (a query or an error message may hold them)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text: str) -> str:
    """XML character data: escaped, and without the characters XML cannot carry."""
    return _escape(NOT_XML.sub("\ufffd", text))


def quoteattr(text: str) -> str:
    """An XML attribute value, quoted: escaped, and without the characters XML cannot carry."""
    return _quoteattr(NOT_XML.sub("\ufffd", text))


@dataclass
class Field:
    """One column of a result, as a VOTable FIELD describes it."""

    name: str
    datatype: str = "char"
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None
    id: str | None = None  # only for what service descriptors refer to (astropy names table
    # columns by ID when there is one, and a result's columns are known by their names)

    def xml(self, index: int) -> str:
        attributes = [f"name={quoteattr(self.name)}", f"datatype={quoteattr(self.datatype)}"]
        if self.id:
            attributes.insert(0, f"ID={quoteattr(self.id)}")
        for key in ("arraysize", "xtype", "unit", "ucd", "utype"):
            value = getattr(self, key)
            if value:
                attributes.append(f"{key}={quoteattr(str(value))}")
        description = (f"<DESCRIPTION>{escape(self.description)}</DESCRIPTION>"
                       if self.description else "")
        return f"<FIELD {' '.join(attributes)}>{description}</FIELD>"


# PostgreSQL type name -> (VOTable datatype, arraysize, xtype)
PG_TYPES = {
    "int2": ("short", None, None), "int4": ("int", None, None), "int8": ("long", None, None),
    "float4": ("float", None, None), "float8": ("double", None, None),
    "numeric": ("double", None, None), "bool": ("boolean", None, None),
    "text": ("char", "*", None), "varchar": ("char", "*", None), "bpchar": ("char", "*", None),
    "name": ("char", "*", None), "uuid": ("char", "36", None),
    "timestamp": ("char", "*", "timestamp"), "timestamptz": ("char", "*", "timestamp"),
    "date": ("char", "*", "timestamp"),
    "spoint": ("double", "2", "point"), "scircle": ("double", "3", "circle"),
    "spoly": ("double", "*", "polygon"),
    "_float8": ("double", "*", None), "_float4": ("float", "*", None),
    "_int4": ("int", "*", None), "_int8": ("long", "*", None), "_int2": ("short", "*", None),
    "float8range": ("double", "2", "interval"),
}


def votable_head(fields: list[Field], infos: Iterable[tuple[str, str]] = (),
                 data_open: str = "<TABLEDATA>") -> str:
    """Everything before the first row (`data_open` starts the serialization)."""
    info = "".join(f"<INFO name={quoteattr(n)} value={quoteattr(v)}/>" for n, v in infos)
    columns = "\n".join(f.xml(i) for i, f in enumerate(fields))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n'
            f'<RESOURCE type="results">\n<INFO name="QUERY_STATUS" value="OK"/>{info}\n'
            f"<TABLE>\n{columns}\n<DATA>{data_open}\n")


def votable_tail(overflow: bool = False, error: str | None = None,
                 data_close: str = "</TABLEDATA>", resources: str = "") -> str:
    """Everything after the last row: the overflow or error INFO comes after the table;
    `resources` (service descriptors) after the results."""
    trailer = ""
    if error:
        trailer = f'<INFO name="QUERY_STATUS" value="ERROR">{escape(error)}</INFO>\n'
    elif overflow:
        trailer = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
    return f"{data_close}</DATA>\n</TABLE>\n{trailer}</RESOURCE>\n{resources}</VOTABLE>\n"


def votable_error(message: str) -> str:
    """A DALI error document."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n<RESOURCE type="results">\n'
            f'<INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>\n'
            f"</RESOURCE>\n</VOTABLE>\n")


def delimited_head(fields: list[Field], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow([f.name for f in fields])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Rows are written by the database (sql/63_votable.sql): a result query is wrapped so that each
# row comes back as one serialised value, a TABLEDATA <TR>, a CSV/TSV line or BINARY2 bytes
# ---------------------------------------------------------------------------------------------

TEXT_TYPES = {"text", "varchar", "bpchar", "name"}
# types whose values may hold what XML or CSV must escape
ESCAPED_TYPES = TEXT_TYPES | {"uuid"}


def _cell(column: str, field: Field, pg_type: str) -> str:
    """SQL for the text of one value (NULL for NULL)."""
    if field.xtype == "adql:REGION" and pg_type == "spoly":
        return f"votable.region_cell({column})"
    if pg_type in TEXT_TYPES or pg_type not in PG_TYPES:
        return f"{column}::text"
    return f"votable.cell({column})"


def _binary2_value(column: str, field: Field, pg_type: str) -> str:
    """SQL for the BINARY2 bytes of one value, as its FIELD declares it."""
    if field.datatype == "unicodeChar":  # uploaded tables' text (results declare char otherwise)
        return f"votable.b2_unicode_chars({_cell(column, field, pg_type)})"
    if field.datatype == "char":
        size = field.arraysize or "1"
        if size.isdigit():
            return f"votable.b2_fixed_chars({_cell(column, field, pg_type)}, {int(size)})"
        return f"votable.b2_chars({_cell(column, field, pg_type)})"
    return f"votable.b2({column})"


def _votable_cell(column: str, field: Field, pg_type: str) -> str:
    """SQL for one TABLEDATA <TD> element."""
    cell = _cell(column, field, pg_type)
    if pg_type in ESCAPED_TYPES or pg_type not in PG_TYPES:
        cell = f"votable.xml_text({cell})"
    return f"'<TD>' || coalesce({cell}, '') || '</TD>'"


def _delimited_cell(column: str, field: Field, pg_type: str, delimiter: str) -> str:
    """SQL for one CSV/TSV field (empty for NULL); `delimiter` as an SQL escape string body."""
    cell = _cell(column, field, pg_type)
    if pg_type in ESCAPED_TYPES or pg_type not in PG_TYPES or field.xtype == "adql:REGION":
        cell = f"votable.delimited_text({cell}, E'{delimiter}')"
    return f"coalesce({cell}, '')"


def _row(columns: list[str], fields: list[Field], pg_types: list[str], media_type: str) -> str:
    """SQL for a whole row written out: `media_type` is 'votable', 'binary2', 'csv' or 'tsv'."""
    if media_type == "binary2":
        masks = [f"votable.mask_byte({', '.join(f'{c} IS NULL' for c in columns[i:i + 8])})"
                 for i in range(0, len(columns), 8)]
        values = [_binary2_value(c, f, t) for c, f, t in zip(columns, fields, pg_types)]
        return " || ".join(masks + values) if columns else "''::bytea"
    if media_type == "votable":
        # || rather than concat(): a function takes at most 100 arguments
        return "'<TR>' || " + " || ".join(_votable_cell(c, f, t) for c, f, t in
                                         zip(columns, fields, pg_types)) + " || E'</TR>\\n'"
    delimiter = "," if media_type == "csv" else "\\t"
    return f" || E'{delimiter}' || ".join(_delimited_cell(c, f, t, delimiter) for c, f, t in
                                         zip(columns, fields, pg_types)) + " || E'\\r\\n'"


def serialised_query(sql: str, fields: list[Field], pg_types: list[str], media_type: str,
                     limit: int | None = None) -> str:
    """The query whose rows are `sql`'s rows written out (at most `limit` of them, when given):
    `media_type` is 'votable' (TABLEDATA), 'binary2', 'csv' or 'tsv'."""
    columns = [f"c{i}" for i in range(len(fields))]
    alias = f"r({', '.join(columns)})" if columns else "r"
    return (f"SELECT {_row(columns, fields, pg_types, media_type)} FROM ({sql}) AS {alias}"
            + (f" LIMIT {int(limit)}" if limit is not None else ""))


# Tables whose rows are stored written out (sql/64_obscore_written_rows.sql): the column that
# holds a row's serialisation in each format
WRITTEN_ROWS = {
    "ivoa.obscore": {"votable": "tabledata_row", "csv": "csv_row", "binary2": "binary2_row"},
}


def written_rows_query(translation, fields: list[Field], pg_types: list[str], media_type: str,
                       limit: int | None = None) -> str | None:
    """`serialised_query` for a query that returns whole rows of a table whose rows are stored
    written out (`translation.whole_rows_of`, pyserver/adql/translate.py): each row is read as
    stored, and written out as the query runs only where that is missing. None for any other
    query or format (TSV)."""
    table = translation.whole_rows_of
    stored = (WRITTEN_ROWS.get(f"{table.schema}.{table.sql_name}") or {}).get(media_type) \
        if table else None
    if stored is None:
        return None
    columns = [f"c{i}" for i in range(len(fields))]
    row = f"coalesce(written, {_row(columns, fields, pg_types, media_type)})"
    alias = f"r({', '.join(columns + ['written'])})"
    return (f"SELECT {row} FROM ({translation.with_columns([stored])}) AS {alias}"
            + (f" LIMIT {int(limit)}" if limit is not None else ""))


class Base64Stream:
    """Bytes to base64, chunk by chunk (base64 pieces join only at multiples of 3 bytes, so the
    remainder of each chunk waits for the next)."""

    def __init__(self) -> None:
        self.pending = b""

    def encode(self, data: bytes) -> bytes:
        """The base64 of `data` after what was pending (whole 3-byte groups only)."""
        if self.pending:
            data = self.pending + data
        whole = len(data) - len(data) % 3
        self.pending = data[whole:]
        # (a view: no copy of a chunk that may be megabytes)
        return binascii.b2a_base64(memoryview(data)[:whole], newline=False)

    def finish(self) -> str:
        """The last bytes, padded."""
        text, self.pending = base64.b64encode(self.pending).decode("ascii"), b""
        return text


def binary2_head(fields: list[Field], infos: Iterable[tuple[str, str]] = ()) -> str:
    return votable_head(fields, infos, data_open='<BINARY2><STREAM encoding="base64">')


def binary2_tail(encoder: Base64Stream, overflow: bool = False, error: str | None = None) -> str:
    return encoder.finish() + votable_tail(overflow, error, data_close="\n</STREAM></BINARY2>")
