"""/gms/groups: group management in the protocol of CADC's group service.

    GET    /gms/groups                             the groups the caller may read (text/plain)
    PUT    /gms/groups                             create the group a document describes
    GET    /gms/groups/NAME                        the group's document
    POST   /gms/groups/NAME                        change it to what a document says
    DELETE /gms/groups/NAME                        remove it (its owner only)
    PUT    /gms/groups/NAME/userMembers/ID?idType=HTTP|X500    add a user
    DELETE /gms/groups/NAME/userMembers/ID?idType=HTTP|X500    remove a user
    PUT    /gms/groups/NAME/groupMembers/NAME2     add a group
    DELETE /gms/groups/NAME/groupMembers/NAME2     remove a group

The documents are CADC's (group_xml.py). Everything is decided by the auth.gms_* functions
of sql/95_auth_group_management.sql, acting as the request's signed identity: owners and
administrators change a group, its owner removes it, members read it. Anonymous callers are
asked to authenticate (401); others who may not are refused (403).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..identity import acting, caller_of, forbidden, unauthorized
from ..vosi import base_url
from .group_xml import (DocumentError, group_authority, group_name_of, read_group, write_group)

log = logging.getLogger("hstvo.gms")

XML = "application/xml"
# SQLSTATEs of sql/95_auth_group_management.sql and sql/90_auth_identities.sql -> HTTP status
STATUS_BY_STATE = {"AU002": 404, "AU003": 404, "AU012": 404, "AU010": 403, "AU011": 409,
                   "AU001": 409, "AU013": 400}
MAX_DOCUMENT_BYTES = 1_000_000


class Refused(Exception):
    """The database refused the change or the read: `status` and the words to say."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def collection(request: Request) -> Response:
    """GET lists the groups the caller may read; PUT creates one."""
    if request.method == "PUT":
        return await _answer(request, _create)
    return await _answer(request, _list, anonymous_allowed=True)


async def group(request: Request) -> Response:
    """GET, POST (change) or DELETE one group."""
    handler = {"GET": _read, "POST": _update, "DELETE": _delete}[request.method]
    return await _answer(request, handler, anonymous_allowed=request.method == "GET")


async def user_member(request: Request) -> Response:
    """PUT or DELETE a user member."""
    id_type = request.query_params.get("idType", "HTTP")
    return await _answer(request, lambda conn, request: _member(conn, request, "user", id_type))


async def group_member(request: Request) -> Response:
    """PUT or DELETE a group member."""
    return await _answer(request, lambda conn, request: _member(conn, request, "group", None))


async def _answer(request: Request, handler, anonymous_allowed: bool = False) -> Response:
    """Run `handler(conn, request)` as the request's caller, its refusals as HTTP statuses."""
    if caller_of(request).anonymous and not anonymous_allowed:
        return _ask_to_authenticate(request)
    try:
        async with acting(request) as conn:
            return await handler(conn, request)
    except DocumentError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400)
    except psycopg.Error as exc:
        status = STATUS_BY_STATE.get(exc.sqlstate or "")
        if status is None:
            raise
        if status == 403 and caller_of(request).name is None:
            return _ask_to_authenticate(request)
        message = exc.diag.message_primary
        log.info("%s %s refused (%s): %s", request.method, request.url.path, status, message)
        return forbidden(message) if status == 403 else \
            PlainTextResponse(f"{message}\n", status_code=status)


def _ask_to_authenticate(request: Request) -> Response:
    return unauthorized(base_url(request), "managing groups needs an authenticated user: "
                        "Authorization: Bearer <token> (hstvo token create)", invalid=False)


async def _authority(conn: psycopg.AsyncConnection) -> str:
    cursor = await conn.execute("SELECT hstvo.setting('publisher_authority')")
    return (await cursor.fetchone())[0]


async def _document_of(conn: psycopg.AsyncConnection, request: Request, name: str,
                       status: int = 200) -> Response:
    """The group's document, in the URIs the client reads."""
    cursor = await conn.execute("SELECT auth.gms_group(%s), hstvo.setting('publisher_authority')",
                                (name,))
    found, authority = await cursor.fetchone()
    groups_base = group_authority(authority, request.headers.get("user-agent", ""))
    headers = {"Location": f"{base_url(request)}/gms/groups/{name}"} if status == 201 else None
    return Response(write_group(found, authority, groups_base), status_code=status,
                    media_type=XML, headers=headers)


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"a group document is at most {MAX_DOCUMENT_BYTES} bytes")
    if not body.strip():
        raise DocumentError("the request has no group document")
    return body


async def _list(conn: psycopg.AsyncConnection, request: Request) -> Response:
    cursor = await conn.execute("SELECT auth.gms_readable_groups()")
    return PlainTextResponse("".join(f"{name}\n" for (name,) in await cursor.fetchall()))


async def _create(conn: psycopg.AsyncConnection, request: Request) -> Response:
    document = read_group(await _body(request), await _authority(conn))
    await conn.execute("SELECT auth.gms_create_group(%s, %s, %s)",
                       (document.name, document.description, Jsonb(document.members)))
    log.info("group %s created by %s", document.name, caller_of(request).name)
    return await _document_of(conn, request, document.name, status=201)


async def _read(conn: psycopg.AsyncConnection, request: Request) -> Response:
    return await _document_of(conn, request, request.path_params["name"])


async def _update(conn: psycopg.AsyncConnection, request: Request) -> Response:
    name = request.path_params["name"]
    document = read_group(await _body(request), await _authority(conn))
    if document.name != name:
        raise DocumentError(f"the document describes group {document.name}, not {name}")
    await conn.execute("SELECT auth.gms_update_group(%s, %s, %s)",
                       (name, document.description, Jsonb(document.members)))
    log.info("group %s changed by %s", name, caller_of(request).name)
    return await _document_of(conn, request, name)


async def _delete(conn: psycopg.AsyncConnection, request: Request) -> Response:
    name = request.path_params["name"]
    await conn.execute("SELECT auth.gms_delete_group(%s)", (name,))
    log.info("group %s removed by %s", name, caller_of(request).name)
    return PlainTextResponse(f"group {name} removed\n")


async def _member(conn: psycopg.AsyncConnection, request: Request, kind: str,
                  id_type: str | None) -> Response:
    """Add (PUT) or remove (DELETE) one member."""
    parent, member = await _member_pair(conn, request, kind)
    adding = request.method == "PUT"
    statement = ("SELECT auth.gms_add_member(%s, %s, %s, %s)" if adding
                 else "SELECT auth.gms_remove_member(%s, %s, %s, %s)")
    await conn.execute(statement, (parent, kind, id_type, member))
    log.info("%s %s %s group %s by %s", kind, member, "added to" if adding else "removed from",
             parent, caller_of(request).name)
    return PlainTextResponse(f"{member} {'is' if adding else 'is no longer'} a member of {parent}\n")


async def _member_pair(conn: psycopg.AsyncConnection, request: Request,
                       kind: str) -> tuple[str, str]:
    """(group, member) a member request names. The path says it: groups/GROUP/…/MEMBER. For
    a group member, CADC's client also sends groupID (the group) and groupID2 (the member),
    and when removing one it puts the two in the path the wrong way round (cadcutils 1.6,
    GroupsClient.remove_group_member): its parameters are right, so they decide."""
    parent, member = request.path_params["name"], request.path_params["member"]
    if kind == "group":
        named = request.query_params.get("groupID"), request.query_params.get("groupID2")
        if all(named):
            authority = await _authority(conn)
            parent, member = (group_name_of(n, authority) if "?" in n else n for n in named)
    return parent, member
