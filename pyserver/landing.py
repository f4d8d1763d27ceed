"""GET / : a human-readable page listing the services (TAP 1.1 section 2 asks for one)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .identity import reading

SERVICES = [
    ("Processing", "/processing", "the recalibration queue: jobs, their history, monitoring"),
    ("Groups", "/groups", "who shares proprietary data and storage with whom (GMS 1.0 at /gms)"),
    ("Storage", "/storage/", "your VOSpace: files, folders, links and who may read them (VOSpace 2.1 at /vospace)"),
    ("Advanced Search", "/search", "search the archive in a browser: facets, results, the ADQL of it"),
    ("TAP", "/tap", "ADQL queries on ivoa.ObsCore and the full CAOM 2.4 model (TAP 1.1)"),
    ("DataLink", "/datalink", "files, previews, calibration files and cutouts of a data product"),
    ("SODA", "/soda/sync", "cutouts of HST images by position, band and time"),
    ("CAOM2 repository", "/caom2repo", "CAOM 2.4 XML of every observation, for harvesting"),
    ("MOC", "/moc", "sky coverage of the archive as a MOC 2.0"),
]


async def landing(request: Request) -> Response:
    """The landing page, with live counts from the database (what the caller may see)."""
    from .portal import templates

    async with reading(request) as conn:
        cursor = await conn.execute("SELECT hstvo.archive_summary()")
        summary = (await cursor.fetchone())[0]
    return templates.TemplateResponse(request, "home.html", {
        "section": "home", "summary": summary, "services": SERVICES})
