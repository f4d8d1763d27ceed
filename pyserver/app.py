"""The ASGI application: routes only; each endpoint lives in its own module."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.applications import Starlette
from starlette.routing import Route

from hstvo.config import load_settings
from hstvo.db import database_url

from .db import make_pool
from . import caom2repo
from .datalink import datalink
from .examples import examples
from .files import get_file, put_file
from .landing import landing
from .moc import moc
from .soda import soda_sync
from .tap_async import job, job_attribute, job_list, job_result, runner
from .tap_sync import query_role, tap_sync
from .vosi import availability, capabilities, tables

log = logging.getLogger("hstvo.serve")


def create_app(url: str | None = None) -> Starlette:
    """Build the app for the database at `url` (default: DATABASE_URL or the embedded one)."""
    url = url or database_url(load_settings())
    pool = make_pool(url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await pool.open(wait=True, timeout=30)
        log.info("serving the archive in %s", url.rsplit("@", 1)[-1])
        async with pool.connection() as conn:
            app.state.query_role = await query_role(conn)
        jobs = asyncio.create_task(runner(app), name="uws-runner")
        try:
            yield
        finally:
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
            await pool.close()

    routes = [
        Route("/", landing),
        Route("/tap/sync", tap_sync, methods=["GET", "POST"]),
        Route("/tap/async", job_list, methods=["GET", "POST"]),
        Route("/tap/async/{job_id}", job, methods=["GET", "POST", "DELETE"]),
        Route("/tap/async/{job_id}/results/result", job_result),
        Route("/tap/async/{job_id}/{attribute}", job_attribute, methods=["GET", "POST"]),
        Route("/tap/capabilities", capabilities),
        Route("/tap/examples", examples),
        Route("/tap/availability", availability),
        Route("/tap/tables", tables),
        Route("/tap/tables/{name}", tables),
        Route("/datalink", datalink, methods=["GET", "POST"]),
        Route("/moc", moc),
        Route("/caom2repo", caom2repo.home),
        Route("/caom2repo/capabilities", caom2repo.capabilities),
        Route("/caom2repo/availability", caom2repo.availability),
        Route("/caom2repo/observations", caom2repo.observations),
        Route("/caom2repo/observations/{collection}", caom2repo.observations),
        Route("/caom2repo/observations/{collection}/{observation_id}", caom2repo.observation,
              methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/caom2repo/deletions/{collection}", caom2repo.deletions),
        Route("/soda/sync", soda_sync, methods=["GET", "POST"]),
        Route("/files/{area}/{file_name}", get_file, methods=["GET", "HEAD"]),
        Route("/files/{area}/{file_name}", put_file, methods=["PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pool = pool
    app.state.public_url = load_settings().public_url
    app.state.database_url = url
    return app
