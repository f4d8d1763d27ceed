"""hstvo: the Hubble Space Telescope archive in the Virtual Observatory.

One command for everything an operator does. Without DATABASE_URL the commands use the embedded
PostgreSQL cluster under ./var/ (`hstvo db start` creates it).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from .config import PROJECT_ROOT, load_settings

log = logging.getLogger("hstvo")

EPILOG = """\
examples:
  hstvo db start                     create and start the embedded cluster (./var/)
  hstvo db upgrade                   apply pending migrations (safe to repeat)
  hstvo xml import obs1.xml dir/     load CAOM 2.2/2.3/2.4 documents
  hstvo xml export HST y34b0101t     print an observation as CAOM 2.4 XML
  hstvo serve                        serve TAP and friends on 127.0.0.1:8080

environment:
  DATABASE_URL      use this PostgreSQL (with pgsphere) instead of the embedded cluster
  HSTVO_PORT        HTTP port of `hstvo serve` (8080)
  HSTVO_PG_PORT     port of the embedded cluster (54320)
  HSTVO_PUBLIC_URL  the service's public base URL (used in access_url and DataLink links)
  HSTVO_AUTHORITY   IVOA authority of publisher DIDs (ivo://hstvo.example)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hstvo", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="manage the database: start, stop, status, upgrade, psql",
                             description="Manage the embedded cluster and the schema.")
    db.add_argument("action", choices=["start", "stop", "status", "upgrade", "psql"],
                    help="start/stop/status: the embedded cluster under ./var/ (ignored "
                         "with DATABASE_URL); upgrade: apply migrations; psql: open a shell")
    db.set_defaults(func=cmd_db)

    xml = commands.add_parser("xml", help="import and export CAOM2 XML documents",
                              description="CAOM2 XML documents in and out of the archive.")
    xml_commands = xml.add_subparsers(dest="xml_command", required=True, metavar="ACTION")
    imp = xml_commands.add_parser(
        "import", help="load CAOM 2.2/2.3/2.4 XML files (files or directories)",
        description="Validate and store each document (one transaction per observation). An "
                    "invalid document is reported with the element and line at fault and "
                    "nothing of it is written; the other files are still loaded.")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="XML files, or directories searched for *.xml")
    imp.add_argument("--restamp", action="store_true",
                     help="use the database clock for lastModified/maxLastModified instead of "
                          "the document's (a new version rather than an archive copy)")
    imp.set_defaults(func=cmd_xml_import)
    exp = xml_commands.add_parser("export", help="write one observation as CAOM 2.4 XML",
                                  description="Write an observation as a CAOM 2.4 document.")
    exp.add_argument("collection", help="collection, e.g. HST")
    exp.add_argument("observation_id", help="observationID, e.g. y34b0101t")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_xml_export)

    samples = commands.add_parser("samples", help="load the bundled sample data",
                                  description="Load the sample data bundled in ./data/ "
                                              "(see data/MANIFEST.md for its origin).")
    samples.set_defaults(func=cmd_samples)

    serve = commands.add_parser("serve", help="run the HTTP service",
                                description="Serve the archive's VO services over HTTP.")
    serve.add_argument("--host", help="address to bind (default HSTVO_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default HSTVO_PORT or 8080)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.set_defaults(func=cmd_serve)
    return parser


def _url() -> str:
    from .db import database_url

    return database_url(load_settings())


def cmd_db(args: argparse.Namespace) -> int:
    from .db import embedded_cluster, upgrade

    settings = load_settings()
    cluster = embedded_cluster(settings)
    if args.action in ("start", "stop", "status") and not settings.embedded:
        print(f"DATABASE_URL is set: the embedded cluster is not used ({args.action} ignored)")
        return 0
    if args.action == "start":
        cluster.start()
        print(cluster.status())
    elif args.action == "stop":
        cluster.stop()
        print(cluster.status())
    elif args.action == "status":
        print(cluster.status())
        return 0 if cluster.running() else 3
    elif args.action == "upgrade":
        revision = upgrade(_url(), settings)
        print(f"database is at revision {revision}")
    elif args.action == "psql":
        return subprocess.call(["psql", _url()])
    return 0


def _xml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.rglob("*.xml"))
        else:
            files.append(path)
    return files


def cmd_xml_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from loaders.caom2xml import CaomXmlError, read_document, store_document

    from .db import connect

    files = _xml_files(args.paths)
    failures = mismatches = 0
    with connect(_url(), autocommit=True) as conn:
        progress = tqdm(files, unit="obs", disable=len(files) < 10 or not sys.stderr.isatty())
        for path in progress:
            try:
                summary = store_document(conn, read_document(str(path)),
                                         keep_timestamps=not args.restamp)
            except Exception as exc:  # bad XML, unreadable file or a database refusal
                failures += 1
                reason = (str(exc) if isinstance(exc, (CaomXmlError, OSError))
                          else f"{type(exc).__name__}: {exc}".rstrip())
                tqdm.write(f"error: {path}: {reason}", file=sys.stderr)
                continue
            if not summary["checksums_match"]:
                mismatches += 1
                tqdm.write(f"warning: {path}: the document declares accMetaChecksum "
                           f"{summary['declared_accmetachecksum']}, computed "
                           f"{summary['accmetachecksum']} (stored the computed one)",
                           file=sys.stderr)
            log.info("%s %s (%s)", "created" if summary["created"] else "updated",
                     summary["uri"], summary["accmetachecksum"])
    loaded = len(files) - failures
    print(f"imported {loaded} of {len(files)} documents"
          + (f", {failures} failed" if failures else "")
          + (f", {mismatches} with stale checksums" if mismatches else ""))
    return 1 if failures else 0


def cmd_xml_export(args: argparse.Namespace) -> int:
    from loaders.caom2xml import load_document, write_document

    from .db import connect

    with connect(_url()) as conn:
        document = load_document(conn, args.collection, args.observation_id)
    if document is None:
        print(f"error: no observation caom:{args.collection}/{args.observation_id}",
              file=sys.stderr)
        return 2
    xml = write_document(document)
    if args.output:
        args.output.write_bytes(xml)
    else:
        sys.stdout.buffer.write(xml)
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    imp = argparse.Namespace(paths=[PROJECT_ROOT / "data" / "caom2"], restamp=False)
    return cmd_xml_import(imp)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    uvicorn.run("pyserver.app:create_app", factory=True, host=args.host or settings.http_host,
                port=args.port or settings.http_port, workers=args.workers,
                log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # alembic lists its plugins at INFO: noise in an operator's log
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
