"""GET / : a human-readable page listing the services (TAP 1.1 section 2 asks for one)."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse
from .identity import reading

SERVICES = [
    ("Advanced Search", "/search", "search the archive in a browser: facets, results, the ADQL of it"),
    ("TAP", "/tap", "ADQL queries on ivoa.ObsCore and the full CAOM 2.4 model (TAP 1.1)"),
    ("DataLink", "/datalink", "files, previews, calibration files and cutouts of a data product"),
    ("SODA", "/soda/sync", "cutouts of HST images by position, band and time"),
    ("CAOM2 repository", "/caom2repo", "CAOM 2.4 XML of every observation, for harvesting"),
    ("MOC", "/moc", "sky coverage of the archive as a MOC 2.0"),
]


async def landing(request: Request) -> HTMLResponse:
    """The landing page, with live counts from the database."""
    async with reading(request) as conn:  # the counts of what the caller may see
        cursor = await conn.execute("SELECT hstvo.archive_summary()")
        summary = (await cursor.fetchone())[0]
    rows = "\n".join(
        f'<li><a href="{html.escape(path)}">{html.escape(name)}</a> '
        f"<code>{html.escape(path)}</code>: {html.escape(text)}</li>"
        for name, path, text in SERVICES)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hstvo: HST in the Virtual Observatory</title></head>
<body>
<h1>hstvo: the Hubble Space Telescope archive in the Virtual Observatory</h1>
<p>{summary['observations']} observations, {summary['planes']} data products
({summary['obscore_rows']} in ivoa.ObsCore); collections: {html.escape(', '.join(summary['collections']))};
last change {html.escape(str(summary['last_modified']))} UTC; schema revision
{html.escape(str(summary['schema_revision']))}.</p>
<h2>Services</h2>
<ul>
{rows}
</ul>
</body></html>
"""
    return HTMLResponse(page)
