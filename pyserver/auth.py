"""Who may write: the bearer token of /files PUTs (workers' products) and of /caom2repo writes.

The token is HSTVO_TOKEN, or else the database's setting files_write_token (the one workers
read, so that a worker VM needs only DATABASE_URL). The access-control issue replaces this with
real identities.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from hstvo.config import load_settings


async def write_authorized(request: Request) -> bool:
    """Does the request carry the write token (Authorization: Bearer <token>)?"""
    token = load_settings().write_token
    if not token:
        async with request.app.state.pool.connection() as conn:
            cursor = await conn.execute("SELECT hstvo.setting('files_write_token')")
            token = (await cursor.fetchone())[0]
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def unauthorized() -> Response:
    """The answer to a write without the token (RFC 6750)."""
    return PlainTextResponse("writing needs Authorization: Bearer <token>\n", status_code=401,
                             headers={"WWW-Authenticate": "Bearer"})
