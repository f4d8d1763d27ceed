"""The ASGI application: routes only; each endpoint lives in its own module."""

from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.routing import Route

from hstvo.config import load_settings
from hstvo.db import database_url

from .db import make_pool
from .landing import landing
from .tap_sync import tap_sync
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
        try:
            yield
        finally:
            await pool.close()

    routes = [
        Route("/", landing),
        Route("/tap/sync", tap_sync, methods=["GET", "POST"]),
        Route("/tap/capabilities", capabilities),
        Route("/tap/availability", availability),
        Route("/tap/tables", tables),
        Route("/tap/tables/{name}", tables),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pool = pool
    app.state.public_url = load_settings().public_url
    return app
