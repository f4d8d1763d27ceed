"""The service's connection pools.

Three pools, so that one kind of work cannot starve another: `pool` for short requests
(DataLink, MOC, job bookkeeping, availability), `stream_pool` for /tap/sync queries that stream
their results for as long as the client reads, and `job_pool` for the async job slots. A pool
that stays full for POOL_WAIT_SECONDS makes the request a 503 with Retry-After (app.py).
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

POOL_WAIT_SECONDS = 5.0
# a transaction left idle this long is ended by PostgreSQL (a client that stopped reading,
# a request that was abandoned): its locks and its connection come back
IDLE_IN_TRANSACTION_SECONDS = 120


async def _configure(conn) -> None:
    """pgsphere writes geometry in degrees on these connections (DALI values are degrees)."""
    await conn.execute("SELECT set_sphere_output('DEG')")


def make_pool(url: str, max_size: int = 10, name: str = "hstvo-serve",
              timeout: float = POOL_WAIT_SECONDS) -> AsyncConnectionPool:
    """A pool opened by the app's lifespan; connections are autocommit, queries are one-liners
    that call SQL functions."""
    return AsyncConnectionPool(
        url, min_size=1, max_size=max_size, open=False, configure=_configure,
        timeout=timeout, name=name,
        kwargs={"autocommit": True, "application_name": name,
                "options": f"-c idle_in_transaction_session_timeout="
                           f"{IDLE_IN_TRANSACTION_SECONDS * 1000}"})
