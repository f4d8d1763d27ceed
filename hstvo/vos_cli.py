"""`hstvo vos`: the operator's VOSpace commands, acting as the operator (who may do everything)
on the database's nodes (sql/96_vospace_nodes.sql) and the storage directory's bytes, through
the same functions the service calls.

Users work with CADC's `vos` client against /vospace (see the README); these commands are for
whoever runs the archive: look anywhere, make the service's own folders, set quotas and
permissions, and check that the database and the storage directory agree (`fsck`).
"""

from __future__ import annotations

import argparse
import hashlib
import mimetypes
import shutil
import sys
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from pyserver.vospace.storage import PART, file_of, remove, storage_root, stored_keys

from .config import load_settings

CORE = "ivo://ivoa.net/vospace/core#"
EPILOG = """\
examples:
  hstvo vos ls /home/alice -l             a container's children, with owners and sizes
  hstvo vos mkdir /projects               a container of the service's own
  hstvo vos put notes.txt /home/alice/notes.txt
  hstvo vos get /home/alice/notes.txt copy.txt
  hstvo vos chmod /projects --public true --group-read survey --group-write survey
  hstvo vos quota /home/alice 50G         (none: no quota)
  hstvo vos rm /home/alice/old            a node and everything under it
  hstvo vos fsck                          files no node points at, nodes whose file is gone
  hstvo vos fsck --repair                 remove the files no node points at

Paths are VOSpace paths (/home/alice/x), never a local file system's, and may not climb ('..').
"""


def add_commands(commands: argparse._SubParsersAction, url) -> None:
    """Register `hstvo vos ACTION`; `url` returns the database URL."""
    vos = commands.add_parser("vos", help="VOSpace for operators: ls, mkdir, put, get, rm, "
                                          "chmod, quota, fsck",
                              description=__doc__, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--storage", type=Path,
                        help="the storage directory (default HSTVO_STORAGE, var/storage)")
    actions = vos.add_subparsers(dest="vos_action", required=True, metavar="ACTION")
    ls = actions.add_parser("ls", parents=[common], help="list a container, or show a node")
    ls.add_argument("path")
    ls.add_argument("-l", "--long", action="store_true", help="owner, size, date, permissions")
    mkdir = actions.add_parser("mkdir", parents=[common], help="make a container")
    mkdir.add_argument("path")
    mkdir.add_argument("--owner", help="the user who owns it (default: the service)")
    put = actions.add_parser("put", parents=[common], help="copy a local file into a data node")
    put.add_argument("local", type=Path)
    put.add_argument("path")
    get = actions.add_parser("get", parents=[common],
                             help="copy a data node's bytes to a local file")
    get.add_argument("path")
    get.add_argument("local", type=Path)
    rm = actions.add_parser("rm", parents=[common], help="delete a node and everything under it")
    rm.add_argument("path")
    chmod = actions.add_parser("chmod", parents=[common], help="set who may read and write a node")
    chmod.add_argument("path")
    chmod.add_argument("--public", choices=["true", "false"])
    chmod.add_argument("--group-read", nargs="*", metavar="GROUP")
    chmod.add_argument("--group-write", nargs="*", metavar="GROUP")
    quota = actions.add_parser("quota", parents=[common],
                               help="show or set a container's quota (50G, 500M, none)")
    quota.add_argument("path")
    quota.add_argument("size", nargs="?")
    fsck = actions.add_parser("fsck", parents=[common],
                              help="check that the nodes and the stored files agree")
    fsck.add_argument("--repair", action="store_true",
                      help="remove the files no node points at (never a node)")
    vos.set_defaults(func=lambda args: cmd_vos(args, url()))


def _size(text: str) -> int | None:
    """Bytes from '50G', '500M', '1024' or 'none'."""
    if text.lower() == "none":
        return None
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    factor = units.get(text[-1:].upper(), 1)
    number = text[:-1] if factor > 1 else text
    if not number.isdigit():
        raise ValueError(f"{text!r} is not a size (50G, 500M, 1024 or none)")
    return int(number) * factor


def _operator(conn: psycopg.Connection) -> None:
    conn.execute("SELECT vospace.act_as_operator()")


def _call(conn: psycopg.Connection, function: str, *args):
    placeholders = ", ".join(["%s"] * len(args))
    return conn.execute(f"SELECT vospace.{function}({placeholders})", args).fetchone()[0]


def _rows(conn: psycopg.Connection, function: str, *args) -> list:
    placeholders = ", ".join(["%s"] * len(args))
    return [r[0] for r in conn.execute(f"SELECT * FROM vospace.{function}({placeholders})",
                                       args).fetchall()]


def _line(node: dict, long: bool) -> str:
    name = node["path"].rstrip("/").rpartition("/")[2] or "/"
    if node["kind"] == "container":
        name += "/"
    if node["kind"] == "link":
        name += f" -> {node['target']}"
    if not long:
        return name
    props = node["properties"]
    rights = ("public" if props.get(CORE + "ispublic") == "true" else "private")
    groups = " ".join(filter(None, [props.get(CORE + "groupread") and "r:" + props[CORE + "groupread"],
                                    props.get(CORE + "groupwrite") and "w:" + props[CORE + "groupwrite"]]))
    return (f"{node['kind']:<9} {props.get(CORE + 'creator', '-'):<12} "
            f"{int(props.get(CORE + 'length', 0)):>14} {props.get(CORE + 'date', '')[:19]}  "
            f"{rights:<7} {name}{'  ' + groups if groups else ''}")


def cmd_vos(args: argparse.Namespace, database_url: str) -> int:
    """Run one `hstvo vos` action; a VOSpace fault is a message and exit status 1."""
    root = storage_root(args.storage or load_settings().storage_dir)
    try:
        with psycopg.connect(database_url) as conn:
            _operator(conn)
            return ACTIONS[args.vos_action](conn, args, root)
    except psycopg.Error as exc:
        if (exc.sqlstate or "").startswith("VS"):
            print(f"hstvo vos {args.vos_action}: {exc.diag.message_primary}", file=sys.stderr)
            return 1
        raise
    except ValueError as exc:
        print(f"hstvo vos {args.vos_action}: {exc}", file=sys.stderr)
        return 1


def _ls(conn, args, root) -> int:
    node = _call(conn, "read_node", args.path)
    if node["kind"] != "container":
        print(_line(node, args.long))
        return 0
    for child in _rows(conn, "children", args.path):
        print(_line(child, args.long))
    return 0


def _mkdir(conn, args, root) -> int:
    _call(conn, "create_node", args.path, "container", Jsonb({}), None)
    if args.owner:
        _call(conn, "set_owner", args.path, args.owner)
    conn.commit()
    print(f"made {args.path}")
    return 0


def _put(conn, args, root) -> int:
    if not args.local.is_file():
        raise ValueError(f"{args.local} is not a file")
    length = args.local.stat().st_size
    key = _call(conn, "begin_upload", args.path, length)
    target = file_of(root, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + PART)
    digest = hashlib.md5()
    try:
        with args.local.open("rb") as source, part.open("wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        part.replace(target)
        previous = _call(conn, "finish_upload", args.path, key, length, digest.hexdigest(),
                         mimetypes.guess_type(args.path)[0])
        conn.commit()
    except BaseException:
        part.unlink(missing_ok=True)
        remove(root, [key])
        raise
    remove(root, [previous] if previous else [])
    print(f"{args.path}: {length} bytes, MD5 {digest.hexdigest()}")
    return 0


def _get(conn, args, root) -> int:
    found = _call(conn, "download", args.path)
    if found["storage"]:
        shutil.copyfile(file_of(root, found["storage"]), args.local)
    else:
        args.local.write_bytes(b"")
    print(f"{args.local}: {found['length']} bytes")
    return 0


def _rm(conn, args, root) -> int:
    unused = _rows(conn, "delete_node", args.path)
    conn.commit()
    remove(root, unused)
    print(f"deleted {args.path} ({len(unused)} files)")
    return 0


def _chmod(conn, args, root) -> int:
    changes = {}
    if args.public is not None:
        changes[CORE + "ispublic"] = args.public
    if args.group_read is not None:
        changes[CORE + "groupread"] = " ".join(args.group_read)
    if args.group_write is not None:
        changes[CORE + "groupwrite"] = " ".join(args.group_write)
    node = _call(conn, "set_properties", args.path, Jsonb(changes))
    conn.commit()
    print(_line(node, True))
    return 0


def _quota(conn, args, root) -> int:
    if args.size is not None:
        size = _size(args.size)
        _call(conn, "set_quota", args.path, size)
        conn.commit()
    node = _call(conn, "read_node", args.path)
    props = node["properties"]
    print(f"{args.path}: {int(props.get(CORE + 'length', 0))} bytes used of "
          f"{props.get(CORE + 'quota', 'no quota')}")
    return 0


def _fsck(conn, args, root) -> int:
    """Files no node points at (part files of cut-off uploads included), nodes whose file is
    missing or of the wrong size, and containers whose length is not the sum of their data."""
    on_disk = stored_keys(root)
    in_db = {row[0]: row for row in conn.execute("SELECT * FROM vospace.stored_files()")}
    problems = 0
    orphans = sorted(set(on_disk) - set(in_db))
    for key in orphans:
        problems += 1
        print(f"orphan file {key} ({on_disk[key]} bytes): no node points at it")
    for key, (_, length, _, nodes) in sorted(in_db.items()):
        if key not in on_disk:
            problems += 1
            print(f"missing file {key}: {nodes} node(s) point at it")
        elif on_disk[key] != length:
            problems += 1
            print(f"file {key} has {on_disk[key]} bytes; its node says {length}")
    for path, recorded, actual in conn.execute("SELECT * FROM vospace.length_problems()"):
        problems += 1
        print(f"container {path} records {recorded} bytes; it holds {actual}")
    if args.repair and orphans:
        for key in orphans:
            (root / key).unlink(missing_ok=True)
        print(f"removed {len(orphans)} orphan files")
        problems -= len(orphans)
    print(f"checked {len(on_disk)} stored files and {len(in_db)} files of nodes: {problems} problems")
    return 0 if problems == 0 else 1


ACTIONS = {"ls": _ls, "mkdir": _mkdir, "put": _put, "get": _get, "rm": _rm, "chmod": _chmod,
           "quota": _quota, "fsck": _fsck}
