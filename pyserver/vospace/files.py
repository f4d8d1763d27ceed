"""/vospace/files: the bytes of data nodes, where transfers send clients.

    GET|HEAD /vospace/files/PATH     the node's bytes (Range requests answered); Digest: md5=...
    PUT      /vospace/files/PATH     new bytes for the node (made if it is new)

A PUT is written to a file of its own while its MD5 is computed; the node points at it only
once it is complete (its Content-Length reached) and its MD5 is what the client said it would
be (a Digest or Content-MD5 header: 412 otherwise, which CADC's client answers by sending
again). A quota, a permission or a container missing is refused before a byte is read. The
answer carries the MD5 the service computed, which CADC's client compares with its own.

CADC's client opens uploads of 5 GiB and more with an empty PUT asking for a transaction
(x-put-txn-op: start); this service has none, says so by answering without a transaction id,
and the client then sends the file in one PUT.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import mimetypes
from pathlib import Path

from psycopg.types.json import Jsonb

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from .faults import Fault, as_caller, call, handles_faults
from .nodes import node_path
from .storage import TooLong, file_of, receive, remove, storage_root

log = logging.getLogger("hstvo.vospace")

REFERENCE_TREE = "hst-refer"  # vospace.reference_tree()


def _digest(md5_hex: str | None) -> dict[str, str]:
    """The Digest header (RFC 3230) of an MD5, as CADC's services send it."""
    if not md5_hex:
        return {}
    return {"Digest": "md5=" + base64.b64encode(bytes.fromhex(md5_hex)).decode()}


def _client_md5(request: Request) -> str | None:
    """The MD5 the client says its body has (Digest: md5=<base64>, or Content-MD5)."""
    value = None
    for part in request.headers.get("digest", "").split(","):
        algorithm, _, encoded = part.strip().partition("=")
        if algorithm.lower() == "md5":
            value = encoded
    value = value or request.headers.get("content-md5")
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Fault(400, f"InvalidArgument: the MD5 {value!r} is not base64") from None
    if len(raw) != 16:
        raise Fault(400, f"InvalidArgument: the MD5 {value!r} is not 16 bytes")
    return raw.hex()


def _announced_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise Fault(400, f"InvalidArgument: Content-Length {value!r}")
    return int(value)


def is_reference_file(path: str) -> bool:
    """Is `path` a file of the reference tree, /hst-refer/<prefix>/<file>
    (sql/99_vospace_reference_files.sql)?"""
    names = path.strip("/").split("/")
    return len(names) == 3 and names[0] == REFERENCE_TREE


def _primary_header(stored: Path) -> dict[str, str]:
    """The primary header of a stored FITS file, keyword -> value as text."""
    from astropy.io import fits

    try:
        header = fits.getheader(stored)
    except Exception as exc:  # whatever astropy finds wrong with it: not a FITS file for us
        raise Fault(400, f"InvalidArgument: a reference file is a FITS file; this one is not "
                         f"({type(exc).__name__})") from None
    return {key: str(value) for key, value in header.items() if key}


async def _register_reference(conn, path: str, key: str, received, content_type: str | None,
                              stored: Path) -> str | None:
    """Point the node at its bytes and register the reference file they are, enqueueing the
    recalibrations it causes, in the request's transaction; the file the node had before."""
    header = await asyncio.to_thread(_primary_header, stored)
    cursor = await conn.execute(
        "SELECT * FROM vospace.reference_upload(%s, %s, %s, %s, %s, %s)",
        (path, key, received.length, received.md5, content_type, Jsonb(header)))
    queued = await cursor.fetchall()
    log.info("reference file %s registered: %d datasets queued for recalibration", path,
             sum(row[3] for row in queued))
    return queued[0][0] if queued else None


@handles_faults
async def data(request: Request) -> Response:
    """GET, HEAD or PUT a data node's bytes."""
    path = node_path(request)
    if request.method == "PUT":
        return await _put(request, path)
    async with as_caller(request) as conn:
        found = await call(conn, "download", path)
    if "redirect" in found:  # a link to a web address: the archive's files among them
        return RedirectResponse(found["redirect"], status_code=303)
    headers = {"Content-Disposition": f'inline; filename="{found["name"]}"', **_digest(found["md5"])}
    media = found["content_type"] or mimetypes.guess_type(found["name"])[0] or "application/octet-stream"
    if not found["storage"]:  # a node made empty
        return Response(b"", media_type=media, headers=headers)
    stored = file_of(storage_root(request.app.state.storage_dir), found["storage"])
    if not stored.is_file():
        log.error("%s: its file %s is missing (hstvo vos fsck)", path, found["storage"])
        raise Fault(500, f"InternalFault: the bytes of {path} are missing; the operators are told")
    return FileResponse(stored, media_type=media, headers=headers)


async def _put(request: Request, path: str) -> Response:
    announced = _announced_length(request)
    if announced == 0 and request.headers.get("x-put-txn-op"):
        # a transaction asked for (CADC's client, files of 5 GiB and more): none here
        return Response(status_code=200)
    content_type = request.headers.get("content-type")
    if not content_type or content_type.startswith("application/x-www-form-urlencoded"):
        content_type = mimetypes.guess_type(path)[0]
    try:
        received = await store_upload(request, path, request.stream(), announced,
                                      _client_md5(request), content_type)
    except ClientDisconnect:
        log.info("PUT %s: the client left before the end; nothing kept", path)
        raise Fault(400, f"InvalidArgument: the upload of {path} was cut off; nothing was kept") from None
    log.info("PUT %s: %d bytes, MD5 %s", path, received.length, received.md5)
    return Response(status_code=201, headers=_digest(received.md5))


async def store_upload(request: Request, path: str, chunks, announced: int | None,
                       expected_md5: str | None, content_type: str | None):
    """Make `chunks` the bytes of data node `path`, as the request's caller: into a file of
    its own first, then, in one transaction, the node points at it (a reference file is
    registered too). Anything short of that keeps nothing. Returns what was received."""
    root = storage_root(request.app.state.storage_dir)
    async with as_caller(request) as conn:
        key = await call(conn, "begin_upload", path, announced)
    target = file_of(root, key)
    try:
        received = await receive(chunks, target, announced)
    except TooLong as exc:
        raise Fault(400, f"InvalidArgument: {exc}") from None
    try:
        if announced is not None and received.length != announced:
            raise Fault(400, f"InvalidArgument: {received.length} bytes came of the {announced} "
                             f"announced; nothing was kept")
        if expected_md5 is not None and expected_md5 != received.md5:
            raise Fault(412, f"InvalidArgument: the bytes received have MD5 {received.md5}, "
                             f"not {expected_md5}; nothing was kept")
        async with as_caller(request) as conn:
            if is_reference_file(path):
                previous = await _register_reference(conn, path, key, received, content_type,
                                                     target)
            else:
                previous = await call(conn, "finish_upload", path, key, received.length,
                                      received.md5, content_type)
    except BaseException:
        remove(root, [key])
        raise
    remove(root, [previous] if previous else [])
    return received
