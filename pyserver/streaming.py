"""A streamed response with one time limit for the whole of it.

A client that stops reading holds its query's connection and transaction for as long as it
likes unless something ends the response: the time limit covers the request from its start to
its last byte, however slowly it is read. A response cut short (by the limit, or by an error
after the first byte) ends without the closing chunk of its chunked transfer, so the client
knows it is incomplete: a CSV file has no other way to say so.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.responses import StreamingResponse

log = logging.getLogger("hstvo.stream")


class StreamAborted(Exception):
    """The body cannot be finished: the transfer is cut off rather than ended cleanly."""


class TimedStreamingResponse(StreamingResponse):
    """StreamingResponse that is cut off after `seconds` (from the request's start), or when its
    body raises StreamAborted."""

    def __init__(self, content, seconds: float, started: float | None = None, **kw) -> None:
        super().__init__(content, **kw)
        loop = asyncio.get_running_loop()
        self.deadline = (started if started is not None else loop.time()) + seconds

    async def __call__(self, scope, receive, send) -> None:
        try:
            async with asyncio.timeout_at(self.deadline):
                await super().__call__(scope, receive, send)
        except (TimeoutError, StreamAborted) as exc:
            log.warning("response to %s %s cut off: %s", scope.get("method"), scope.get("path"),
                        "time limit reached" if isinstance(exc, TimeoutError) else exc)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:  # its finally clauses return the connection
                await close()
