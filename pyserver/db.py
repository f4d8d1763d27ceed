"""The service's connection pool."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


def make_pool(url: str, max_size: int = 10) -> AsyncConnectionPool:
    """A pool opened by the app's lifespan; connections are autocommit, queries are one-liners
    that call SQL functions."""
    return AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                               kwargs={"autocommit": True, "application_name": "hstvo-serve"})
