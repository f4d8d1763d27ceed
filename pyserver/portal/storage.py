"""/storage: the VOSpace as folders in a browser. The same SQL functions as the VOSpace service
(sql/96_vospace_nodes.sql, sql/97_vospace_transfers.sql) decide, as the logged-in caller, and an
upload goes through the service's own path (pyserver/vospace/files.store_upload): a file of its
own, then the node, in one transaction; a refused or cut-off upload keeps nothing.

    GET  /storage/{path}     a folder: name, size, last modified, rights; or a file's details
    POST /storage/{path}     action = upload (file), folder (name), link (name, target),
                             move (name, destination), delete (name),
                             rights (name, public, groupread, groupwrite)
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from urllib.parse import quote, urlencode

from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..identity import caller_of
from ..vospace.faults import Fault, as_caller, call, rows
from ..vospace.files import store_upload
from ..vospace.storage import remove, storage_root
from . import same_origin, templates

log = logging.getLogger("hstvo.portal")

CORE = "ivo://ivoa.net/vospace/core#"
PAGE = 500  # children listed at once
CHUNK = 1 << 20


def _clean(path: str) -> str:
    """'/' + the path's names (a name of '.' or '..' is the service's to refuse)."""
    return "/" + "/".join(part for part in path.split("/") if part)


def _child(path: str, name: str) -> str:
    if not name or "/" in name:
        raise Fault(400, f"InvalidArgument: {name!r} is not a name (no slashes)")
    return _clean(f"{path}/{name}")


def _size(length: str | None) -> str:
    if length is None:
        return ""
    value = float(length)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return ""


def _entry(node: dict) -> dict:
    props = node.get("properties", {})
    groups = lambda key: " ".join(g.rsplit("?", 1)[-1] for g in (props.get(CORE + key) or "").split())
    return {"name": node["path"].rsplit("/", 1)[-1] or "/", "path": node["path"], "uri": node.get("uri"),
            "kind": node["kind"], "target": node.get("target"),
            "size": _size(props.get(CORE + "length")) if node["kind"] != "link" else "",
            "modified": (props.get(CORE + "date") or "")[:19].replace("T", " "),
            "public": props.get(CORE + "ispublic") == "true",
            "groupread": groups("groupread"), "groupwrite": groups("groupwrite"),
            "owner": props.get(CORE + "creator", "")}


def _crumbs(path: str) -> list[tuple[str, str]]:
    names = [n for n in path.split("/") if n]
    return [("/", "/storage/")] + [(name, "/storage/" + quote("/".join(names[:i + 1])))
                                    for i, name in enumerate(names)]


async def browse(request: Request) -> Response:
    """GET /storage/{path}: a folder's listing (a file's details); POST: change it."""
    path = _clean(request.path_params.get("path", ""))
    if path == "/" and not request.query_params and caller_of(request).name:
        return RedirectResponse(f"/storage/home/{quote(caller_of(request).name)}", status_code=303)
    message = request.query_params.get("message")
    if request.method == "POST":
        try:
            message = await _change(request, path)
            return RedirectResponse(f"/storage{quote(path)}?" + urlencode({"message": message}),
                                    status_code=303)
        except Fault as fault:
            message = fault.message.split(": ", 1)[-1]
    try:
        async with as_caller(request) as conn:
            node = await call(conn, "read_node", path)
            children = await rows(conn, "children", path, None, PAGE, None, False) \
                if node["kind"] == "container" else []
            cursor = await conn.execute("SELECT * FROM vospace.caller_rights(%s)", (path,))
            may_write, may_change_rights = await cursor.fetchone()
    except Fault as fault:
        if fault.status == 401 or (fault.status in (403, 404) and caller_of(request).anonymous):
            return RedirectResponse(f"/login?{urlencode({'next': '/storage' + path})}", status_code=303)
        return templates.TemplateResponse(request, "message.html", {
            "section": "storage", "title": "Not here",
            "message": fault.message.split(": ", 1)[-1]}, status_code=fault.status)
    return templates.TemplateResponse(request, "storage.html", {
        "section": "storage", "path": path, "node": _entry(node), "crumbs": _crumbs(path),
        "entries": [_entry(child) for child in children], "more": len(children) == PAGE,
        "may_write": may_write, "may_change_rights": may_change_rights, "message": message,
        "quote": quote}, status_code=400 if request.method == "POST" else 200)


async def _change(request: Request, path: str) -> str:
    """Carry out the form's action in folder `path`; what was done (a Fault: why not)."""
    if not same_origin(request):
        raise Fault(403, "PermissionDenied: this form was sent from another site")
    form = await request.form()
    action = str(form.get("action", ""))
    name = str(form.get("name", "")).strip()
    if action == "upload":
        upload = form.get("file")
        if upload is None or not getattr(upload, "filename", ""):
            raise Fault(400, "InvalidArgument: choose a file to upload")
        target = _child(path, upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])

        async def chunks():
            while chunk := await upload.read(CHUNK):
                yield chunk

        content_type = upload.content_type if upload.content_type not in (
            None, "", "application/octet-stream") else mimetypes.guess_type(target)[0]
        received = await store_upload(request, target, chunks(), upload.size, None, content_type)
        log.info("portal upload %s: %d bytes by %s", target, received.length, caller_of(request).name)
        return f"{target.rsplit('/', 1)[-1]} uploaded ({_size(str(received.length))})"
    async with as_caller(request) as conn:
        if action == "folder":
            await call(conn, "create_node", _child(path, name), "container", Jsonb({}), None)
            return f"folder {name} made"
        if action == "link":
            target = str(form.get("target", "")).strip()
            if target.startswith("/"):
                target = await call(conn, "uri", target)
            await call(conn, "create_node", _child(path, name), "link", Jsonb({}), target)
            return f"link {name} made"
        if action == "move":
            destination = _clean(str(form.get("destination", "")))
            await call(conn, "move_node", _child(path, name), destination)
            return f"{name} moved to {destination}"
        if action == "delete":
            unused = await rows(conn, "delete_node", _child(path, name))
        elif action == "rights":
            props = {CORE + "ispublic": "true" if form.get("public") == "on" else "false"}
            for key in ("groupread", "groupwrite"):  # names, or URIs: their names
                names = [g.rsplit("?", 1)[-1] for g in str(form.get(key, "")).replace(",", " ").split()]
                props[CORE + key] = await call(conn, "group_uris", names) or ""
            await call(conn, "set_properties", _child(path, name) if name else path, Jsonb(props))
            return f"the rights of {name or path} are changed"
        else:
            raise Fault(400, f"InvalidArgument: unknown action {action!r}")
    # committed: the files no node points at any more go (the service's DELETE does the same)
    await asyncio.to_thread(remove, storage_root(request.app.state.storage_dir), unused)
    return f"{name} deleted"
