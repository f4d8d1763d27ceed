"""`hstvo users`, `hstvo groups` and `hstvo token`: identities and groups (sql/90_auth_identities.sql).

The rules are the database's: these commands call its auth.* functions and print what they
return. Passwords are hashed here (argon2id) and never reach the database in clear; a token is
shown once, when it is created, and only its SHA-256 is kept.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import psycopg

USERS_EPILOG = """\
examples:
  hstvo users add alice --email alice@example.org --password-stdin < password.txt
  hstvo users password admin          a password for make run's admin (asked for)
  hstvo users add proxyuser --dn 'CN=Alice,OU=Astronomy,O=Example'   (certificates via a proxy)
  hstvo users list
  hstvo users disable alice           her tokens, sessions and password stop working at once
"""

GROUPS_EPILOG = """\
examples:
  hstvo groups create HST-RO --owner alice --description 'proprietary HST data readers'
  hstvo groups add-member HST-RO bob              a user
  hstvo groups add-member HST-RO group:cycle-31   a group: its members (and theirs) belong too
  hstvo groups add-admin HST-RO carol             carol may change the group
  hstvo groups show HST-RO
  hstvo groups list --member bob                  every group bob belongs to, nested included

A group's IVOA identifier, ivo://<authority>/gms?HST-RO, is what CAOM's metaReadGroups and
dataReadGroups name. Members of the writers group (setting writers_group, hstvo-writers) may
write through the repository service.
"""

TOKEN_EPILOG = """\
examples:
  hstvo token create alice --expires 30d --label laptop    prints the token, once
  hstvo token list alice
  hstvo token revoke 7
Use it as `Authorization: Bearer <token>`, e.g. curl -H "Authorization: Bearer $TOKEN" ...
"""

LIFETIME = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_commands(commands: argparse._SubParsersAction, url) -> None:
    """Register `hstvo users`, `hstvo groups` and `hstvo token`; `url` returns the database URL."""
    users = commands.add_parser(
        "users", help="archive users: add, list, disable",
        description="Users of the archive. A user authenticates with a bearer token (hstvo "
                    "token create), a password (HTTP Basic, or /login for a browser session) "
                    "or a certificate's distinguished name from a trusted proxy.",
        epilog=USERS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--email")
    add.add_argument("--dn", help="X.509 distinguished name (for HSTVO_AUTH_DN_HEADER)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read a password from standard input (first line)")
    password = actions.add_parser("password", help="set a user's password (for /login and "
                                                   "HTTP Basic; asked for, or --password-stdin)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from standard input (else it is asked for)")
    actions.add_parser("list", help="list users")
    actions.add_parser("bootstrap", help="make run's accounts: admin (token in var/admin-token) "
                                         "and worker, both writers; nothing once admin exists")
    audit = actions.add_parser("audit", help="the audit trail: authenticated requests, refusals")
    audit.add_argument("--user", help="only this user's requests")
    audit.add_argument("--refusals", action="store_true", help="only the refusals (401, 403)")
    audit.add_argument("--limit", type=int, default=50, help="rows (default 50, newest last)")
    audit.add_argument("--prune", metavar="AGE", help="delete rows older than AGE ('90 days')")
    for name, text in (("disable", "disable a user (every credential stops working)"),
                       ("enable", "enable a disabled user")):
        each = actions.add_parser(name, help=text)
        each.add_argument("name")
    users.set_defaults(func=lambda args: cmd_users(args, url()))

    groups = commands.add_parser(
        "groups", help="groups (IVOA GMS): create, members, administrators",
        description="Groups decide who reads proprietary data (CAOM metaReadGroups and "
                    "dataReadGroups) and who may write. Members are users or groups.",
        epilog=GROUPS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = groups.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a group")
    create.add_argument("name")
    create.add_argument("--owner", required=True, help="the user who owns it")
    create.add_argument("--description")
    create.add_argument("--public", action="store_true", help="anyone may list its members")
    for name, text in (("add-member", "add a member"), ("remove-member", "remove a member"),
                       ("add-admin", "add an administrator"),
                       ("remove-admin", "remove an administrator")):
        each = actions.add_parser(name, help=text + " (USER or group:NAME)")
        each.add_argument("group")
        each.add_argument("member", metavar="USER|group:NAME")
    show = actions.add_parser("show", help="a group, its members and administrators")
    show.add_argument("name")
    listing = actions.add_parser("list", help="list groups")
    listing.add_argument("--member", help="only the groups this user belongs to (nested too)")
    groups.set_defaults(func=lambda args: cmd_groups(args, url()))

    token = commands.add_parser(
        "token", help="bearer tokens: create, list, revoke",
        description="Bearer tokens for scripts and clients (pyvo, curl, CADC's clients).",
        epilog=TOKEN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token (printed once)")
    create.add_argument("user")
    create.add_argument("--expires", help="lifetime: 3600s, 90m, 12h, 30d, 8w (default: never)")
    create.add_argument("--label", help="what it is for")
    listing = actions.add_parser("list", help="a user's tokens (never the tokens themselves)")
    listing.add_argument("user")
    revoke = actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id", type=int)
    token.set_defaults(func=lambda args: cmd_token(args, url()))


def _fail(exc: psycopg.Error) -> int:
    print(f"error: {exc.diag.message_primary}", file=sys.stderr)
    if exc.diag.message_hint:
        print(f"hint: {exc.diag.message_hint}", file=sys.stderr)
    return 1


def hash_password(password: str) -> str:
    """The argon2id hash the database keeps (auth.user.password_hash)."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def cmd_users(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            if args.action == "add":
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
                if args.password_stdin and not password:
                    print("error: no password on standard input", file=sys.stderr)
                    return 2
                conn.execute("SELECT auth.add_user(%s, %s, %s, %s)",
                             (args.name, args.email, args.dn,
                              hash_password(password) if password else None))
                print(f"user {args.name} added" + ("" if password else
                      " (no password: `hstvo token create` gives it a token)"))
            elif args.action == "password":
                secret = sys.stdin.readline().rstrip("\n") if args.password_stdin \
                    else getpass.getpass(f"password for {args.name}: ")
                if not secret:
                    print("error: an empty password", file=sys.stderr)
                    return 2
                conn.execute("SELECT auth.set_password(%s, %s)", (args.name, hash_password(secret)))
                print(f"password of {args.name} set")
            elif args.action == "audit":
                return _audit(conn, args)
            elif args.action == "bootstrap":
                from .config import load_settings

                bootstrap(url, load_settings().var_dir)
            elif args.action in ("disable", "enable"):
                conn.execute("SELECT auth.set_disabled(%s, %s)",
                             (args.name, args.action == "disable"))
                print(f"user {args.name} {args.action}d")
            else:
                rows = conn.execute("SELECT name, email, dn, disabled, created FROM auth.user "
                                    "ORDER BY name").fetchall()
                if not rows:
                    print("no users: `hstvo users add NAME` adds one")
                for name, email, dn, disabled, created in rows:
                    print(f"{name:20} {email or '-':28} {'disabled' if disabled else 'active':8} "
                          f"{created:%Y-%m-%d}  {dn or ''}".rstrip())
        except psycopg.Error as exc:
            return _fail(exc)
    return 0


def cmd_groups(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            if args.action == "create":
                uri = conn.execute("SELECT auth.create_group(%s, %s, %s, %s)",
                                   (args.name, args.owner, args.description, args.public)
                                   ).fetchone()[0]
                print(f"group {args.name} created: {uri}")
            elif args.action in ("add-member", "add-admin"):
                conn.execute("SELECT auth.add_member(%s, %s, %s)",
                             (args.group, args.member, args.action == "add-admin"))
                print(f"{args.member} is now {'an administrator' if 'admin' in args.action else 'a member'}"
                      f" of {args.group}")
            elif args.action in ("remove-member", "remove-admin"):
                removed = conn.execute("SELECT auth.remove_member(%s, %s, %s)",
                                       (args.group, args.member, args.action == "remove-admin")
                                       ).fetchone()[0]
                print(f"{args.member} removed from {args.group}" if removed else
                      f"{args.member} was not {'an administrator' if 'admin' in args.action else 'a member'}"
                      f" of {args.group}")
                return 0 if removed else 1
            elif args.action == "show":
                return _show_group(conn, args.name)
            else:
                return _list_groups(conn, args.member)
        except psycopg.Error as exc:
            return _fail(exc)
    return 0


def _audit(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if args.prune:
        gone = conn.execute("SELECT auth.prune_audit(%s::interval)", (args.prune,)).fetchone()[0]
        print(f"{gone} audit rows older than {args.prune} deleted")
        return 0
    rows = conn.execute(
        "SELECT at, user_name, method, endpoint, object, outcome, status FROM auth.audit"
        " WHERE (%(u)s::text IS NULL OR user_name = %(u)s)"
        "   AND (NOT %(r)s OR status IN (401, 403)) ORDER BY at DESC LIMIT %(n)s",
        {"u": args.user, "r": args.refusals, "n": args.limit}).fetchall()
    if not rows:
        print("no audit rows" + (" for that user" if args.user else ""))
    for at, user, method, endpoint, thing, outcome, status in reversed(rows):
        print(f"{at:%Y-%m-%d %H:%M:%S} {user or 'anonymous':16} {method or '-':7} {status} "
              f"{outcome:16} {endpoint} {thing or ''}".rstrip())
    return 0


def _show_group(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT auth.group_uri(name), owner, description, public_read, created "
                       "FROM auth.group WHERE name = %s", (name,)).fetchone()
    if row is None:
        print(f"error: no group {name}", file=sys.stderr)
        return 1
    uri, owner, description, public, created = row
    print(f"group        {name}\nidentifier   {uri}\nowner        {owner}\n"
          f"description  {description or '-'}\npublic read  {'yes' if public else 'no'}\n"
          f"created      {created:%Y-%m-%d %H:%M}")
    for kind, member, admin in conn.execute("SELECT * FROM auth.group_members(%s)", (name,)):
        print(f"{'admin' if admin else 'member':12} {kind} {member}")
    return 0


def _list_groups(conn: psycopg.Connection, member: str | None) -> int:
    rows = conn.execute(
        "SELECT g.name, g.owner, auth.group_uri(g.name), g.description FROM auth.group g "
        "WHERE %(m)s::text IS NULL OR g.name IN (SELECT auth.memberships(%(m)s)) "
        "ORDER BY g.name", {"m": member}).fetchall()
    if not rows:
        print("no groups" + (f" with member {member}" if member else "")
              + (": `hstvo groups create NAME --owner USER` creates one" if not member else ""))
    for name, owner, uri, description in rows:
        print(f"{name:24} owner {owner:16} {uri}  {description or ''}".rstrip())
    return 0


def lifetime(text: str | None) -> timedelta | None:
    """--expires: 3600s, 90m, 12h, 30d, 8w."""
    if text is None:
        return None
    found = LIFETIME.match(text.strip())
    if not found:
        raise ValueError(f"--expires {text}: give a number and s, m, h, d or w (e.g. 30d)")
    return timedelta(**{UNITS[found.group(2)]: int(found.group(1))})


def new_token(conn: psycopg.Connection, user: str, label: str | None = None,
              expires: timedelta | None = None) -> tuple[int, str]:
    """A new token for `user`: its id, and the token itself (not kept anywhere)."""
    token = secrets.token_urlsafe(32)
    token_id = conn.execute("SELECT auth.add_token(%s, %s, %s, %s)",
                            (user, token, label, expires)).fetchone()[0]
    return token_id, token


def cmd_token(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            if args.action == "create":
                try:
                    expires = lifetime(args.expires)
                except ValueError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                token_id, token = new_token(conn, args.user, args.label, expires)
                print(token)
                print(f"token {token_id} for {args.user}: shown once, keep it safe"
                      + (f" (expires in {args.expires})" if expires else ""), file=sys.stderr)
            elif args.action == "list":
                rows = conn.execute("SELECT id, label, created, expires, revoked FROM auth.token "
                                    "WHERE user_name = %s ORDER BY id", (args.user,)).fetchall()
                if not rows:
                    print(f"no tokens for {args.user}")
                for token_id, label, created, expires, revoked in rows:
                    state = (f"revoked {revoked:%Y-%m-%d %H:%M}" if revoked else
                             f"expires {expires:%Y-%m-%d %H:%M}" if expires else "no expiry")
                    print(f"{token_id:>6}  {created:%Y-%m-%d %H:%M}  {state:26} {label or ''}")
            else:
                conn.execute("SELECT auth.revoke_token(%s)", (args.id,))
                print(f"token {args.id} revoked")
        except psycopg.Error as exc:
            return _fail(exc)
    return 0


def bootstrap(url: str, var_dir: Path) -> None:
    """What `make run` needs for its README examples to write: a user `admin` and a user
    `worker` in the writers group, admin's first token in var/admin-token (mode 0600), and the
    worker's in the setting files_write_token (workers read it with DATABASE_URL). Does
    nothing once admin exists."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM auth.user WHERE name = 'admin'").fetchone():
            return
        writers = conn.execute("SELECT hstvo.setting('writers_group')").fetchone()[0]
        conn.execute("SELECT auth.add_user('admin'), auth.add_user('worker')")
        conn.execute("SELECT auth.create_group(%s, 'admin', 'may write: the repository "
                     "service, workers'' products')", (writers,))
        conn.execute("SELECT auth.add_member(%s, 'admin'), auth.add_member(%s, 'worker')",
                     (writers, writers))
        _, admin_token = new_token(conn, "admin", "made by make run")
        _, worker_token = new_token(conn, "worker", "the workers' account")
        conn.execute("SELECT auth.set_worker_token(%s)", (worker_token,))
    path = var_dir / "admin-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(admin_token + "\n")
    print(f"user admin created (a member of {writers}); its token is in {path} (mode 0600)")
