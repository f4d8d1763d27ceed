"""/groups: the groups a person owns, administers and belongs to; a group's members; creating a
group and adding or removing members. The same SQL functions as the GMS service
(sql/95_auth_group_management.sql) decide, as the logged-in caller: owners and administrators
change a group, members read it.

    GET  /groups                 my groups, and a form to create one
    POST /groups                 create a group (name, description): its owner is the caller
    GET  /groups/{name}          its members and administrators
    POST /groups/{name}          add or remove a member (user name, or group:NAME)
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode

import psycopg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..identity import acting, caller_of
from . import same_origin, templates

log = logging.getLogger("hstvo.portal")

ROLES = (("owner", "Groups I own"), ("admin", "Groups I administer"), ("member", "Groups I belong to"))


def _login_first(request: Request) -> Response:
    return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)


def _refusal(exc: psycopg.Error) -> str:
    """The message of a group-management refusal (sql/95: AU0nn); anything else is not ours."""
    if not (exc.sqlstate or "").startswith("AU"):
        raise exc
    return exc.diag.message_primary or "refused"


async def my_groups(request: Request) -> Response:
    """GET /groups; POST /groups creates one."""
    if caller_of(request).anonymous:
        return _login_first(request)
    message = request.query_params.get("message")
    if request.method == "POST":
        if not same_origin(request):
            message = "This form was sent from another site."
        else:
            form = await request.form()
            name = str(form.get("name", "")).strip()
            try:
                async with acting(request) as conn:
                    await conn.execute("SELECT auth.gms_create_group(%s, %s, '[]')",
                                       (name, str(form.get("description", "")).strip() or None))
                log.info("group %s created by %s on the portal", name, caller_of(request).name)
                return RedirectResponse(f"/groups/{quote(name, safe='')}?message=created",
                                        status_code=303)
            except psycopg.Error as exc:
                message = _refusal(exc)
    lists = {}
    async with acting(request) as conn:
        for role, _ in ROLES:
            cursor = await conn.execute("SELECT auth.gms_groups_with_role(%s)", (role,))
            lists[role] = [name for (name,) in await cursor.fetchall()]
    return templates.TemplateResponse(request, "groups.html", {
        "section": "groups", "roles": ROLES, "lists": lists, "message": message},
        status_code=400 if request.method == "POST" else 200)


async def group_page(request: Request) -> Response:
    """GET /groups/{name}; POST adds (action=add) or removes (action=remove) a member."""
    if caller_of(request).anonymous:
        return _login_first(request)
    name = request.path_params["name"]
    message = request.query_params.get("message")
    if message == "created":
        message = f"Group {name} is made; you are its owner and first member."
    if request.method == "POST":
        message = await _change_member(request, name)
        if message.startswith("ok:"):
            return RedirectResponse(f"/groups/{quote(name, safe='')}?"
                                    + urlencode({"message": message[3:]}), status_code=303)
    try:
        async with acting(request) as conn:
            cursor = await conn.execute("SELECT auth.gms_group(%s), auth.may_manage_group(%s, %s),"
                                        " auth.group_uri(%s)", (name, name, caller_of(request).name, name))
            group, may_manage, uri = await cursor.fetchone()
    except psycopg.Error as exc:
        return templates.TemplateResponse(request, "message.html", {
            "section": "groups", "title": "No such group",
            "message": _refusal(exc)}, status_code=404)
    return templates.TemplateResponse(request, "group.html", {
        "section": "groups", "group": group, "may_manage": may_manage, "uri": uri,
        "message": message})


async def _change_member(request: Request, name: str) -> str:
    """Add or remove the member the form names: 'ok:' and what was done, or why not."""
    if not same_origin(request):
        return "This form was sent from another site."
    form = await request.form()
    member = str(form.get("member", "")).strip()
    adding = form.get("action") == "add"
    kind, id_type = ("group", None) if member.startswith("group:") else ("user", "HTTP")
    member = member.removeprefix("group:")
    if not member:
        return "Name a user, or a group as group:NAME."
    statement = ("SELECT auth.gms_add_member(%s, %s, %s, %s)" if adding
                 else "SELECT auth.gms_remove_member(%s, %s, %s, %s)")
    try:
        async with acting(request) as conn:
            await conn.execute(statement, (name, kind, id_type, member))
    except psycopg.Error as exc:
        return _refusal(exc)
    log.info("%s %s %s group %s by %s on the portal", kind, member,
             "added to" if adding else "removed from", name, caller_of(request).name)
    return f"ok:{member} {'is now' if adding else 'is no longer'} a member of {name}."
