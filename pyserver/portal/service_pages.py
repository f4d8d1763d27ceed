"""The service pages a browser gets: /tap described with its links and an ADQL runner (TAP 1.1
leaves the base URL's answer open; clients never ask for it); /datalink asked for by a browser
with no ID; /tap/tables and /tap/examples as pages when a browser asks (wants_html), while
clients still get VOSI's XML and DALI's XHTML. The examples page keeps DALI's RDFa, so it is an
examples document still."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..identity import reading
from ..vosi import base_url
from . import templates


async def tap_page(request: Request) -> Response:
    """GET /tap: what the TAP service is and where its endpoints are."""
    base = base_url(request) + "/tap"
    endpoints = [("sync", "run a query and wait for its result (GET or POST: LANG, QUERY, FORMAT)"),
                 ("async", "queries as UWS jobs: submit, watch, fetch the result later"),
                 ("capabilities", "VOSI: what the service supports, its limits"),
                 ("tables", "VOSI: the schemas, tables and columns to query"),
                 ("examples", "DALI: example queries, each runnable"),
                 ("availability", "VOSI: whether it is up")]
    query = request.query_params.get("query", "")[:20_000]
    return templates.TemplateResponse(request, "tap.html", {
        "section": "tap", "base": base, "endpoints": endpoints,
        "example": query or "SELECT TOP 10 obs_id, target_name, instrument_name FROM ivoa.ObsCore"})


async def tables_page(request: Request) -> Response:
    """/tap/tables for a browser: every schema, table and column TAP_SCHEMA describes."""
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT * FROM portal.tap_tables()")
        tables = await cursor.fetchall()
    schemas: dict[str, dict] = {}
    for schema, schema_description, table, kind, description, columns in tables:
        entry = schemas.setdefault(schema, {"description": schema_description, "tables": []})
        entry["tables"].append({"name": table, "type": kind, "description": description,
                                "columns": columns})
    return templates.TemplateResponse(request, "tables.html", {
        "section": "tap", "schemas": schemas})


async def examples_page(request: Request) -> Response:
    """/tap/examples for a browser: the examples, each with a button that runs it."""
    from ..examples import EXAMPLES

    return templates.TemplateResponse(request, "examples.html", {
        "section": "tap", "examples": EXAMPLES})


def wants_html(request: Request) -> bool:
    """Does a browser ask? Browsers navigating send text/html first and XHTML with it; Java's
    default Accept (STILTS, TOPCAT) begins with text/html too, but names no XHTML."""
    accept = request.headers.get("accept", "")
    return accept.split(",")[0].strip().startswith("text/html") and "application/xhtml+xml" in accept


async def datalink_page(request: Request) -> Response:
    """/datalink for a browser with no parameters: what the service does, and a form."""
    base = base_url(request)
    return templates.TemplateResponse(request, "datalink.html", {
        "section": "datalink", "base": base + "/datalink",
        "example": "ivo://hstvo.example/HST?j94f05bgq/j94f05bgq_flt"})
