"""POST /login and /logout: a session for browsers and for IVOA SSO clients.

POST /login with `username` and `password` (a form: the `tls-with-password` login of IVOA SSO
2.0, which pyvo's AuthSession follows from the service's challenges) answers with the session:
as the `hstvo_session` cookie (HttpOnly, SameSite=Lax) for browsers, in the X-VO-Bearer header
for clients that prefer a bearer token, and as the body. The session is signed by the database
(auth.issue_session) and stored nowhere: it expires after HSTVO_SESSION_HOURS (12).
GET /login shows a form for people.
"""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from .identity import COOKIE, AuthenticationFailed, unauthorized, verify_password
from .vosi import base_url

FORM = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hstvo: log in</title></head>
<body><main><h1>Log in to hstvo</h1>
<form method="post" action="login">
<p><label for="username">User name</label> <input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log in</button></p>
</form>{note}</main></body></html>
"""


async def login(request: Request) -> Response:
    """GET: the form. POST: a session for a user name and password."""
    if request.method == "GET":
        return HTMLResponse(FORM.format(note=""))
    form = await request.form()
    name, password = str(form.get("username") or ""), str(form.get("password") or "")
    hours = float(os.environ.get("HSTVO_SESSION_HOURS", "12"))
    async with request.app.state.pool.connection() as conn:
        try:
            await verify_password(conn, name, password)
        except AuthenticationFailed as exc:
            return unauthorized(base_url(request), str(exc))
        cursor = await conn.execute("SELECT auth.issue_session(%s, %s * interval '1 hour')",
                                    (name, hours))
        session = (await cursor.fetchone())[0]
    response = PlainTextResponse(session + "\n", headers={"X-VO-Bearer": session})
    response.set_cookie(COOKIE, session, max_age=int(hours * 3600), httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    """Forget the browser's session cookie."""
    response = HTMLResponse(FORM.format(note="<p>You are logged out.</p>"))
    response.delete_cookie(COOKIE)
    return response
