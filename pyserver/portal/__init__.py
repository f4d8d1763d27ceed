"""The web portal: pages for people, served by the same app on the same SQL functions as the
services, under the same access rules.

    search.py        /search, Advanced Search: form, facets with live counts, results, ADQL
    service_pages.py /tap and /datalink described for a browser
    templates/       Jinja2 pages (autoescaped)
    static/          the portal's stylesheet (nothing is fetched from elsewhere: the archive may
                     run offline)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def routes() -> list:
    """The portal's routes, for the app."""
    from . import search, service_pages

    return [
        Route("/search", search.search_page),
        Route("/search/targets", search.target_names),
        Route("/search/download", search.download_script, methods=["POST"]),
        Route("/tap", service_pages.tap_page),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]


log = logging.getLogger("hstvo.portal")
FACET_REFRESH_SECONDS = 5


async def keep_facets_fresh(pool) -> None:
    """Refresh the facet cube when a write has made it stale (portal.refresh_facets,
    sql/89_portal_search.sql: at most every portal_facet_refresh_seconds, and only while no
    write is under way); until then searches count their facets themselves."""
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
