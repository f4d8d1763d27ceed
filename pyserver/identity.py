"""Who is asking: the caller of every request, and how the database learns it.

A request may carry, in this order of precedence:
  - `Authorization: Bearer <token>`: a token from `hstvo token create` (or the value of a
    session from /login, which pyvo's `ivoa_bearer` flow receives in X-VO-Bearer);
  - `Authorization: Basic`: a user's name and password (argon2 hashes in auth.user);
  - the `hstvo_session` cookie that POST /login sets for browsers;
  - a certificate's subject, in the header a trusted front proxy sets (HSTVO_AUTH_DN_HEADER;
    off by default, since anyone can send a header to a service that is not behind one).
No credential is anonymous. A credential that names nobody (unknown, revoked, expired,
forged, a wrong password, a disabled user) is a 401 with WWW-Authenticate challenges (RFC 6750
and the IVOA SSO ones pyvo looks for); it never falls back to anonymous.

The database checks every credential (auth.authenticate) and then knows the caller by a signed
identity in each transaction (auth.begin_request, sql/91_auth_session.sql): the row policies
of sql/92_access_rules.sql decide what the caller sees, whichever service asks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg
from psycopg.types.json import Jsonb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger("hstvo.auth")

COOKIE = "hstvo_session"
READER_ROLE = "hstvo_reader"  # the role of every read path (sql/92_access_rules.sql)
SESSION_FORM = re.compile(r"^.+:[0-9]{1,12}:[0-9a-f]{64}$")
PASSWORDS = PasswordHasher()
# a verified password is remembered (by its SHA-256) this long: argon2 is slow on purpose,
# and Basic sends the password with every request
VERIFIED_SECONDS = 60.0
_verified: dict[tuple[str, bytes], float] = {}


@dataclass(frozen=True)
class Caller:
    """The user a request acts for (None: anonymous) and how it proved it. A token, session
    or certificate not yet checked is `credential` (kind, value): the database checks it in
    the request's own transaction (begin), or when the name is needed first (resolved)."""

    name: str | None = None
    method: str | None = None  # token, basic, cookie, dn
    credential: tuple[str, str] | None = None

    @property
    def anonymous(self) -> bool:
        return self.name is None and self.credential is None


ANONYMOUS = Caller()


# what the VOSI capabilities declare for each interface: anonymous (the empty method), and
# the ways to authenticate that SSO 2.0 names (pyvo's AuthSession picks one from these)
SECURITY_METHODS = ("", "ivo://ivoa.net/sso#BasicAA", "ivo://ivoa.net/sso#cookie")
# bearer tokens: CADC's services and clients (cadcutils) name them so; SSO 2.0 does not, and
# taplint warns about it, so the TAP service accepts tokens without declaring them
TOKEN_METHOD = "ivo://ivoa.net/sso#token"


def security_methods_xml(token: bool = False) -> str:
    """The <securityMethod> elements of an interface (VOResource 1.1); with the token method
    where CADC's clients look for it."""
    methods = SECURITY_METHODS + ((TOKEN_METHOD,) if token else ())
    return "".join(f'<securityMethod standardID="{m}"/>' if m else "<securityMethod/>"
                   for m in methods)


class AuthenticationFailed(Exception):
    """A credential that names nobody: the request is a 401."""


def caller_of(request: Request) -> Caller:
    """The caller the middleware found for this request."""
    return getattr(request.state, "caller", ANONYMOUS)


def challenges(base_url: str) -> list[str]:
    """WWW-Authenticate values: RFC 6750's and RFC 7617's, and the IVOA SSO 2.0 ones with
    the login endpoint (pyvo's AuthSession and cadcutils find the methods from them)."""
    login = f"{base_url.rstrip('/')}/login"
    return [f'ivoa_bearer standard_id="ivo://ivoa.net/sso#tls-with-password", access_url="{login}"',
            f'ivoa_cookie standard_id="ivo://ivoa.net/sso#tls-with-password", access_url="{login}"',
            'Bearer realm="hstvo"', 'Basic realm="hstvo"']


def unauthorized(base_url: str, message: str, invalid: bool = True) -> PlainTextResponse:
    """A 401 that says why and how to authenticate."""
    values = challenges(base_url)
    if invalid:  # RFC 6750 section 3: the token presented was not valid
        values[2] = 'Bearer realm="hstvo", error="invalid_token"'
    response = PlainTextResponse(message.rstrip("\n") + "\n", status_code=401)
    for value in values:
        response.headers.append("WWW-Authenticate", value)
    return response


async def authentication_failed(request: Request, exc: AuthenticationFailed) -> Response:
    """The app's answer when the database refuses a request's credential (a 401)."""
    log.info("401 %s %s: %s", request.method, request.url.path, exc)
    base = getattr(request.app.state, "public_url", None) or str(request.base_url)
    return unauthorized(base, str(exc))


def forbidden(message: str) -> PlainTextResponse:
    return PlainTextResponse(message.rstrip("\n") + "\n", status_code=403)


def _credential(request: Request) -> tuple[str, str, str] | None:
    """(kind for auth.authenticate, value, method) of the request's credential, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return ("session" if SESSION_FORM.match(value) else "token"), value, "token"
    if scheme.lower() == "basic" and value:
        return "basic", value, "basic"
    if header:
        raise AuthenticationFailed(f"Authorization scheme {scheme!r} is not supported: "
                                   "use Bearer or Basic")
    if request.cookies.get(COOKIE):
        return "session", request.cookies[COOKIE], "cookie"
    dn_header = os.environ.get("HSTVO_AUTH_DN_HEADER")
    if dn_header and request.headers.get(dn_header):
        return "dn", request.headers[dn_header], "dn"
    return None


async def authenticate(request: Request) -> Caller:
    """The request's caller: a password is verified here; a token, a session or a certificate
    is left for the database to check with the request's first statement (no extra round
    trip). AuthenticationFailed when a credential names nobody."""
    found = _credential(request)
    if found is None:
        return ANONYMOUS
    kind, value, method = found
    if kind == "basic":
        async with request.app.state.pool.connection() as conn:
            return Caller(await _basic_user(conn, value), method)
    return Caller(None, method, (kind, value))


async def resolved(request: Request) -> Caller:
    """The request's caller with its name, the credential checked by the database now when
    no transaction of the request has checked it yet."""
    caller = caller_of(request)
    if caller.credential is None:
        return caller
    async with request.app.state.pool.connection() as conn:
        try:
            cursor = await conn.execute("SELECT auth.authenticate(%s, %s)", caller.credential)
        except psycopg.Error as exc:
            _refusal(exc)
            raise
        name = (await cursor.fetchone())[0]
    return _remember(request, Caller(name, caller.method))


def _refusal(exc: psycopg.Error) -> None:
    """AuthenticationFailed for the database's refusal of a credential (AU401)."""
    if exc.sqlstate == "AU401":
        raise AuthenticationFailed(exc.diag.message_primary) from None


def _remember(request: Request, caller: Caller) -> Caller:
    request.state.caller = caller
    return caller


async def _basic_user(conn: psycopg.AsyncConnection, value: str) -> str:
    """The user whose password Basic credentials carry, verified against its argon2 hash."""
    try:
        name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("the Basic credentials cannot be read") from None
    return await verify_password(conn, name, password)


async def verify_password(conn: psycopg.AsyncConnection, name: str, password: str) -> str:
    """`name`, when `password` is its password; AuthenticationFailed otherwise."""
    key = (name, hashlib.sha256(password.encode()).digest())
    if _verified.get(key, 0) > time.monotonic():
        return name
    stored = (await (await conn.execute("SELECT auth.password_hash(%s)", (name,))).fetchone())[0]
    try:
        if stored is None:
            raise VerificationError()
        # argon2 is slow on purpose (tens of milliseconds): not on the loop that serves everyone
        await asyncio.to_thread(PASSWORDS.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationFailed("wrong user name or password") from None
    _verified[key] = time.monotonic() + VERIFIED_SECONDS
    return name


async def begin(conn: psycopg.AsyncConnection, caller: Caller, role: str | None) -> Caller:
    """Make `caller` the identity of the connection's open transaction (checking its
    credential first when it has one: AuthenticationFailed when it names nobody), and take
    `role` (hstvo_reader or the TAP query role) for the rest of it: one round trip. Returns
    the caller with its name."""
    if caller.credential is not None:
        start, args = "SELECT auth.begin_request_as(%s, %s)", list(caller.credential)
    else:
        start, args = "SELECT auth.begin_request(%s)", [caller.name]
    if role:
        start, args = start + ", set_config('role', %s, true)", args + [role]
    try:
        cursor = await conn.execute(start, args)
    except psycopg.Error as exc:
        _refusal(exc)
        raise
    return Caller((await cursor.fetchone())[0], caller.method)


@contextlib.asynccontextmanager
async def reading(request: Request, pool=None) -> AsyncIterator[psycopg.AsyncConnection]:
    """A connection in a transaction that reads as the request's caller, under the access
    rules (hstvo_reader). Every read path of the service takes its connection here: on the
    standby the request was given, if any (pyserver/replicas.py), else on the primary."""
    from .replicas import read_pool

    async with (pool or read_pool(request)).connection() as conn:
        async with conn.transaction():
            _remember(request, await begin(conn, caller_of(request),
                                           getattr(request.app.state, "reader_role", None)))
            yield conn


@contextlib.asynccontextmanager
async def acting(request: Request) -> AsyncIterator[psycopg.AsyncConnection]:
    """A connection in a transaction as the service's own user, with the request's caller as
    its identity: for the functions that decide by auth.caller() themselves (the group
    management of sql/95_auth_group_management.sql)."""
    async with request.app.state.pool.connection() as conn:
        async with conn.transaction():
            _remember(request, await begin(conn, caller_of(request), None))
            yield conn


# paths whose handlers check a credential with their first statement (begin, reading): the
# others (capabilities, availability, tables, login, ...) have it checked before they run, so
# that a wrong credential is a 401 wherever it is sent
CHECKED_IN_TRANSACTION = ("/tap/sync", "/tap/async", "/datalink", "/soda/", "/files/", "/moc",
                          "/caom2repo/observations", "/caom2repo/deletions", "/gms/search",
                          "/gms/groups", "/vospace/nodes", "/vospace/files", "/vospace/synctrans",
                          "/vospace/transfers", "/preview/", "/thumbnail/")


def _checked_later(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(CHECKED_IN_TRANSACTION)


class Authentication:
    """ASGI middleware: request.state.caller for every request, or a 401."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            # logging in and out must work with an expired session cookie still in the browser
            caller = ANONYMOUS if request.url.path in ("/login", "/logout") \
                else await authenticate(request)
            scope.setdefault("state", {})["caller"] = caller
            if caller.credential is not None and not _checked_later(request):
                caller = await resolved(request)
        except AuthenticationFailed as exc:
            await (await authentication_failed(request, exc))(scope, receive, send)
            _audit(request, ANONYMOUS, 401)
            return
        status = 500

        async def remember_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            caller = scope["state"].get("caller", caller)  # with its name, once checked
            if not caller.anonymous or status in (401, 403):
                _audit(request, caller, status)


def _audit(request: Request, caller: Caller, status: int) -> None:
    """One row of auth.audit (sql/94_auth_audit.sql), written after the answer, in a batch
    with the others of the next half second."""
    _backlog.append({
        "at": datetime.now(timezone.utc).isoformat(), "user_name": caller.name,
        "method": caller.method, "endpoint": f"{request.method} {request.url.path}",
        "object": request.query_params.get("ID") or request.path_params.get("file_name"),
        "status": status})
    if not _pending:
        task = asyncio.get_running_loop().create_task(_flush(request.app.state.pool))
        _pending.add(task)
        task.add_done_callback(_pending.discard)


async def _flush(pool) -> None:
    """Write the audit rows gathered in each AUDIT_SECONDS in one statement, until none are
    left (nothing runs between the last check and the task's end: no row is left behind)."""
    while _backlog:
        await asyncio.sleep(AUDIT_SECONDS)
        rows = _backlog[:]
        del _backlog[:len(rows)]
        try:
            async with pool.connection() as conn:
                async with conn.transaction():
                    # an audit row may wait for the disk with the next commits; a request not
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await conn.execute("SELECT auth.record_batch(%s)", (Jsonb(rows),))
        except Exception as exc:  # the audit must never break a request
            log.warning("%d audit rows not written: %s", len(rows), exc)


_backlog: list[dict] = []  # audit rows not yet written
AUDIT_SECONDS = 0.5
_pending: set = set()  # audit writes in flight (kept referenced until done)
