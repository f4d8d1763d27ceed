"""`hstvo registry`: point CADC's command-line clients (caom2-repo, cadc-tap, cadc-data) at
this archive.

cadcutils resolves an ivo:// resource ID through CADC's registry list. With `--host NAME` a
client reads that list from https://NAME/reg/resource-caps and caches it under
~/.config/cadc-registry/alt-domains/NAME/; when that URL cannot be fetched it keeps using the
cached copy, however old. This command writes the archive's list (hstvo.registry(), the same
rows /reg/resource-caps serves) into that cache, so that `--host NAME` finds the archive over
plain HTTP too, and drops the capabilities cadcutils cached for an earlier address.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import psycopg

EPILOG = """\
examples:
  hstvo registry                     write the list for --host hstvo
  caom2-repo read --host hstvo --resource-id ivo://hstvo.example/caom2repo HST j94f05bgq
  cadc-tap query -s http://127.0.0.1:8080/tap -a 'SELECT TOP 3 obs_id FROM ivoa.ObsCore'
                                     (cadc-tap takes the TAP service's URL itself)

An archive served over HTTPS needs none of this: `--host archive.example.org` reads its
/reg/resource-caps directly.
"""


def add_commands(commands: argparse._SubParsersAction, url) -> None:
    """Register `hstvo registry`; `url` returns the database URL."""
    registry = commands.add_parser(
        "registry", help="let CADC's clients (caom2-repo, cadc-tap) find this archive",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    registry.add_argument("--host", default="hstvo",
                          help="the name clients pass as --host (default hstvo)")
    registry.add_argument("--url", help="the archive's base URL (default: hstvo.setting "
                                        "service_url, which `hstvo serve` keeps current)")
    registry.add_argument("--config", type=Path,
                          default=Path.home() / ".config" / "cadc-registry",
                          help="cadcutils' cache directory (default ~/.config/cadc-registry)")
    registry.set_defaults(func=lambda args: cmd_registry(args, url()))


def registry_lines(database_url: str, base_url: str | None) -> list[str]:
    """`resourceID = capabilities URL` lines for the archive at base_url (or service_url)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT * FROM hstvo.registry(coalesce(%s, hstvo.setting('service_url')))",
            (base_url,)).fetchall()
    return [f"{resource_id} = {capabilities}" for resource_id, capabilities in rows]


def cmd_registry(args: argparse.Namespace, database_url: str) -> int:
    """Write the registry list where cadcutils looks for --host args.host."""
    lines = registry_lines(database_url, args.url)
    directory = args.config / "alt-domains" / args.host
    directory.mkdir(parents=True, exist_ok=True)
    for cached in directory.iterdir():  # capabilities cached for an earlier address
        if cached.is_dir():
            shutil.rmtree(cached)
    (directory / "resource-caps").write_text("\n".join(lines) + "\n")
    print(f"wrote {directory / 'resource-caps'}:")
    for line in lines:
        print(f"  {line}")
    print(f"CADC's clients find these with --host {args.host}, e.g.\n"
          f"  caom2-repo read --host {args.host} --resource-id "
          f"{lines[0].split(' = ')[0]} COLLECTION OBSERVATION_ID")
    return 0
