"""The IVOA Group Membership Service 1.0 at /gms: which groups the caller belongs to.

    GET /gms/search                  the caller's groups, one name per line (text/plain)
    GET /gms/search?group=A&group=B  of those named, the ones the caller belongs to
    GET /gms/search?role=R[&groupID=G]  CADC's search: the groups where the caller is a
                                     member, owner or admin, as a <groups> document
    GET /gms/capabilities            VOSI

Membership counts through nested groups (auth.memberships, sql/90_auth_identities.sql).
A group is named as its identifier's query part (ivo://<authority>/gms?NAME): the
parameter takes the name or the whole identifier. Anonymous callers are asked to authenticate.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import psycopg

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..identity import acting, resolved, security_methods_xml, unauthorized
from ..vosi import base_url
from .group_xml import group_authority, write_groups

SEARCH_STANDARD = "ivo://ivoa.net/std/GMS#search-1.0"


async def search(request: Request) -> Response:
    """GET /gms/search."""
    caller = await resolved(request)
    if caller.name is None:
        return unauthorized(base_url(request), "the groups of whom? authenticate to ask for "
                            "your own", invalid=False)
    if "role" in request.query_params:
        return await _search_by_role(request)
    asked = request.query_params.getlist("group")
    async with request.app.state.pool.connection() as conn:
        cursor = await conn.execute("SELECT auth.memberships(%s, %s)", (caller.name, asked))
        names = [name for (name,) in await cursor.fetchall()]
    return PlainTextResponse("".join(f"{name}\n" for name in names))


async def _search_by_role(request: Request) -> Response:
    """CADC's search (cadcutils GroupsClient.get_membership): the groups where the caller has
    the role, as a <groups> document."""
    asked = request.query_params.getlist("groupID")
    async with acting(request) as conn:
        try:
            cursor = await conn.execute(
                "SELECT array(SELECT auth.gms_groups_with_role(%s, %s)), "
                "hstvo.setting('publisher_authority')", (request.query_params["role"], asked))
        except psycopg.Error as exc:
            if exc.sqlstate != "AU013":
                raise
            return PlainTextResponse(f"{exc.diag.message_primary}\n", status_code=400)
        names, authority = await cursor.fetchone()
    groups_base = group_authority(authority, request.headers.get("user-agent", ""))
    return Response(write_groups(names, groups_base), media_type="application/xml")


async def capabilities(request: Request) -> Response:
    """GET /gms/capabilities."""
    base = escape(base_url(request) + "/gms")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<vosi:capabilities '
            'xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1">'
            f'<capability standardID="ivo://ivoa.net/std/VOSI#capabilities"><interface '
            f'xsi:type="vs:ParamHTTP"><accessURL use="full">{base}/capabilities</accessURL>'
            f'</interface></capability>'
            f'<capability standardID="{SEARCH_STANDARD}"><interface xsi:type="vs:ParamHTTP" '
            f'role="std"><accessURL use="base">{base}/search</accessURL>'
            f'{security_methods_xml(token=True)}</interface></capability></vosi:capabilities>\n')
    return Response(body, media_type="text/xml")
