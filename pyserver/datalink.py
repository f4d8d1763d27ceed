"""DataLink 1.1 at /datalink (GET and POST): the links of data products.

    /datalink?ID=caom:HST/j8bt06nyq/j8bt06nyq_flt&ID=ivo://hstvo.example/HST?j94f05bgq/j94f05bgq_flt

ID may repeat (up to MAX_IDS per request; more are left out and the response says OVERFLOW);
RESPONSEFORMAT may be left out or name a VOTable. The links are hstvo.datalink_links
(sql/80_datalink.sql), which ObsCore's access_url points at; the rows are written by the
database like every other result (pyserver/votable.py). Each link table carries the SODA
service descriptor its #cutout rows name (service_def="soda").
"""

from __future__ import annotations

from .votable import quoteattr

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .votable import Field, serialised_query, votable_error, votable_head, votable_tail
from .portal.service_pages import datalink_page, wants_html
from .identity import reading

MAX_IDS = 1000
MAX_FORM_FIELDS = 100_000  # of a POST: far more IDs than MAX_IDS still get an OVERFLOW
DATALINK = "application/x-votable+xml;content=datalink"
FORMATS = {"", "votable", "application/x-votable+xml", "text/xml"}

# the link table's columns (DataLink 1.1 section 3.2): FIELD, and the PostgreSQL type
COLUMNS = [
    (Field("ID", ucd="meta.id;meta.main", arraysize="*", description="the identifier asked about",
           id="datalink_id"), "text"),  # what the service descriptors' ID parameter refers to
    (Field("access_url", arraysize="*", ucd="meta.ref.url", description="where the linked resource is"), "text"),
    (Field("service_def", arraysize="*", ucd="meta.ref", description="the service descriptor of a service link"), "text"),
    (Field("error_message", arraysize="*", ucd="meta.code.error", description="why there is no link"), "text"),
    (Field("description", arraysize="*", ucd="meta.note", description="what the link is"), "text"),
    (Field("semantics", arraysize="*", ucd="meta.code", description="the link's relation to the ID (DataLink vocabulary)"), "text"),
    (Field("content_type", arraysize="*", ucd="meta.code.mime", description="MIME type of the linked resource"), "text"),
    (Field("content_length", datatype="long", unit="byte", ucd="phys.size;meta.file", description="its size"), "int8"),
    (Field("content_qualifier", arraysize="*", ucd="meta.code.class", description="what kind of product it is (product-type vocabulary)"), "text"),
    (Field("local_semantics", arraysize="*", ucd="meta.id.assoc", description="this archive's name for the relation"), "text"),
    (Field("link_auth", arraysize="*", ucd="meta.code", description="is authentication needed: false, optional or true"), "text"),
    (Field("link_authorized", datatype="boolean", ucd="meta.code", description="is the caller authorized"), "bool"),
]
FIELDS = [field for field, _ in COLUMNS]
LINKS_QUERY = serialised_query("SELECT * FROM hstvo.datalink_links(%(ids)s::text[])", FIELDS,
                               [pg_type for _, pg_type in COLUMNS], "votable")


def _ids(params: list[tuple[str, str]]) -> list[str]:
    return [value for key, value in params if key.upper() == "ID" and value.strip()]


def _soda_descriptor(base: str) -> str:
    """The SODA sync service descriptor the #cutout rows name (DataLink 1.1 section 4)."""
    circle = 'datatype="double" arraysize="3" xtype="circle" unit="deg" ucd="pos.outline;obs"'
    polygon = 'datatype="double" arraysize="*" xtype="polygon" unit="deg" ucd="pos.outline;obs"'
    return (
        '<RESOURCE type="meta" utype="adhoc:service" ID="soda" name="soda">\n'
        '<PARAM name="standardID" datatype="char" arraysize="*" '
        'value="ivo://ivoa.net/std/SODA#sync-1.0"/>\n'
        f'<PARAM name="accessURL" datatype="char" arraysize="*" value={quoteattr(base + "/soda/sync")}/>\n'
        '<PARAM name="contentType" datatype="char" arraysize="*" value="application/fits"/>\n'
        '<GROUP name="inputParams">\n'
        '<PARAM name="ID" datatype="char" arraysize="*" ref="datalink_id" '
        'ucd="meta.id;meta.dataset" value=""/>\n'
        '<PARAM name="POS" datatype="char" arraysize="*" ucd="pos.outline;obs" value="">'
        '<DESCRIPTION>CIRCLE ra dec radius, RANGE ra1 ra2 dec1 dec2 or POLYGON ra1 dec1 ... '
        '(ICRS degrees)</DESCRIPTION></PARAM>\n'
        f'<PARAM name="CIRCLE" {circle} value=""/>\n'
        f'<PARAM name="POLYGON" {polygon} value=""/>\n'
        '</GROUP>\n</RESOURCE>\n')


async def datalink(request: Request) -> Response:
    """GET/POST /datalink."""
    params = list(request.query_params.multi_items())
    if request.method == "GET" and not params and wants_html(request):
        return await datalink_page(request)  # a person, not a client: what the service is
    if request.method == "POST":
        try:  # more IDs than MAX_IDS are an OVERFLOW, as in a GET; the body limit bounds them
            form = await request.form(max_fields=MAX_FORM_FIELDS)
        except HTTPException as exc:
            return Response(votable_error(f"UsageFault: {exc.detail}"), status_code=400,
                            media_type="application/x-votable+xml")
        params += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    wanted = next((v for k, v in params if k.upper() == "RESPONSEFORMAT"), "")
    if wanted.split(";")[0].strip().lower() not in FORMATS:  # MIME parameters do not matter
        return Response(votable_error(f"UsageFault: RESPONSEFORMAT={wanted} is not supported: "
                                      "DataLink answers in VOTable"), status_code=400,
                        media_type="application/x-votable+xml")
    ids = _ids(params)
    overflow = len(ids) > MAX_IDS
    async with reading(request) as conn:  # a plane hidden from the caller is not found
        # one statement text for every request: psycopg prepares it, PostgreSQL reuses the plan
        rows = await (await conn.execute(LINKS_QUERY, {"ids": ids[:MAX_IDS]})).fetchall()
        base = (await (await conn.execute("SELECT hstvo.setting('service_url')")).fetchone())[0]
    head = votable_head(FIELDS, [("standardID", "ivo://ivoa.net/std/DataLink#links-1.1")])
    body = "".join(row[0] for row in rows)
    tail = votable_tail(overflow, resources=_soda_descriptor(base))
    return Response(head + body + tail, media_type=DATALINK)
