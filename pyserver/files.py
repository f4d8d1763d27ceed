"""/files: the archive's files over HTTP.

    GET /files/HST/{file_name}         a science file, as ingested (Range requests, ETag; a
                                       file kept gzipped travels with Content-Encoding: gzip)
    GET /files/reference/{file_name}   a registered reference file
    PUT /files/HST/{file_name}         a new file (a recalibrated product from a worker), kept
                                       under HSTVO_STORAGE; needs `Authorization: Bearer
                                       <token>`: HSTVO_TOKEN, or the files_write_token
                                       setting in the database (which workers read too). Answers with the stored path, which the
                                       worker's ingest records (hst.archive_file.path).

Where each file lies is the database's knowledge (hstvo.file_path, sql/75_archive_files.sql).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from hstvo.config import PROJECT_ROOT, load_settings

from .auth import write_authorized, write_refused
from .identity import caller_of, forbidden, reading, unauthorized
from .vosi import base_url

log = logging.getLogger("hstvo.files")

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
AREAS = {"HST", "reference"}


async def inside_file_roots(conn, path: str | None) -> str | None:
    """The real path of a file the archive records, when it is a file inside one of the file
    roots (hstvo.file_root, or the storage directory); None otherwise. Symbolic links and `..`
    are resolved first, so neither leads out of a root. A relative path (recorded before paths
    were absolute) is taken from the project directory, where `make run` serves."""
    if not path:
        return None
    real = os.path.realpath(Path(PROJECT_ROOT, path))
    storage = os.path.realpath(load_settings().storage_dir).rstrip("/") + "/"
    if not real.startswith(storage):
        # (the roots are looked up by the real path's directories: an archive holds many)
        inside = (await (await conn.execute("SELECT hstvo.in_file_root(%s)", (real,))).fetchone())[0]
        if not inside:
            log.warning("not serving %s: outside the file roots (hstvo.file_root)", path)
            return None
    return real if os.path.isfile(real) else None


def refused(request: Request, message: str) -> Response:
    """Proprietary data: 401 (with the ways to log in) for anonymous, 403 for an
    authenticated caller outside the data's groups."""
    if caller_of(request).name is None:
        return unauthorized(base_url(request), message + ": authenticate as a member of its "
                            "groups", invalid=False)
    return forbidden(message + ": you are not a member of its groups")


async def get_file(request: Request) -> Response:
    """GET /files/{area}/{file_name}."""
    area, name = request.path_params["area"], request.path_params["file_name"]
    if area not in AREAS or not SAFE_NAME.match(name):
        return PlainTextResponse(f"no file {area}/{name}\n", status_code=404)
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT hstvo.file_access(%s, %s), hstvo.file_path(%s, %s),"
                                    " hstvo.file_checksum(%s, %s)", (area, name) * 3)
        access, path, checksum = await cursor.fetchone()
        path = await inside_file_roots(conn, path) if access else None
    if path is None:  # no such file, or one the caller may not know of: the same answer
        return PlainTextResponse(f"no file {area}/{name}\n", status_code=404)
    if access == "denied":
        return refused(request, f"{area}/{name} is proprietary")
    headers = {"ETag": f'"{checksum}"'} if checksum else {}
    if path.endswith(".gz") and not name.endswith(".gz"):
        # kept gzipped: the FITS file travels compressed, and HTTP clients unpack it
        headers["Content-Encoding"] = "gzip"
    # FileResponse answers Range requests (206, multipart for several ranges)
    return FileResponse(path, media_type="application/fits", headers=headers, filename=name)


async def put_file(request: Request) -> Response:
    """PUT /files/HST/{file_name}: store a file (written whole, then renamed: never half a file)."""
    if not await write_authorized(request):
        return write_refused(request)
    settings = load_settings()
    area, name = request.path_params["area"], request.path_params["file_name"]
    if area != "HST" or not SAFE_NAME.match(name):
        return PlainTextResponse(f"cannot write {area}/{name}\n", status_code=400)
    directory = settings.storage_dir / area
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{name}.", delete=False) as part:
        async for chunk in request.stream():
            digest.update(chunk)
            part.write(chunk)
    target = directory / name
    os.replace(part.name, target)
    return JSONResponse({"path": str(target), "md5": digest.hexdigest()}, status_code=201)
