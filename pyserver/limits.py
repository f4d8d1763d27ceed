"""Limits every request meets before an endpoint sees it (an ASGI middleware).

- The body is at most HSTVO_TAP_BODY_BYTES (413 otherwise), but for PUTs of files to the
  paths named unbounded (VOSpace uploads, which the quotas bound): a Content-Length above it is
  refused at once, and a chunked body is cut off when it passes it. A url-encoded body holds
  parameters only, and is held to twice the longest query (HSTVO_TAP_QUERY_BYTES) and 64 kB.
- No parameter may hold a NUL character (400): no IVOA protocol has a use for one, and
  PostgreSQL cannot store it in text. Checked in the path, the query string and url-encoded
  form bodies; multipart text fields are checked where they are read (tap_sync.dali_parameters).

Errors are the protocol's document: a DALI VOTable under /tap, /datalink and /soda, plain text
elsewhere.
"""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .votable import votable_error

DALI_PREFIXES = ("/tap", "/datalink", "/soda")
NUL = re.compile(rb"%00|\x00")


def error_response(path: str, message: str, status: int) -> Response:
    """The protocol's error document for `path`."""
    if path.startswith(DALI_PREFIXES):
        return Response(votable_error(message), status_code=status,
                        media_type="application/x-votable+xml")
    return Response(message + "\n", status_code=status, media_type="text/plain")


class RequestLimits:
    """The middleware: body size and NUL characters (see the module's docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_form_bytes: int,
                 unbounded_puts: tuple[str, ...] = ()) -> None:
        self.app, self.max_body_bytes, self.max_form_bytes = app, max_body_bytes, max_form_bytes
        self.unbounded_puts = unbounded_puts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        raw = scope.get("raw_path") or path.encode()
        if NUL.search(raw) or NUL.search(scope.get("query_string", b"")) or "\x00" in path:
            await error_response(path, "a parameter holds a NUL character", 400)(scope, receive, send)
            return
        if scope.get("method") == "PUT" and path.startswith(self.unbounded_puts):
            await self.app(scope, receive, send)  # a file's bytes: its endpoint bounds them
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"").decode("latin-1").strip()
        if length.isdigit() and int(length) > self.max_body_bytes:
            await error_response(path, f"the request body is larger than this service's limit "
                                       f"of {self.max_body_bytes} bytes", 413)(scope, receive, send)
            return
        if headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            # parameters only (files come as multipart): a smaller limit, checked before a
            # large body is parsed on the event loop
            limit = min(self.max_body_bytes, self.max_form_bytes)
            body = await self._read_body(receive, limit)
            if body is None:
                await error_response(path, "the request's parameters are longer than this "
                                           f"service's limit of {limit} bytes", 413)(
                    scope, receive, send)
                return
            if NUL.search(body):
                await error_response(path, "a parameter holds a NUL character", 400)(
                    scope, receive, send)
                return
            receive = _replay(body, receive)
        else:
            receive = self._bounded(receive)
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None when it passes `limit`."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return None
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    def _bounded(self, receive: Receive) -> Receive:
        """`receive` that ends the body (as a disconnect) once it passes the limit."""
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    return {"type": "http.disconnect"}
            return message
        return bounded


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives `body` once, then waits on the real one (for a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay
