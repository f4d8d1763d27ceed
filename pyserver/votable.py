"""Query results as VOTable 1.4 (TABLEDATA), CSV and TSV, written as the rows stream in.

A result is described by its fields (name, datatype, arraysize, xtype, unit, ucd, utype,
description): from TAP_SCHEMA for published columns, from the PostgreSQL type otherwise. Values
are written as DALI 1.1 says: timestamps ISO 8601, geometry in degrees (`point` "ra dec",
`circle` "ra dec radius", `polygon` "ra1 dec1 ra2 dec2 ..."; an adql:REGION column as STC-S).
pgsphere values arrive as pgsphere's text in degrees (the connection sets
set_sphere_output('DEG')), so a geometry is the list of numbers in that text.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


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

    def xml(self, index: int) -> str:
        # no ID: astropy names table columns by ID when there is one, and a result's columns
        # are known by their names
        attributes = [f"name={quoteattr(self.name)}", f"datatype={quoteattr(self.datatype)}"]
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
}


def format_value(value: object, field: Field) -> str:
    """The text of one value, as TABLEDATA and CSV carry it ('' for NULL)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return " ".join(format_value(v, field) for v in value)
    if field.xtype in ("point", "circle", "polygon"):
        return " ".join(NUMBER.findall(str(value)))
    if field.xtype == "adql:REGION" and str(value).startswith("{"):
        return "Polygon ICRS " + " ".join(NUMBER.findall(str(value)))
    return str(value)


def votable_head(fields: list[Field], infos: Iterable[tuple[str, str]] = (),
                 data_open: str = "<TABLEDATA>") -> str:
    """Everything before the first row (`data_open` starts the serialization)."""
    info = "".join(f"<INFO name={quoteattr(n)} value={quoteattr(v)}/>" for n, v in infos)
    columns = "\n".join(f.xml(i) for i, f in enumerate(fields))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n'
            f'<RESOURCE type="results">\n<INFO name="QUERY_STATUS" value="OK"/>{info}\n'
            f"<TABLE>\n{columns}\n<DATA>{data_open}\n")


def votable_rows(rows: Iterable[tuple], fields: list[Field]) -> str:
    """The <TR> elements of some rows."""
    out = io.StringIO()
    for row in rows:
        out.write("<TR>")
        for value, field in zip(row, fields):
            out.write(f"<TD>{escape(format_value(value, field))}</TD>")
        out.write("</TR>\n")
    return out.getvalue()


def votable_tail(overflow: bool = False, error: str | None = None,
                 data_close: str = "</TABLEDATA>") -> str:
    """Everything after the last row: the overflow or error INFO comes after the table."""
    trailer = ""
    if error:
        trailer = f'<INFO name="QUERY_STATUS" value="ERROR">{escape(error)}</INFO>\n'
    elif overflow:
        trailer = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>\n'
    return f"{data_close}</DATA>\n</TABLE>\n{trailer}</RESOURCE>\n</VOTABLE>\n"


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


def delimited_rows(rows: Iterable[tuple], fields: list[Field], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([format_value(v, f) for v, f in zip(row, fields)])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# BINARY2 (VOTable 1.4 section 5.6): per row a NULL bitmap, then each value big-endian
# ---------------------------------------------------------------------------------------------

SCALARS = {"short": ">h", "int": ">i", "long": ">q", "float": ">f", "double": ">d",
           "unsignedByte": ">B"}
NULL_SCALAR = {"short": 0, "int": 0, "long": 0, "float": math.nan, "double": math.nan,
               "unsignedByte": 0}


class Binary2Encoder:
    """Rows to base64 BINARY2, chunk by chunk (base64 pieces join only at multiples of 3 bytes,
    so the remainder of each chunk waits for the next)."""

    def __init__(self, fields: list[Field]) -> None:
        self.fields = fields
        self.mask_bytes = (len(fields) + 7) // 8
        self.pending = b""

    def _value(self, value: object, field: Field) -> bytes:
        kind, size = field.datatype, field.arraysize
        if kind == "boolean" and not size:
            return b"?" if value is None else (b"T" if value else b"F")
        if kind in ("char", "unicodeChar"):
            text = "" if value is None else format_value(value, field)
            data = text.encode("utf-8" if kind == "char" else "utf-16-be", "replace")
            if size and size.rstrip("*").isdigit() and not size.endswith("*"):
                width = int(size) * (2 if kind == "unicodeChar" else 1)
                return data[:width].ljust(width, b"\0")
            return struct.pack(">I", len(text) if kind == "unicodeChar" else len(data)) + data
        code = SCALARS.get(kind, ">d")
        if not size:
            if value is None:
                return struct.pack(code, NULL_SCALAR.get(kind, 0))
            return struct.pack(code, float(value) if kind in ("float", "double") else int(value))
        numbers = [] if value is None else (list(value) if isinstance(value, (list, tuple))
                                            else [float(n) for n in NUMBER.findall(str(value))])
        packed = b"".join(struct.pack(code, n if n is not None else NULL_SCALAR.get(kind, 0))
                          for n in numbers)
        if size.endswith("*"):
            return struct.pack(">I", len(numbers)) + packed
        width = int(size) * struct.calcsize(code)
        return packed[:width].ljust(width, b"\0")

    def rows(self, rows: Iterable[tuple]) -> str:
        """The base64 text of some rows (whole 3-byte groups; the rest waits)."""
        out = bytearray(self.pending)
        for row in rows:
            mask = bytearray(self.mask_bytes)
            values = bytearray()
            for i, (value, field) in enumerate(zip(row, self.fields)):
                if value is None:
                    mask[i // 8] |= 0x80 >> (i % 8)
                values += self._value(value, field)
            out += mask + values
        whole = len(out) - len(out) % 3
        self.pending = bytes(out[whole:])
        return base64.b64encode(bytes(out[:whole])).decode("ascii")

    def finish(self) -> str:
        """The last bytes, padded."""
        text, self.pending = base64.b64encode(self.pending).decode("ascii"), b""
        return text


def binary2_head(fields: list[Field], infos: Iterable[tuple[str, str]] = ()) -> str:
    return votable_head(fields, infos, data_open='<BINARY2><STREAM encoding="base64">')


def binary2_tail(encoder: Binary2Encoder, overflow: bool = False, error: str | None = None) -> str:
    return encoder.finish() + votable_tail(overflow, error, data_close="\n</STREAM></BINARY2>")
