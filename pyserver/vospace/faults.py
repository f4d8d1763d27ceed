"""VOSpace faults (VOSpace 2.1 section 5.5.2): the database raises them, the service says them.

The functions of sql/96_vospace_nodes.sql and sql/97_vospace_transfers.sql raise SQLSTATE
VSnnn, nnn the HTTP status, with a message that begins with the fault's name
("NodeNotFound: /home/alice/x"). The answer is that status and that message as text/plain, as
the standard asks; 401 carries the challenges that say how to authenticate.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import psycopg
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..identity import acting, unauthorized
from ..vosi import base_url

log = logging.getLogger("hstvo.vospace")


class Fault(Exception):
    """A VOSpace fault: the HTTP status and the message (beginning with the fault's name)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def fault_of(exc: psycopg.Error) -> Fault | None:
    """The fault a database error is, when it is one of ours (VSnnn)."""
    state = exc.sqlstate or ""
    if state.startswith("VS") and state[2:].isdigit():
        return Fault(int(state[2:]), exc.diag.message_primary or "InternalFault")
    if state == "22P02":  # a number that is not one (a #quota, say)
        return Fault(400, f"InvalidArgument: {exc.diag.message_primary}")
    return None


def answer(request: Request, fault: Fault) -> Response:
    """The response for a fault."""
    if fault.status == 401:
        return unauthorized(base_url(request), fault.message, invalid=False)
    return PlainTextResponse(fault.message + "\n", status_code=fault.status)


@contextlib.asynccontextmanager
async def as_caller(request: Request) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction acting as the request's caller, whose VOSpace faults become Fault."""
    try:
        async with acting(request) as conn:
            yield conn
    except psycopg.Error as exc:
        fault = fault_of(exc)
        if fault is None:
            raise
        raise fault from None


async def call(conn: psycopg.AsyncConnection, function: str, *args) -> object:
    """The value of vospace.<function>(args) (a named function of the vospace schema)."""
    placeholders = ", ".join(["%s"] * len(args))
    cursor = await conn.execute(f"SELECT vospace.{function}({placeholders})", args)
    return (await cursor.fetchone())[0]


async def rows(conn: psycopg.AsyncConnection, function: str, *args) -> list:
    """The rows of set-returning vospace.<function>(args)."""
    placeholders = ", ".join(["%s"] * len(args))
    cursor = await conn.execute(f"SELECT * FROM vospace.{function}({placeholders})", args)
    return [row[0] if len(row) == 1 else row for row in await cursor.fetchall()]


def handles_faults(handler):
    """Decorate an endpoint: a Fault raised in it is answered as the standard says."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Fault as fault:
            log.info("%s %s: %s", request.method, request.url.path, fault.message)
            return answer(request, fault)
    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
