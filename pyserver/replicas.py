"""Reads on hot standbys (HSTVO_READ_URLS), writes on the primary.

TAP (sync and async), DataLink, SODA and MOC read; ingest, the harvest, the queue, the
repository service's writes and UWS bookkeeping write. With HSTVO_READ_URLS set to the
standbys' URLs (comma-separated; PostgreSQL streaming replicas of DATABASE_URL, such as
`hstvo db replica add` makes), each read request goes to one standby in turn, with a set of
pools per standby. A standby that fails, or whose replay lags more than HSTVO_READ_MAX_LAG
seconds behind the primary, is taken out of rotation, and put back once a check (every
CHECK_SECONDS) finds it answering and current again. With no standby in rotation, reads go to
the primary.

A read that fails on a standby because the standby went away (a connection error, or no
connection to be had) is run again on the next server: a request is not lost to a standby
stopping. Each response names the server that answered (the X-Hstvo-Database header), and
/tap/availability lists the standbys with their lag.

Nothing in a read's path writes, so a standby serves every read a primary does, access rules
included (sql/91_auth_session.sql: the caller's identity is a signed setting, not a row).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from .db import make_pool

log = logging.getLogger("hstvo.replicas")

CHECK_SECONDS = 2.0
STANDBY_WAIT_SECONDS = 2.0  # a standby's pool that has no connection to give within this: next
HEADER = "X-Hstvo-Database"


def read_urls() -> list[str]:
    """HSTVO_READ_URLS: the standbys' libpq URLs."""
    return [u.strip() for u in os.environ.get("HSTVO_READ_URLS", "").split(",") if u.strip()]


def max_lag_seconds() -> float:
    """HSTVO_READ_MAX_LAG: how far behind the primary a standby may be and still serve reads."""
    return float(os.environ.get("HSTVO_READ_MAX_LAG", "30"))


def server_name(url: str) -> str:
    """How a server is named in logs and headers: host:port/database."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


@dataclass
class ReadServer:
    """A server reads may go to, with its pools (short requests, streams, async jobs)."""

    name: str
    url: str | None  # None: the primary, whose pools are the app's own
    pools: dict[str, AsyncConnectionPool] = field(default_factory=dict)
    in_rotation: bool = False
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    problem: str | None = "not checked yet"

    @property
    def primary(self) -> bool:
        return self.url is None


class ReadServers:
    """The standbys and the primary; which one a read goes to."""

    def __init__(self, primary_pools: dict[str, AsyncConnectionPool], urls: list[str],
                 sizes: dict[str, int]) -> None:
        self.primary = ReadServer("primary", None, dict(primary_pools), in_rotation=True,
                                  problem=None)
        self.standbys = [ReadServer(server_name(url), url) for url in urls]
        self.sizes = sizes
        self._turn = itertools.count()

    # --- choosing -----------------------------------------------------------------------
    def candidates(self) -> list[ReadServer]:
        """The standbys in rotation, starting with the next one's turn; the primary last."""
        ready = [s for s in self.standbys if s.in_rotation]
        if ready:
            start = next(self._turn) % len(ready)
            ready = ready[start:] + ready[:start]
        return ready + [self.primary]

    def take_out(self, server: ReadServer, problem: str) -> None:
        if server.primary:
            return
        server.problem = problem
        if not server.in_rotation:
            return
        server.in_rotation = False
        log.warning("standby %s out of rotation: %s", server.name, problem)
        pools, server.pools = server.pools, {}
        for pool in pools.values():
            asyncio.get_running_loop().create_task(pool.close(timeout=1))

    async def put_back(self, server: ReadServer) -> None:
        server.pools = {kind: make_pool(server.url, max_size=size, name=f"hstvo-read-{kind}",
                                        timeout=STANDBY_WAIT_SECONDS)
                        for kind, size in self.sizes.items()}
        for pool in server.pools.values():
            await pool.open(wait=False)
        server.in_rotation = True
        server.problem = None
        log.info("standby %s in rotation (%s bytes, %.3f s behind)", server.name,
                 server.lag_bytes, server.lag_seconds or 0.0)

    # --- checking -----------------------------------------------------------------------
    async def check(self) -> None:
        """Measure each standby's lag behind the primary; rotate them in or out."""
        primary_lsn = None
        with contextlib.suppress(Exception):
            async with self.primary.pools["short"].connection(timeout=2) as conn:
                primary_lsn = (await (await conn.execute(
                    "SELECT hstvo.wal_position()")).fetchone())[0]
        for server in self.standbys:
            try:
                await self._measure(server, primary_lsn)
            except Exception as exc:  # unreachable, or not a server at all
                server.lag_bytes = server.lag_seconds = None
                self.take_out(server, f"does not answer: {type(exc).__name__}: {exc}".strip()[:300])
                continue
            limit = max_lag_seconds()
            if server.lag_seconds is not None and server.lag_seconds > limit:
                self.take_out(server, f"{server.lag_seconds:.1f} s behind the primary "
                                      f"(HSTVO_READ_MAX_LAG is {limit:g})")
            elif not server.in_rotation:
                await self.put_back(server)

    async def _measure(self, server: ReadServer, primary_lsn) -> None:
        async with await psycopg.AsyncConnection.connect(server.url, autocommit=True,
                                                         connect_timeout=2) as conn:
            replayed, behind = await (await conn.execute(
                "SELECT * FROM hstvo.replay_state()")).fetchone()
            server.lag_seconds = behind
            server.lag_bytes = None
            if primary_lsn is not None and replayed is not None:
                server.lag_bytes = (await (await conn.execute(
                    "SELECT hstvo.wal_distance(%s::pg_lsn, %s::pg_lsn)",
                    (str(primary_lsn), str(replayed)))).fetchone())[0]

    async def watch(self) -> None:
        """Check the standbys now and every CHECK_SECONDS (the app's lifespan runs this)."""
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the watcher die: log and check again
                log.exception("checking the standbys failed")
            await asyncio.sleep(CHECK_SECONDS)

    async def close(self) -> None:
        for server in self.standbys:
            for pool in server.pools.values():
                await pool.close()
            server.pools = {}

    def describe(self) -> list[ReadServer]:
        return list(self.standbys)


def server_gone(exc: BaseException) -> bool:
    """Whether a database error says the server went away (the connection broke, the server
    is shutting down, or a standby cancelled the query to replay the primary's changes), so
    that the read may be run again elsewhere; not a query's own failure or time limit."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    return (isinstance(exc, psycopg.OperationalError) and state is None) \
        or (state or "").startswith(("08", "57P")) or state == "40001"


def on_standby(request: Request) -> bool:
    server = getattr(request.state, "read_server", None)
    return server is not None and not server.primary


def on_primary(request: Request) -> None:
    """This read must run on the primary (it writes: a TAP upload's temporary table)."""
    servers = getattr(request.app.state, "read_servers", None)
    if servers is not None:
        request.state.read_server = servers.primary


def read_pool(request: Request, kind: str = "short") -> AsyncConnectionPool:
    """The pool of the server this read request was given (see `reads`), else the primary's."""
    server = getattr(request.state, "read_server", None)
    if server is None or kind not in server.pools:
        return request.app.state.read_servers.primary.pools[kind]
    return server.pools[kind]


def reads(handler: Callable[[Request], Awaitable[Response]]):
    """An endpoint that only reads: run on a standby in rotation, and again on the next server
    when that standby turns out to be gone before the answer was made."""

    @functools.wraps(handler)
    async def on_a_standby(request: Request) -> Response:
        servers: ReadServers | None = getattr(request.app.state, "read_servers", None)
        if servers is None:
            return await handler(request)
        for server in servers.candidates():
            request.state.read_server = server
            try:
                response = await handler(request)
            except (psycopg.Error, PoolTimeout) as exc:
                if server.primary or not (isinstance(exc, PoolTimeout) or server_gone(exc)):
                    raise
                servers.take_out(server, f"{type(exc).__name__}: {exc}".strip()[:300])
                log.info("%s %s: standby %s failed, trying the next server", request.method,
                         request.url.path, server.name)
                continue
            response.headers[HEADER] = request.state.read_server.name
            return response
        raise AssertionError("the primary is always a candidate")

    return on_a_standby
