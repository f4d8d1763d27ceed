"""VOSI 1.1 for the TAP service: /tap/capabilities, /tap/availability, /tap/tables[/{name}].

The capabilities declare what the ADQL translator really supports (TAPRegExt 1.0 language
features), the output formats of tap_sync and the row limits; the tableset is TAP_SCHEMA,
read live from the database.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from . import tap_sync
from .identity import security_methods_xml

XSI = "http://www.w3.org/2001/XMLSchema-instance"
TR = "ivo://ivoa.net/std/TAPRegExt"

# TAPRegExt feature type -> the forms this service implements
FEATURES = {
    f"{TR}#features-adqlgeo": ["POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS",
                               "DISTANCE", "AREA", "CENTROID", "COORD1", "COORD2", "COORDSYS"],
    f"{TR}#features-adql-string": ["LOWER", "UPPER", "ILIKE"],
    f"{TR}#features-adql-offset": ["OFFSET"],
    f"{TR}#features-adql-sets": ["UNION", "EXCEPT", "INTERSECT"],
    f"{TR}#features-adql-common-table": ["WITH"],
    f"{TR}#features-adql-type": ["CAST"],
    f"{TR}#features-adql-unit": ["IN_UNIT"],
    f"{TR}#features-adql-bitwise": ["BIT_AND", "BIT_OR", "BIT_XOR", "BIT_NOT"],
}
OUTPUT_FORMATS = [
    (tap_sync.VOTABLE, "votable", f"{TR}#output-votable-td"),
    (tap_sync.BINARY2, "votable/b2", f"{TR}#output-votable-binary2"),
    ("text/csv", "csv", None),
    ("text/tab-separated-values", "tsv", None),
    (tap_sync.FITS, "fits", None),
]


def base_url(request: Request) -> str:
    """The service's public base URL (HSTVO_PUBLIC_URL, or what the request came to)."""
    configured = getattr(request.app.state, "public_url", None)
    return (configured or str(request.base_url)).rstrip("/")


def capability(standard: str, url: str, secured: bool) -> str:
    """A VOSI <capability> of one ParamHTTP interface; `secured`: with the security methods
    CADC's clients look for (tokens among them)."""
    security = security_methods_xml(token=True) if secured else ""
    return (f'<capability standardID="{standard}"><interface xsi:type="vs:ParamHTTP" '
            f'role="std"><accessURL use="base">{escape(url)}</accessURL>{security}</interface>'
            f'</capability>')


def _interface(url: str, role: str | None = None, version: str | None = None) -> str:
    """A ParamHTTP interface, with the security methods the service accepts on it."""
    extra = (f' role="{role}"' if role else "") + (f' version="{version}"' if version else "")
    return (f'<interface xsi:type="vs:ParamHTTP"{extra}>'
            f'<accessURL use="base">{escape(url)}</accessURL>{security_methods_xml()}'
            f'</interface>')


async def capabilities(request: Request) -> Response:
    """GET /tap/capabilities."""
    base = base_url(request) + "/tap"
    features = "".join(
        f'<languageFeatures type="{kind}">'
        + "".join(f"<feature><form>{form}</form></feature>" for form in forms)
        + "</languageFeatures>" for kind, forms in FEATURES.items())
    formats = "".join(
        (f'<outputFormat ivo-id="{ivo_id}">' if ivo_id else "<outputFormat>")
        + f"<mime>{mime}</mime><alias>{alias}</alias></outputFormat>"
        for mime, alias, ivo_id in OUTPUT_FORMATS)
    # VOSI 1.1: the tables endpoint (with detail=min and /tables/{name}) is tables-1.1, the
    # identifier clients such as cadc-tap look for
    vosi = "".join(
        f'<capability standardID="ivo://ivoa.net/std/VOSI#{standard}">'
        f'<interface xsi:type="vs:ParamHTTP"><accessURL use="full">{escape(base)}/{name}'
        f"</accessURL></interface></capability>"
        for standard, name in (("capabilities", "capabilities"), ("availability", "availability"),
                               ("tables-1.1", "tables")))
    vosi += (f'<capability standardID="ivo://ivoa.net/std/DALI#examples">'
             f'<interface xsi:type="vr:WebBrowser"><accessURL use="full">{escape(base)}/examples'
             f"</accessURL></interface></capability>")
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0"
    xmlns:xsi="{XSI}" xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"
    xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0"
    xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0">
<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">
{_interface(base, "std", "1.1")}
<dataModel ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1">ObsCore-1.1</dataModel>
<language><name>ADQL</name>
<version ivo-id="ivo://ivoa.net/std/ADQL#v2.1">2.1</version>
<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>
<description>ADQL 2.1, translated to PostgreSQL with pgsphere</description>
{features}
</language>
{formats}
<uploadMethod ivo-id="{TR}#upload-inline"/>
<uploadMethod ivo-id="{TR}#upload-http"/>
<executionDuration><default>{tap_sync.LIMITS.async_default_seconds}</default><hard>{tap_sync.LIMITS.async_max_seconds}</hard></executionDuration>
<outputLimit><default unit="row">{tap_sync.DEFAULT_MAXREC}</default><hard unit="row">{tap_sync.HARD_MAXREC}</hard></outputLimit>
<uploadLimit><hard unit="byte">{tap_sync.MAX_UPLOAD_BYTES}</hard></uploadLimit>
</capability>
{vosi}
</vosi:capabilities>
"""
    return Response(body, media_type="text/xml")


async def availability(request: Request) -> Response:
    """GET /tap/availability: whether the database answers."""
    try:
        async with request.app.state.pool.connection(timeout=5) as conn:
            await conn.execute("SELECT 1")
        up, note = "true", "the archive database answers queries"
    except Exception as exc:  # any failure to reach the database means unavailable
        up, note = "false", f"the archive database does not answer: {type(exc).__name__}"
    notes = [note] + _standby_notes(request)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<avail:availability xmlns:avail="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
            f"<avail:available>{up}</avail:available>"
            + "".join(f"<avail:note>{escape(n)}</avail:note>" for n in notes)
            + "</avail:availability>\n")
    return Response(body, media_type="text/xml")


def _standby_notes(request: Request) -> list[str]:
    """A note per read replica (HSTVO_READ_URLS): in rotation or not, and how far behind."""
    servers = getattr(request.app.state, "read_servers", None)
    notes = []
    for server in servers.describe() if servers else []:
        lag = ("" if server.lag_bytes is None else f", {server.lag_bytes} bytes")
        lag += ("" if server.lag_seconds is None else f", {server.lag_seconds:.3f} s behind")
        state = "in rotation" if server.in_rotation else f"out of rotation ({server.problem})"
        notes.append(f"read replica {server.name}: {state}{lag}")
    return notes


def _optional(element: str, value: object) -> str:
    return f"<{element}>{escape(str(value))}</{element}>" if value not in (None, "") else ""


def _column_xml(row: tuple) -> str:
    (name, datatype, arraysize, xtype, description, utype, unit, ucd, indexed, principal, std) = row
    attributes = (f' arraysize="{escape(arraysize)}"' if arraysize else "") + \
                 (f' extendedType="{escape(xtype)}"' if xtype else "")
    flags = "".join(f"<flag>{flag}</flag>" for flag, on in
                    (("indexed", indexed), ("primary", principal), ("std", std)) if on)
    return (f"<column>{_optional('name', name)}{_optional('description', description)}"
            f"{_optional('unit', unit)}{_optional('ucd', ucd)}{_optional('utype', utype)}"
            f'<dataType xsi:type="vs:VOTableType"{attributes}>{escape(datatype)}</dataType>'
            f"{flags}</column>")


async def _table_xml(conn, table: tuple, element: str = "table", namespaces: str = "") -> str:
    name, table_type, description, utype = table
    columns = await (await conn.execute(
        "SELECT column_name, datatype, arraysize, xtype, description, utype, unit, ucd, indexed,"
        " principal, std FROM tap_schema.columns WHERE table_name = %s ORDER BY column_index, column_name",
        (name,))).fetchall()
    keys = await (await conn.execute(
        "SELECT k.target_table, k.description, kc.from_column, kc.target_column"
        "  FROM tap_schema.keys k JOIN tap_schema.key_columns kc USING (key_id)"
        " WHERE k.from_table = %s ORDER BY k.key_id", (name,))).fetchall()
    foreign = "".join(
        f"<foreignKey><targetTable>{escape(target)}</targetTable>"
        f"<fkColumn><fromColumn>{escape(a)}</fromColumn><targetColumn>{escape(b)}</targetColumn>"
        f"</fkColumn>{_optional('description', text)}</foreignKey>"
        for target, text, a, b in keys)
    kind = f' type="{escape(table_type)}"' if table_type in ("table", "view", "output") else ""
    return (f"<{element}{namespaces}{kind}>{_optional('name', name)}"
            f"{_optional('description', description)}{_optional('utype', utype)}"
            + "".join(_column_xml(c) for c in columns) + foreign + f"</{element}>")


async def tables(request: Request) -> Response:
    """GET /tap/tables and /tap/tables/{name}: TAP_SCHEMA as a VODataService tableset (a
    browser asking for the whole set gets it as a page)."""
    from .portal.service_pages import tables_page, wants_html

    single = request.path_params.get("name")
    if not single and wants_html(request):
        return await tables_page(request)
    async with request.app.state.pool.connection() as conn:
        if single:
            table = await (await conn.execute(
                "SELECT table_name, table_type, description, utype FROM tap_schema.tables"
                " WHERE lower(table_name) = lower(%s)", (single,))).fetchone()
            if table is None:
                return Response(f"no table {single} in TAP_SCHEMA\n", status_code=404,
                                media_type="text/plain")
            namespaces = (' xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0"'
                          f' xmlns:xsi="{XSI}" xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1"')
            body = await _table_xml(conn, table, "vosi:table", namespaces)
            return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n",
                            media_type="text/xml")
        schemas = await (await conn.execute(
            "SELECT schema_name, description, utype FROM tap_schema.schemas"
            " ORDER BY schema_index, schema_name")).fetchall()
        parts = []
        for schema, description, utype in schemas:
            rows = await (await conn.execute(
                "SELECT table_name, table_type, description, utype FROM tap_schema.tables"
                " WHERE schema_name = %s ORDER BY table_index, table_name", (schema,))).fetchall()
            tables_xml = "".join([await _table_xml(conn, row) for row in rows])
            parts.append(f"<schema>{_optional('name', schema)}{_optional('description', description)}"
                         f"{_optional('utype', utype)}{tables_xml}</schema>")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" xmlns:xsi="{XSI}"'
            f' xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">' + "".join(parts)
            + "</vosi:tableset>\n")
    return Response(body, media_type="text/xml")
