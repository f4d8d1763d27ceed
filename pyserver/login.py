"""POST /login and /logout: a session for browsers and for IVOA SSO clients.

POST /login with `username` and `password` (a form: the `tls-with-password` login of IVOA SSO
2.0, which pyvo's AuthSession follows from the service's challenges) answers with the session:
as the `hstvo_session` cookie (HttpOnly, SameSite=Lax) for browsers, in the X-VO-Bearer header
for clients that prefer a bearer token, and as the body. The session is signed by the database
(auth.issue_session) and stored nowhere: it expires after HSTVO_SESSION_HOURS (12).
GET /login shows a form for people (the portal's page); the portal's form sends `next`, and
the browser is sent there once logged in.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from .identity import (ANONYMOUS, COOKIE, AuthenticationFailed, challenges, unauthorized,
                       verify_password)
from .vosi import base_url

def _local(target: str) -> str:
    """Where a browser goes after logging in: a path of this site only (never elsewhere)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target \
        else "/search"


def _page(request: Request, note: str = "", status: int = 200, next_page: str = "/search") -> Response:
    from .portal import templates

    response = templates.TemplateResponse(request, "login.html", {
        "section": "login", "note": note, "next": _local(next_page)}, status_code=status)
    if status == 401:
        for value in challenges(base_url(request)):
            response.headers.append("WWW-Authenticate", value)
    return response


async def login(request: Request) -> Response:
    """GET: the form. POST: a session for a user name and password. The portal's form sends
    `next` too: a browser is then sent there with the cookie, or shown the form again."""
    if request.method == "GET":
        return _page(request, next_page=request.query_params.get("next", "/search"))
    form = await request.form()
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    from_portal = "next" in form
    hours = float(os.environ.get("HSTVO_SESSION_HOURS", "12"))
    async with request.app.state.pool.connection() as conn:
        try:
            await verify_password(conn, name, password)
        except AuthenticationFailed as exc:
            if from_portal:
                return _page(request, "That user name and password do not match.", 401,
                             str(form.get("next")))
            return unauthorized(base_url(request), str(exc))
        cursor = await conn.execute("SELECT auth.issue_session(%s, %s * interval '1 hour')",
                                    (name, hours))
        session = (await cursor.fetchone())[0]
    if from_portal:
        response: Response = RedirectResponse(_local(str(form.get("next"))), status_code=303)
    else:
        response = PlainTextResponse(session + "\n", headers={"X-VO-Bearer": session})
    response.set_cookie(COOKIE, session, max_age=int(hours * 3600), httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    """Forget the browser's session cookie."""
    request.state.caller = ANONYMOUS
    response = _page(request, "You are logged out.")
    response.delete_cookie(COOKIE)
    return response
