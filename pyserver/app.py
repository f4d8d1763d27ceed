"""The ASGI application: routes only; each endpoint lives in its own module."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg_pool import PoolTimeout
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hstvo.config import load_settings
from hstvo.db import database_url

from .db import POOL_WAIT_SECONDS, make_pool
from . import caom2repo, offload, portal, vospace
from .gms import groups as gms_groups, search as gms
from .datalink import datalink
from .examples import examples
from .files import get_file, put_file
from .previews import preview, thumbnail
from .landing import landing
from .identity import READER_ROLE, Authentication, AuthenticationFailed, authentication_failed
from .limits import RequestLimits
from .login import login, logout
from .moc import moc
from .registry import resource_caps
from .replicas import ReadServers, read_urls, reads
from .soda import soda_sync
from .tap_async import job, job_attribute, job_list, job_result, runner
from .tap_sync import LIMITS, query_role, tap_sync, usable_role
from .vosi import availability, capabilities, tables

log = logging.getLogger("hstvo.serve")

RETRY_AFTER_SECONDS = 5


async def busy(request: Request, exc: Exception) -> Response:
    """Every connection of a pool is in use: come back shortly (never a 500)."""
    log.warning("%s %s: no database connection free within %s s", request.method,
                request.url.path, POOL_WAIT_SECONDS)
    return Response("the service is busy: try again in a few seconds\n", status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, media_type="text/plain")


async def unavailable(request: Request, exc: Exception) -> Response:
    """The database cannot be reached."""
    log.error("%s %s: the database is unreachable: %s", request.method, request.url.path, exc)
    return Response("the archive's database is unavailable: try again later\n", status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, media_type="text/plain")


async def _publish_url(conn, public_url: str) -> None:
    """The database's service_url (behind ObsCore's access_url and the repository's
    capabilities) is the URL this server is reached at: clients cache capabilities by host and
    port, and must not be sent to another server."""
    cursor = await conn.execute("SELECT hstvo.set_service_url(%s)", (public_url,))
    stored = (await cursor.fetchone())[0]
    if stored != public_url:
        log.info("service_url was %s; it is now %s, where this server answers", stored, public_url)


def create_app(url: str | None = None) -> Starlette:
    """Build the app for the database at `url` (default: DATABASE_URL or the embedded one)."""
    url = url or database_url(load_settings())
    pool = make_pool(url, name="hstvo-serve")
    stream_pool = make_pool(url, max_size=LIMITS.streams, name="hstvo-tap-sync")
    job_pool = make_pool(url, max_size=LIMITS.async_slots, name="hstvo-tap-async")
    pools = (pool, stream_pool, job_pool)
    read_servers = ReadServers({"short": pool, "stream": stream_pool, "job": job_pool},
                               read_urls(), {"short": 10, "stream": LIMITS.streams,
                                             "job": LIMITS.async_slots})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        for each in pools:
            await each.open(wait=True, timeout=30)
        log.info("serving the archive in %s", url.rsplit("@", 1)[-1])
        async with pool.connection() as conn:
            app.state.query_role = await query_role(conn)
            app.state.reader_role = await usable_role(conn, READER_ROLE)
            await _publish_url(conn, app.state.public_url)
            cursor = await conn.execute("SELECT vospace.uri('')")
            app.state.vospace_root_uri = (await cursor.fetchone())[0].rstrip("/")
        if read_servers.standbys:
            await read_servers.check()
            log.info("reads go to %s", ", ".join(
                f"{s.name} ({'in rotation' if s.in_rotation else s.problem})"
                for s in read_servers.standbys))
        watching = asyncio.create_task(read_servers.watch(), name="read-servers") \
            if read_servers.standbys else None
        jobs = asyncio.create_task(runner(app), name="uws-runner")
        facets = asyncio.create_task(portal.keep_facets_fresh(pool), name="facet-cube")
        warming = asyncio.create_task(offload.warm_up(), name="offload-warm-up")
        try:
            yield
        finally:
            jobs.cancel()
            facets.cancel()
            warming.cancel()
            if watching is not None:
                watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
            await read_servers.close()
            offload.shut_down()
            for each in pools:
                await each.close()

    routes = [
        Route("/", landing),
        Route("/tap/sync", reads(tap_sync), methods=["GET", "POST"]),
        Route("/tap/async", job_list, methods=["GET", "POST"]),
        Route("/tap/async/{job_id}", job, methods=["GET", "POST", "DELETE"]),
        Route("/tap/async/{job_id}/results/result", job_result),
        Route("/tap/async/{job_id}/{attribute}", job_attribute, methods=["GET", "POST"]),
        Route("/tap/capabilities", capabilities),
        Route("/tap/examples", examples),
        Route("/tap/availability", availability),
        Route("/tap/tables", tables),
        Route("/tap/tables/{name}", tables),
        Route("/datalink", reads(datalink), methods=["GET", "POST"]),
        Route("/moc", reads(moc)),
        Route("/reg/resource-caps", resource_caps),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/gms/search", gms.search),
        Route("/gms/capabilities", gms.capabilities),
        Route("/gms/groups", gms_groups.collection, methods=["GET", "PUT"]),
        Route("/gms/groups/{name}", gms_groups.group, methods=["GET", "POST", "DELETE"]),
        Route("/gms/groups/{name}/userMembers/{member:path}", gms_groups.user_member,
              methods=["PUT", "DELETE"]),
        Route("/gms/groups/{name}/groupMembers/{member}", gms_groups.group_member,
              methods=["PUT", "DELETE"]),
        Route("/logout", logout, methods=["GET", "POST"]),
        Route("/caom2repo", caom2repo.home),
        Route("/caom2repo/capabilities", caom2repo.capabilities),
        Route("/caom2repo/availability", caom2repo.availability),
        Route("/caom2repo/observations", caom2repo.observations),
        Route("/caom2repo/observations/{collection}", caom2repo.observations),
        Route("/caom2repo/observations/{collection}/{observation_id}", caom2repo.observation,
              methods=["GET", "PUT", "POST", "DELETE"]),
        Route("/caom2repo/deletions/{collection}", caom2repo.deletions),
        Route("/soda/sync", reads(soda_sync), methods=["GET", "POST"]),
        Route("/files/{area}/{file_name}", get_file, methods=["GET", "HEAD"]),
        Route("/preview/{file_name}", preview),
        Route("/thumbnail/{file_name}", thumbnail),
        Route("/files/{area}/{file_name}", put_file, methods=["PUT"]),
        *vospace.routes(),
        *portal.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(RequestLimits, max_body_bytes=LIMITS.body_bytes,
                                           max_form_bytes=2 * LIMITS.query_bytes + 65_536,
                                           # VOSpace uploads: the quotas bound them
                                           unbounded_puts=("/vospace/files/",)),
                                Middleware(Authentication)],
                    exception_handlers={PoolTimeout: busy, psycopg.OperationalError: unavailable,
                                        AuthenticationFailed: authentication_failed})
    app.state.pool = pool
    app.state.read_servers = read_servers
    app.state.stream_pool = stream_pool
    app.state.job_pool = job_pool
    app.state.streams = {}  # client address -> streaming queries it has open
    app.state.public_url = load_settings().public_url
    app.state.storage_dir = load_settings().storage_dir  # async results live there too
    app.state.database_url = url
    return app
