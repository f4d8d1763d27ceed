"""Who may write: members of the writers group (the setting writers_group, `hstvo-writers` by
default, directly or through nested groups; auth.may_write in sql/93_auth_writers.sql). The
repository service's PUT/POST/DELETE and the workers' product uploads to /files ask it; the
caller is whoever pyserver/identity.py authenticated. A worker VM has its own account, whose
token the database keeps in the setting files_write_token (hstvo accounts bootstrap).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .identity import caller_of, forbidden, resolved, unauthorized
from .vosi import base_url


async def write_authorized(request: Request) -> bool:
    """May the request's caller write (a member of the writers group)?"""
    caller = await resolved(request)
    if caller.name is None:
        return False
    async with request.app.state.pool.connection() as conn:
        cursor = await conn.execute("SELECT auth.may_write(%s)", (caller.name,))
        return bool((await cursor.fetchone())[0])


def write_refused(request: Request) -> Response:
    """401 with the ways to authenticate for anonymous; 403 for a caller who may not write."""
    if caller_of(request).name is None:
        return unauthorized(base_url(request), "writing needs a member of the writers group: "
                            "authenticate (Authorization: Bearer <token>)", invalid=False)
    return forbidden(f"{caller_of(request).name} may not write here: not a member of the "
                     "writers group")
