"""hstvo: the Hubble Space Telescope archive in the Virtual Observatory.

One command for everything an operator does. Without DATABASE_URL the commands use the embedded
PostgreSQL cluster under ./var/ (`hstvo db start` creates it).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from .config import PROJECT_ROOT, load_settings
from .xml_cli import cmd_xml_export, cmd_xml_import

log = logging.getLogger("hstvo")

EPILOG = """\
examples:
  hstvo db start                     create and start the embedded cluster (./var/)
  hstvo db upgrade                   apply pending migrations (safe to repeat)
  hstvo ingest /data/hst/ --jobs 2    ingest HST FITS files (directories, globs, files)
  hstvo synth --count 1000 /tmp/arch  write a synthetic HST archive to try things at scale
  hstvo xml import obs1.xml dir/     load CAOM 2.2/2.3/2.4 documents
  hstvo xml export HST y34b0101t     print an observation as CAOM 2.4 XML
  hstvo adql 'SELECT TOP 3 * FROM ivoa.ObsCore'   the PostgreSQL of an ADQL query
  hstvo serve                        serve TAP and friends on 127.0.0.1:8080
  hstvo reffile add --name 'jref$new_bia.fits' --useafter 2005-01-01 --select DETECTOR=WFC --dry-run
                                     what a new reference file would recalibrate
  hstvo jobs                         the recalibration queue
  hstvo worker --cpus 8 --memory-mb 32000 --concurrency 4   run recalibration jobs

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

    db = commands.add_parser(
        "db", help="manage the database: start, stop, status, upgrade, psql, replica",
        description="Manage the embedded cluster and the schema.",
        epilog="read replicas (hot standbys by streaming replication, under var/replicas/):\n"
               "  hstvo db replica add NAME [--port P]   copy the primary, stream its WAL\n"
               "  hstvo db replica list                  each standby's state and lag\n"
               "  hstvo db replica remove NAME           stop it, delete it, drop its slot\n"
               "then serve reads from them: HSTVO_READ_URLS=postgresql://...,postgresql://...",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    db.add_argument("action", choices=["start", "stop", "status", "upgrade", "psql", "replica"],
                    help="start/stop/status: the embedded cluster under ./var/ and its replicas "
                         "(ignored with DATABASE_URL); upgrade: apply migrations; psql: open a "
                         "shell, or run -c/-f; replica: add, list or remove a hot standby")
    db.add_argument("replica_words", nargs="*", metavar="add NAME | list | remove NAME",
                    help="replica: what to do")
    db.add_argument("--port", type=int, help="replica add: the standby's port (default: the "
                                             "next free one above the primary's)")
    db.add_argument("-c", "--command", dest="sql", metavar="SQL",
                    help="psql: run this SQL and exit (e.g. -c 'SELECT * FROM hstvo.file_root')")
    db.add_argument("-f", "--file", dest="sql_file", metavar="FILE",
                    help="psql: run the SQL of this file and exit")
    db.add_argument("--read-only", action="store_true",
                    help="psql: every transaction read-only (nothing can be changed by mistake)")
    db.set_defaults(func=cmd_db)

    ingest = commands.add_parser(
        "ingest", help="ingest HST FITS files into CAOM (headers and footprints)",
        description="Read the headers and sky footprints of HST FITS files and build their CAOM "
                    "observations in the database (sql/54_hst_ingest.sql decides planes, levels "
                    "and bounds from the file-class rules). Re-ingesting a file changes nothing "
                    "unless its content changed; a file found at the path it was ingested from "
                    "with the same size and modification time is not even read again. A file "
                    "that cannot be ingested (unreadable, unknown instrument or suffix, a "
                    "missing keyword) is reported with its reason, here and in hst.ingest_log, "
                    "and the others still go in.",
        epilog="exit status: 0 when every file went in, 1 when some were refused",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ingest.add_argument("paths", nargs="+", metavar="PATH",
                        help="FITS files, directories (searched for *.fits, *.fits.gz) or "
                             "quoted globs such as 'archive/**/*_flt.fits'")
    ingest.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                        help="header-reading processes (default: one per CPU)")
    ingest.add_argument("--batch-size", type=_positive_int, default=500,
                        help="files per database transaction (default 500)")
    ingest.add_argument("-w", "--writers", type=_positive_int, default=2,
                        help="database connections storing batches at once (default 2): the "
                             "database does most of the work, one core per connection (a "
                             "batch ends where a dataset's files end, so that writers rarely "
                             "wait for each other; 2 on two cores ingests a fifth faster "
                             "than 1)")
    ingest.add_argument("--rebuild", action="store_true",
                        help="read every file and rebuild the observations of unchanged ones "
                             "too: after a change of the rules in the database (file classes, "
                             "filters, the proprietary period in hstvo.setting)")
    ingest.set_defaults(func=cmd_ingest)

    synth = commands.add_parser(
        "synth", help="write a synthetic HST archive (deterministic, header-only files)",
        description="Write COUNT dataset families (ACS, WFC3, STIS, WFPC2, COS, NICMOS) built "
                    "on the header layouts of the real files in shared/data/hst, with pointings "
                    "spread over the sky and plausible filters, dates, exposure times and "
                    "reference files. The same --seed always writes the same bytes.")
    synth.add_argument("directory", type=Path, help="where to write the files")
    synth.add_argument("--count", type=int, default=100, help="dataset families (default 100)")
    synth.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    synth.add_argument("--hap-mosaics", action="store_true",
                       help="add each ACS and WFC3 visit's HAP single-visit mosaic "
                            "(hst_<proposal>_<visit>_<instrument>_<detector>_<filter>_<ipppss>_drc.fits), "
                            "which the ingest makes a composite of the visit's exposures")
    synth.add_argument("--ingest", action="store_true",
                       help="ingest the archive as it is written, --chunk families at a time, "
                            "removing each chunk's files once ingested (unless --keep): a "
                            "million observations in the disk of two chunks. Resumable: run "
                            "the same command again to go on from the last chunk stored")
    synth.add_argument("--chunk", type=_positive_int, default=2000,
                       help="with --ingest: families per chunk (default 2000)")
    synth.add_argument("--keep", action="store_true",
                       help="with --ingest: keep the files (directory/chunk-NNNNNNNN/)")
    synth.add_argument("-j", "--jobs", type=_positive_int, default=os.cpu_count() or 1,
                       help="with --ingest: header-reading processes (default: one per CPU)")
    synth.add_argument("-w", "--writers", type=_positive_int, default=2,
                       help="with --ingest: database connections storing batches at once "
                            "(default 2)")
    synth.set_defaults(func=cmd_synth)

    xml = commands.add_parser("xml", help="import and export CAOM2 XML documents",
                              description="CAOM2 XML documents in and out of the archive.")
    xml_commands = xml.add_subparsers(dest="xml_command", required=True, metavar="ACTION")
    imp = xml_commands.add_parser(
        "import", help="load CAOM 2.2/2.3/2.4 XML files (files or directories)",
        description="Validate and store each document. Documents are stored a batch at a "
                    "time, set-wise, in one transaction; a batch the database refuses part of "
                    "is stored one observation per transaction instead. An invalid document "
                    "is reported with the element and line at fault and nothing of it is "
                    "written; the other files are still loaded.")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="XML files, or directories searched for *.xml")
    imp.add_argument("--restamp", action="store_true",
                     help="use the database clock for lastModified/maxLastModified instead of "
                          "the document's (a new version rather than an archive copy)")
    imp.add_argument("--batch-size", type=_positive_int, default=500, metavar="N",
                     help="documents stored per transaction (default 500: fewer, wider "
                          "set-wise writes)")
    imp.add_argument("-j", "--jobs", type=_positive_int, default=1, metavar="N",
                     help="importer processes, each reading and storing batches over its own "
                          "connection (default 1; 2 on two cores imports about twice as fast)")
    imp.set_defaults(func=cmd_xml_import)
    exp = xml_commands.add_parser("export", help="write one observation as CAOM 2.4 XML",
                                  description="Write an observation as a CAOM 2.4 document.")
    exp.add_argument("collection", help="collection, e.g. HST")
    exp.add_argument("observation_id", help="observationID, e.g. y34b0101t")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(func=cmd_xml_export)

    samples = commands.add_parser("samples", help="ingest the bundled real HST files",
                                  description="Ingest the real HST FITS files bundled in "
                                              "./data/hst/science (see data/MANIFEST.md for "
                                              "their origin): 11 observations of seven instruments.")
    samples.set_defaults(func=cmd_samples)

    adql = commands.add_parser(
        "adql", help="print the PostgreSQL an ADQL query becomes",
        description="Translate an ADQL 2.1 query as the TAP service does (names checked against "
                    "TAP_SCHEMA, geometry mapped to pgsphere) and print the PostgreSQL. With "
                    "--run, also run it (read-only) and print the rows.",
        epilog="example: hstvo adql \"SELECT TOP 5 obs_id FROM ivoa.ObsCore WHERE "
               "1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 201.7, -47.5, 0.1))\"",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    adql.add_argument("query", help="the ADQL query (quote it for the shell)")
    adql.add_argument("--run", action="store_true", help="run the query and print its rows")
    adql.set_defaults(func=cmd_adql)

    from .recal_cli import add_commands as add_recalibration_commands

    add_recalibration_commands(commands, _url)
    from .registry_cli import add_commands as add_registry_commands

    add_registry_commands(commands, _url)
    from .accounts_cli import add_commands as add_account_commands

    add_account_commands(commands, _url)
    from .harvest_cli import add_commands as add_harvest_commands

    add_harvest_commands(commands, _url)
    from .vos_cli import add_commands as add_vos_commands

    add_vos_commands(commands, _url)

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
    if args.replica_words and args.action != "replica":
        print(f"error: db {args.action} takes no {' '.join(args.replica_words)!r}",
              file=sys.stderr)
        return 2
    if args.action == "replica":
        if not settings.embedded:
            print("DATABASE_URL is set: make standbys of that server as its README section "
                  "says (pg_basebackup -R -S), then list them in HSTVO_READ_URLS",
                  file=sys.stderr)
            return 2
        return _replica_command(cluster, args)
    if args.action == "start":
        from .replicas import start_replicas

        cluster.start()
        print(cluster.status())
        for replica in start_replicas(cluster):
            print(f"replica {replica.root.name}: {replica.status()}")
    elif args.action == "stop":
        from .replicas import stop_replicas

        stop_replicas(cluster)
        cluster.stop()
        print(cluster.status())
    elif args.action == "status":
        print(cluster.status())
        return 0 if cluster.running() else 3
    elif args.action == "upgrade":
        revision = upgrade(_url(), settings)
        print(f"database is at revision {revision}")
    elif args.action == "psql":
        return subprocess.call(_psql_command(args), env=_psql_environment(args))
    return 0


def _replica_command(cluster, args: argparse.Namespace) -> int:
    """hstvo db replica add NAME [--port P] | list | remove NAME"""
    from .cluster import ClusterError
    from .replicas import add_replica, remove_replica, replica_states

    words = args.replica_words
    try:
        if words[:1] == ["add"] and len(words) == 2:
            replica = add_replica(cluster, words[1], args.port)
            print(f"replica {words[1]} streaming: {replica.url()}")
        elif words[:1] == ["remove"] and len(words) == 2:
            remove_replica(cluster, words[1])
            print(f"replica {words[1]} removed")
        elif words == ["list"]:
            states = replica_states(cluster)
            if not states:
                print("no replicas (hstvo db replica add NAME makes one)")
            for r in states:
                lag = ("" if r.lag_bytes is None else f", {r.lag_bytes} bytes behind"
                       + ("" if r.lag_seconds is None else f" ({r.lag_seconds:.3f} s)"))
                print(f"{r.name}: {'running' if r.running else 'stopped'}, "
                      f"{r.state or 'not connected'}{lag}, {r.url}")
        else:
            print("usage: hstvo db replica add NAME [--port P] | list | remove NAME",
                  file=sys.stderr)
            return 2
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _psql_command(args: argparse.Namespace) -> list[str]:
    """psql on the archive, with -c/-f passed on (and stopping at the first error)."""
    command = ["psql", _url(), "--no-psqlrc", "-v", "ON_ERROR_STOP=1"] \
        if args.sql or args.sql_file else ["psql", _url()]
    if args.sql:
        command += ["-c", args.sql]
    if args.sql_file:
        command += ["-f", args.sql_file]
    return command


def _psql_environment(args: argparse.Namespace) -> dict[str, str]:
    environment = dict(os.environ)
    if args.read_only:  # the server refuses every write of the session
        options = environment.get("PGOPTIONS", "")
        environment["PGOPTIONS"] = f"{options} -c default_transaction_read_only=on".strip()
    return environment


def _positive_int(text: str) -> int:
    """An argument that counts something: a whole number, 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def _progress_lines(bar, what: str, every: float = 30.0):
    """bar.update, which on a terminal moves the bar; and when the output goes to a log
    instead (nohup, cron), a line every `every` seconds, so that a long run is not silent."""
    import time

    started = last = time.monotonic()
    done = 0  # (a disabled bar counts nothing)

    def update(count: int) -> None:
        nonlocal last, done
        bar.update(count)
        done += count
        now = time.monotonic()
        if bar.disable and (now - last >= every or done == bar.total):
            last = now
            log.info("%d of %d %s (%.0f a second)", done, bar.total, what,
                     done / max(now - started, 1e-9))
    return update


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from loaders.fits_ingest import find_files, ingest

    from .db import connect

    files = find_files(args.paths)
    if not files:
        print("error: no FITS files found", file=sys.stderr)
        return 2
    with connect(_url(), autocommit=True) as conn, \
            tqdm(total=len(files), unit="file", disable=not sys.stderr.isatty()) as bar:
        report = ingest(conn, files, jobs=args.jobs, batch_size=args.batch_size,
                        progress=_progress_lines(bar, "files ingested"), rebuild=args.rebuild,
                        writers=args.writers, connect=lambda: connect(_url(), autocommit=True))
    for path, message in report.warnings:
        print(f"warning: {path}: {message}", file=sys.stderr)
    for path, message in report.refusals:
        print(f"refused: {path}: {message}", file=sys.stderr)
    rate = report.files / report.wall_seconds if report.wall_seconds else 0.0
    print(f"{report.files} files: {report.ingested} ingested, {report.unchanged} unchanged, "
          f"{report.refused} refused; {report.observations} observations, "
          f"{report.rows_written} CAOM rows in {report.wall_seconds:.1f} s ({rate:.0f} files/s)")
    return 1 if report.refused else 0


def cmd_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from loaders.synth import write_archive

    if args.ingest:
        return _synth_and_ingest(args)

    # the bar counts families (the unit asked for); the files each one adds show beside it
    with tqdm(total=args.count, unit="dataset", disable=not sys.stderr.isatty()) as bar:
        files = 0

        def advance(added: int) -> None:
            nonlocal files
            files += added
            bar.set_postfix(files=files, refresh=False)
            bar.update()

        written = write_archive(args.directory, count=args.count, seed=args.seed,
                                progress=advance, hap_mosaics=args.hap_mosaics)
    print(f"wrote {len(written)} files for {args.count} datasets to {args.directory}")
    return 0


def _synth_and_ingest(args: argparse.Namespace) -> int:
    """hstvo synth --ingest: write and ingest chunk by chunk (loaders.synth.stream_archive)."""
    from tqdm import tqdm

    from loaders.fits_ingest import IngestReport, ingest
    from loaders.synth import stream_archive, stream_progress

    from .db import connect

    total = IngestReport()
    with connect(_url(), autocommit=True) as conn, \
            tqdm(total=args.count, unit="dataset", disable=not sys.stderr.isatty()) as bar:

        def store(files: list[Path]) -> None:
            report = ingest(conn, files, jobs=args.jobs, writers=args.writers,
                            connect=lambda: connect(_url(), autocommit=True))
            for path, message in report.refusals:
                print(f"refused: {path}: {message}", file=sys.stderr)
            total.merge(report)
            bar.set_postfix(files=total.files, obs=total.observations,
                            rate=f"{total.files / max(total.wall_seconds, 1e-9):.0f} files/s",
                            refresh=False)

        position = stream_progress(args.directory)["families"]
        bar.update(position)

        def advance(families: int, files: int) -> None:
            nonlocal position
            position += families
            bar.update(families)
            if bar.disable:  # in a log instead of on a terminal: a line a chunk
                log.info("%d of %d datasets written and ingested; this run: %d files, "
                         "%d observations, %.0f files/s", position, args.count, total.files,
                         total.observations, total.files / max(total.wall_seconds, 1e-9))

        done = stream_archive(args.directory, args.count, args.seed, args.chunk, store,
                              keep=args.keep, hap_mosaics=args.hap_mosaics,
                              progress=advance)
    saved = stream_progress(args.directory)
    print(f"the stream in {args.directory} holds {saved['families']} datasets, "
          f"{saved['files']} files, written and ingested in {saved['seconds']:.0f} s "
          f"({saved['files'] / max(saved['seconds'], 1e-9):.0f} files/s)")
    print(f"wrote and ingested {done} datasets ({total.files} files: {total.ingested} ingested, "
          f"{total.unchanged} unchanged, {total.refused} refused; {total.observations} "
          f"observations) in {total.wall_seconds:.0f} s of ingest"
          + ("" if done == args.count else f"; {args.count - done} were done before"))
    return 1 if total.refused else 0


def cmd_adql(args: argparse.Namespace) -> int:
    from pyserver.adql import AdqlError, load_catalog, translate

    from .db import connect

    with connect(_url()) as conn:
        try:
            translation = translate(args.query, load_catalog(conn))
        except AdqlError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(translation.sql)
        if args.run:
            conn.execute("SET TRANSACTION READ ONLY")
            cursor = conn.execute(translation.sql)
            print("\t".join(c.name for c in translation.columns))
            for row in cursor:
                print("\t".join("" if v is None else str(v) for v in row))
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    """Ingest the bundled real HST files (data/hst/science, provenance in data/MANIFEST.md)."""
    ingest_args = argparse.Namespace(paths=[str(PROJECT_ROOT / "data" / "hst" / "science")],
                                     jobs=2, batch_size=500, rebuild=False, writers=1)
    return cmd_ingest(ingest_args)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    host, port = args.host or settings.http_host, args.port or settings.http_port
    if not os.environ.get("HSTVO_PUBLIC_URL"):
        # the URLs the service hands out (access_url, capabilities) name the port it serves on
        os.environ["HSTVO_PUBLIC_URL"] = f"http://{host}:{port}"
    uvicorn.run("pyserver.app:create_app", factory=True, host=host, port=port,
                workers=args.workers, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # alembic lists its plugins at INFO: noise in an operator's log
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except Exception as exc:  # a database that cannot be reached: one line, not a traceback
        if args.verbose:
            raise
        reason = _unreachable(exc)
        if reason is not None:
            print(f"error: cannot reach the archive's database ({_where()}): {reason}",
                  file=sys.stderr)
            return 2
        missing = _schema_behind(exc)
        if missing is None:
            raise
        print(f"error: the archive's database ({_where()}) is older than this hstvo: "
              f"{missing}; run `hstvo db upgrade`", file=sys.stderr)
        return 2


def _schema_behind(exc: BaseException) -> str | None:
    """What is missing when `exc` says a function, table or column of the schema does not
    exist (a database not yet upgraded to this version); else None."""
    import psycopg

    if isinstance(exc, (psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedTable,
                        psycopg.errors.UndefinedColumn, psycopg.errors.InvalidSchemaName)):
        return exc.diag.message_primary
    return None


def _unreachable(exc: BaseException) -> str | None:
    """Why the database could not be reached, when that is what `exc` says; else None."""
    import psycopg

    while exc is not None:
        if isinstance(exc, psycopg.OperationalError):
            return (str(exc).strip().splitlines() or ["connection failed"])[-1].strip()
        exc = exc.__cause__ or exc.__context__
    return None


def _where() -> str:
    """The database's address, without a password."""
    scheme, _, rest = _url().partition("://")
    userinfo, at, host = rest.rpartition("@")
    return f"{scheme}://{userinfo.split(':')[0]}@{host}" if at else f"{scheme}://{rest}"


if __name__ == "__main__":
    sys.exit(main())
