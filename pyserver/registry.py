"""GET /reg/resource-caps: the archive's services in CADC's registry format.

cadcutils-based clients (`caom2-repo`, `cadc-tap`, `cadc-data`) resolve an ivo:// resource ID
through a list of `resourceID = capabilities URL` lines. With `--host NAME` they fetch it from
https://NAME/reg/resource-caps, so an archive behind TLS is found with no set-up at all; for a
plain-HTTP archive `hstvo registry` writes the same list into cadcutils' cache (see README).
The rows come from hstvo.registry() (sql/40_service_status.sql).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from .vosi import base_url


async def resource_caps(request: Request) -> PlainTextResponse:
    """The registry list for this archive, as served at request.base_url (or HSTVO_PUBLIC_URL)."""
    async with request.app.state.pool.connection() as conn:
        cursor = await conn.execute("SELECT * FROM hstvo.registry(%s)", (base_url(request),))
        rows = await cursor.fetchall()
    lines = ["# hstvo: resourceID = capabilities URL (CADC registry format)"]
    lines += [f"{resource_id} = {url}" for resource_id, url in rows]
    return PlainTextResponse("\n".join(lines) + "\n")
