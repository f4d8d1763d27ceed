"""The web portal: pages for people, served by the same app on the same SQL functions as the
services, under the same access rules.

    search.py        /search, Advanced Search: form, facets with live counts, results, ADQL,
                     target suggestions, the download script
    processing.py    /processing: the queue's jobs, a job's page and actions, monitoring
    groups.py        /groups: my groups, a group's members, create, add and remove
    storage.py       /storage: the VOSpace as folders: upload, folder, link, move, delete, rights
    charts.py        the monitoring view's SVG charts
    sky.py           the search's sky view (footprints as SVG)
    service_pages.py /tap and /datalink described for a browser
    templates/       Jinja2 pages (autoescaped)
    static/          the portal's stylesheet (nothing is fetched from elsewhere: the archive may
                     run offline)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent


def _who(request: Request) -> dict:
    """What every page knows: who is logged in (None: nobody)."""
    from ..identity import caller_of

    return {"caller": caller_of(request).name}


templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[_who])


def routes() -> list:
    """The portal's routes, for the app."""
    from . import groups, processing, search, service_pages, storage

    return [
        Route("/storage", storage.browse, methods=["GET", "POST"]),
        Route("/storage/{path:path}", storage.browse, methods=["GET", "POST"]),
        Route("/groups", groups.my_groups, methods=["GET", "POST"]),
        Route("/groups/{name}", groups.group_page, methods=["GET", "POST"]),
        Route("/processing", processing.job_list),
        Route("/processing/monitor", processing.monitor),
        Route("/processing/{job_id:int}", processing.job_page),
        Route("/processing/{job_id:int}", processing.act, methods=["POST"]),
        Route("/search", search.search_page),
        Route("/search/targets", search.target_names),
        Route("/search/download", search.download_script, methods=["POST"]),
        Route("/tap", service_pages.tap_page),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


log = logging.getLogger("hstvo.portal")


def same_origin(request: Request) -> bool:
    """Was a form posted from this site? (its Origin, or else its Referer, names this host).
    The session cookie is SameSite=Lax, so browsers do not send it with another site's POST;
    this refuses such a POST outright too."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return False
    return urlsplit(sent).netloc == request.headers.get("host", request.url.netloc)
FACET_REFRESH_SECONDS = 5


async def keep_facets_fresh(pool) -> None:
    """Refresh the facet cube when a write has made it not current (portal.refresh_facets,
    sql/89_portal_search.sql: at most every portal_facet_refresh_seconds; writes go on
    meanwhile); until then searches count their facets themselves."""
    while True:
        try:
            async with pool.connection() as conn:
                cursor = await conn.execute("SELECT portal.refresh_facets()")
                if (await cursor.fetchone())[0]:
                    log.info("facet counts refreshed")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database away or read-only: the next round tries again
            log.debug("facet counts not refreshed: %s", exc)
        await asyncio.sleep(FACET_REFRESH_SECONDS)
