"""The service's connection pool."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def _configure(conn) -> None:
    """pgsphere writes geometry in degrees on these connections (DALI values are degrees)."""
    await conn.execute("SELECT set_sphere_output('DEG')")


def make_pool(url: str, max_size: int = 10) -> AsyncConnectionPool:
    """A pool opened by the app's lifespan; connections are autocommit, queries are one-liners
    that call SQL functions."""
    return AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                               configure=_configure,
                               kwargs={"autocommit": True, "application_name": "hstvo-serve"})
