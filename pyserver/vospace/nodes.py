"""/vospace/nodes: a node's document, and creating, changing and deleting nodes (VOSpace 2.1
section 6.3).

    GET    /vospace/nodes/PATH?detail=min|max|properties&limit=N&uri=CHILD&sort=&order=
    PUT    /vospace/nodes/PATH        createNode: a container, an empty data node or a link
    POST   /vospace/nodes/PATH        setNode: change properties (permissions, #type, tags)
    DELETE /vospace/nodes/PATH        deleteNode: the node and everything under it

A container lists the children the caller may read, by name, from the child `uri` names
(included, as CADC's client expects) for `limit` of them, or all. Every rule is the database's
(sql/96_vospace_nodes.sql); this module reads documents and writes them.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote, urlparse

from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import Response

from .documents import CORE, node_document, read_node
from .faults import Fault, as_caller, call, handles_faults, rows
from .storage import remove, storage_root

log = logging.getLogger("hstvo.vospace")

XML = "text/xml"
DETAILS = ("min", "max", "properties")
SORTS = {CORE + "length": "length", CORE + "date": "date"}


def node_path(request: Request) -> str:
    """The node's path, as the URL names it ('/' for the root)."""
    return "/" + request.path_params.get("path", "").strip("/")


def _listing(request: Request) -> tuple[str, int | None, str | None, str | None, bool]:
    """detail, limit, uri (the child to start from, by name), sort and order of a GET."""
    params = request.query_params
    detail = params.get("detail", "max")
    if detail not in DETAILS:
        raise Fault(400, f"InvalidArgument: detail={detail}: min, max or properties")
    limit = params.get("limit")
    if limit is not None and (not limit.isdigit() or len(limit) > 9):
        raise Fault(400, f"InvalidArgument: limit={limit} is not a count")
    start = params.get("uri")
    start_name = unquote(urlparse(start).path.rstrip("/").rpartition("/")[2]) if start else None
    sort = params.get("sort")
    if sort is not None and sort not in SORTS:
        raise Fault(400, f"InvalidArgument: sort={sort}: {' or '.join(SORTS)}")
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise Fault(400, f"InvalidArgument: order={order}: asc or desc")
    return detail, None if limit is None else int(limit), start_name, SORTS.get(sort), order == "desc"


def _xml(pieces, status: int = 200) -> Response:
    return Response("".join(pieces), status_code=status, media_type=XML)


@handles_faults
async def node(request: Request) -> Response:
    """GET, PUT, POST or DELETE one node."""
    handler = {"GET": _get, "PUT": _create, "POST": _update, "DELETE": _delete}[request.method]
    return await handler(request, node_path(request))


async def _get(request: Request, path: str) -> Response:
    detail, limit, start, sort, descending = _listing(request)
    async with as_caller(request) as conn:
        described = await call(conn, "read_node", path)
        children = []
        if described["kind"] == "container" and limit != 0:
            children = await rows(conn, "children", path, start, limit, sort, descending)
    return _xml(node_document(described, children, detail))


def _same_node(document_uri: str | None, path: str) -> None:
    """A node document for PUT or POST names the node of the URL (or nothing)."""
    if not document_uri:
        return
    named = "/" + unquote(urlparse(document_uri).path).strip("/")
    if named.rstrip("/") != path.rstrip("/"):
        raise Fault(400, f"InvalidURI: the document describes {document_uri}, not {path}")


async def _create(request: Request, path: str) -> Response:
    wanted = read_node(await request.body())
    _same_node(wanted.uri, path)
    async with as_caller(request) as conn:
        created = await call(conn, "create_node", path, wanted.kind, Jsonb(wanted.properties),
                             wanted.target)
    log.info("created %s node %s", wanted.kind, path)
    return _xml(node_document(created, [], "max"), 201)


async def _update(request: Request, path: str) -> Response:
    wanted = read_node(await request.body())
    _same_node(wanted.uri, path)
    async with as_caller(request) as conn:
        changed = await call(conn, "set_properties", path, Jsonb(wanted.properties))
    return _xml(node_document(changed, [], "max"))


async def _delete(request: Request, path: str) -> Response:
    async with as_caller(request) as conn:
        unused = await rows(conn, "delete_node", path)
    # after the commit: a file goes only once no node points at it
    # (a container's thousands of files: unlinked off the event loop)
    await asyncio.to_thread(remove, storage_root(request.app.state.storage_dir), unused)
    log.info("deleted %s (%d files)", path, len(unused))
    return Response(status_code=204)
