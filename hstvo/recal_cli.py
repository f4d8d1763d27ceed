"""The recalibration commands: `hstvo reffile`, `hstvo calver`, `hstvo jobs` and `hstvo worker`.

The decisions are the database's (sql/72_hst_reference_files.sql, 73_work_queue.sql,
74_hst_recalibration.sql): these commands call its functions and print what they return.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from .config import PROJECT_ROOT

REFFILE_EPILOG = """\
examples:
  hstvo reffile add /refs/x1r1642aj_bia.fits
        register a real reference file: type, USEAFTER and selection values from its header
  hstvo reffile add --name 'jref$x1r1642aj_bia.fits' --useafter 2005-01-01 \\
        --select DETECTOR=WFC CCDAMP=ABCD CCDGAIN=2.0 --dry-run
        how many datasets a new ACS/WFC bias for amplifiers ABCD at gain 2.0 would recalibrate
  hstvo reffile list --instrument ACS
  hstvo reffile best j94f05bgq       the reference files of a dataset: in use, and best
"""

JOBS_EPILOG = """\
examples:
  hstvo jobs                         the queue, like a batch system's job table
  hstvo jobs --status held           only the held jobs (they failed too often)
  hstvo jobs show 42                 one job, its reasons and its history
  hstvo jobs release 42 43           held jobs go back to the queue
  hstvo jobs totals                  how many jobs in each status
"""

WORKER_EPILOG = """\
A worker needs nothing but DATABASE_URL. It finds the archive (to fetch datasets and reference
files, and to return products) and the token that may write there in the database's settings
(hstvo.setting service_url and files_write_token); HSTVO_ARCHIVE_URL and HSTVO_TOKEN override
them. Run one per VM:
  hstvo worker --vm-type standard --cpus 8 --memory-mb 32000 --concurrency 4
SIGTERM finishes the jobs in hand (a second SIGTERM gives them back to the queue) and stops.
"""


# CRDS's HST rules as generated in 2013, bundled (data/MANIFEST.md)
DEFAULT_PMAP = PROJECT_ROOT / "data" / "hst" / "crds_mappings" / "hst_0001.pmap"


def add_commands(commands: argparse._SubParsersAction, url) -> None:
    """Register the recalibration commands; `url` returns the database URL."""
    reffile = commands.add_parser(
        "reffile", help="register HST reference files (and recalibrate what they change)",
        description="Register a reference file. In the same transaction, every dataset whose "
                    "best reference it becomes (its selection values match, its USEAFTER is the "
                    "latest not after the observation) gets a recalibration job.",
        epilog=REFFILE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = reffile.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register a reference file",
                             epilog=REFFILE_EPILOG,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("file", nargs="?", type=Path,
                     help="a reference FITS file: everything is read from its header")
    add.add_argument("--name", help="the file name as headers give it: jref$x1r1642aj_bia.fits")
    add.add_argument("--instrument", help="ACS, WFC3, ... (default: from the name's jref$ prefix)")
    add.add_argument("--type", dest="reftype",
                     help="biasfile, darkfile, ... (default: from the name's suffix)")
    add.add_argument("--useafter", help="first observation date it applies to (ISO 8601 or "
                                        "'Mar 01 2002 00:00:00')")
    add.add_argument("--select", nargs="*", default=[], metavar="KEY=VALUE",
                     help="selection values (VALUE may be A|B for either); keys not given match "
                          "any dataset")
    add.add_argument("--dry-run", action="store_true",
                     help="register nothing: only count the datasets it would recalibrate")
    add.set_defaults(func=lambda a: cmd_reffile_add(a, url()))
    listing = actions.add_parser("list", help="the registered reference files")
    listing.add_argument("--instrument")
    listing.add_argument("--type", dest="reftype")
    listing.set_defaults(func=lambda a: cmd_reffile_list(a, url()))
    seed = actions.add_parser(
        "seed", help="register CRDS's rules of 2013 (.pmap/.imap/.rmap): enqueues nothing",
        description="Load the registry from CRDS's mapping files: every reference file each "
                    ".rmap names, with the selection values and USEAFTER of each match. They "
                    "say what the archive was calibrated with, so nothing is enqueued; a file "
                    "registered from its own header keeps that registration. Safe to repeat.")
    seed.add_argument("pmap", nargs="?", type=Path, default=DEFAULT_PMAP,
                      help=f"the .pmap (its .imap and .rmap files beside it; default "
                           f"{DEFAULT_PMAP.relative_to(PROJECT_ROOT)})")
    seed.set_defaults(func=lambda a: cmd_reffile_seed(a, url()))
    best = actions.add_parser("best", help="a dataset's reference files: in use and best")
    best.add_argument("dataset", help="the exposure's rootname, e.g. j94f05bgq")
    best.set_defaults(func=lambda a: cmd_reffile_best(a, url()))

    calver = commands.add_parser(
        "calver", help="set an instrument's calibration software version (recalibrates it)",
        description="A new calibration software release: every dataset of the instrument not "
                    "calibrated with that CAL_VER gets a recalibration job.")
    calver_actions = calver.add_subparsers(dest="action", required=True, metavar="ACTION")
    calver_set = calver_actions.add_parser("set", help="set the version")
    calver_set.add_argument("instrument", help="ACS, WFC3, STIS, COS, NICMOS or WFPC2")
    calver_set.add_argument("version", help="the new CAL_VER, e.g. '10.4.0 (17-Mar-2024)'")
    calver_set.add_argument("--dry-run", action="store_true", help="only count")
    calver_set.set_defaults(func=lambda a: cmd_calver_set(a, url()))

    jobs = commands.add_parser(
        "jobs", help="the recalibration queue: list, show, hold, release, cancel, retry, totals",
        description="The work queue, as a batch system shows it.", epilog=JOBS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    jobs.add_argument("action", nargs="?", default="list",
                      choices=["list", "show", "hold", "release", "cancel", "retry", "totals", "reap"])
    jobs.add_argument("ids", nargs="*", type=int, help="job ids (show, hold, release, cancel, retry)")
    jobs.add_argument("--status", help="list only jobs in this status")
    jobs.add_argument("--limit", type=int, default=50, help="list at most this many (50)")
    jobs.set_defaults(func=lambda a: cmd_jobs(a, url()))

    worker = commands.add_parser(
        "worker", help="claim and run recalibration jobs",
        description="Claim jobs this machine's resources satisfy, run them, report back.",
        epilog=WORKER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    worker.add_argument("--vm-type", default="standard", help="this VM's type (standard)")
    worker.add_argument("--cpus", type=int, default=1, help="CPUs of this VM (1)")
    worker.add_argument("--memory-mb", type=int, default=4096, help="memory of this VM (4096)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs at a time (1)")
    worker.add_argument("--once", action="store_true", help="run at most one job, then stop")
    worker.add_argument("--lease", type=int, default=60,
                        help="seconds a job stays ours without a heartbeat (60)")
    worker.add_argument("--cache", type=Path, default=None,
                        help="where fetched files are kept (default $XDG_CACHE_HOME/hstvo/worker, "
                             "else ~/.cache/hstvo/worker)")
    worker.add_argument("--idle-exit", type=float, default=None,
                        help="stop after this many seconds without a job (default: never)")
    worker.set_defaults(func=lambda a: cmd_worker(a, url()))


# ---------------------------------------------------------------------------------------------
# reffile and calver
# ---------------------------------------------------------------------------------------------

def _useafter(text: str) -> datetime:
    """USEAFTER as reference files write it ('Mar 01 2002 00:00:00') or ISO 8601."""
    for pattern in ("%b %d %Y %H:%M:%S", "%b %d %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                    "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    raise SystemExit(f"error: USEAFTER {text!r} is not a date (use 2005-01-01 or 'Jan 01 2005')")


def _selection(pairs: list[str]) -> dict[str, list[str]]:
    selection = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --select {pair!r} is not KEY=VALUE")
        selection[key.strip().upper()] = [v.strip() for v in value.split("|")]
    return selection


def _from_header(path: Path, conn: psycopg.Connection) -> dict:
    """Name, instrument, type, USEAFTER and selection values of a reference FITS file."""
    from loaders.fits_header import FitsReadError, read_fits

    try:
        header = read_fits(path).primary
    except FitsReadError as exc:
        raise SystemExit(f"error: {path}: {exc}") from None
    instrument = str(header.get("INSTRUME", "")).strip().upper()
    row = conn.execute("SELECT reftype, parkeys FROM hst.reftype_of_file(%s, %s, %s)",
                       (instrument, path.name, str(header.get("FILETYPE", "")))).fetchone()
    if row[0] is None:
        raise SystemExit(f"error: {path}: no {instrument} reference type has this file's suffix "
                         "or FILETYPE")
    if "USEAFTER" not in header:
        raise SystemExit(f"error: {path}: no USEAFTER keyword")
    selection = {key: [str(header[key]).strip()] for key in row[1]
                 if key in header and str(header[key]).strip() not in ("", "ANY", "N/A")}
    return {"name": path.name, "instrument": instrument, "reftype": row[0],
            "useafter": _useafter(str(header["USEAFTER"])), "selection": selection,
            "path": str(path.resolve())}


def _from_arguments(args: argparse.Namespace, conn: psycopg.Connection) -> dict:
    if not args.name or not args.useafter:
        raise SystemExit("error: give a reference FITS file, or --name and --useafter")
    location, _, name = args.name.rpartition("$")
    instrument = args.instrument
    if instrument is None:
        instrument = conn.execute("SELECT hst.instrument_of_location(%s)", (location,)).fetchone()[0]
        if instrument is None:
            raise SystemExit(f"error: cannot tell the instrument of {args.name}: use --instrument")
    reftype = args.reftype
    if reftype is None:
        reftype = conn.execute("SELECT reftype FROM hst.reftype_of_file(%s, %s)",
                               (instrument, name)).fetchone()[0]
        if reftype is None:
            suffix = name.split(".")[0].rpartition("_")[2].lower()
            raise SystemExit(f"error: no {instrument} reference type has suffix {suffix}: use --type")
    return {"name": name, "instrument": instrument, "reftype": reftype,
            "useafter": _useafter(args.useafter), "selection": _selection(args.select),
            "path": None}


def _print_counts(rows: list[tuple], verb: str) -> None:
    total = sum(r[2] for r in rows)
    print(f"{total} dataset{'s' if total != 1 else ''} {verb}")
    for instrument, detector, count in rows:
        print(f"  {instrument:8} {detector or '-':10} {count}")


def cmd_reffile_add(args: argparse.Namespace, url: str) -> int:
    """Register a reference file (or count what it would change)."""
    with psycopg.connect(url) as conn:
        conn.execute("SET client_min_messages = warning")
        spec = _from_header(args.file, conn) if args.file else _from_arguments(args, conn)
        try:
            rows = conn.execute(
                "SELECT * FROM hst.register_reference_file(%s, %s, %s, %s, %s, %s, %s)",
                (spec["name"], spec["instrument"], spec["reftype"], spec["useafter"],
                 json.dumps(spec["selection"]), spec["path"], args.dry_run)).fetchall()
        except psycopg.Error as exc:
            print(f"error: {exc.diag.message_primary}", file=sys.stderr)
            if exc.diag.message_hint:
                print(f"hint: {exc.diag.message_hint}", file=sys.stderr)
            return 1
    what = f"{spec['instrument']} {spec['reftype']} {spec['name']} (USEAFTER {spec['useafter']:%Y-%m-%d %H:%M:%S}"
    what += "".join(f", {k}={'|'.join(v)}" for k, v in spec["selection"].items()) + ")"
    print(("would register " if args.dry_run else "registered ") + what)
    _print_counts(rows, "would be recalibrated" if args.dry_run else "queued for recalibration")
    return 0


def cmd_reffile_seed(args: argparse.Namespace, url: str) -> int:
    """Register the files of CRDS's rules (hst.seed_reference_rules)."""
    from psycopg.types.json import Jsonb

    from loaders.crds_rules import RulesError, pmap_rules

    missing: list[str] = []
    try:
        rules = [rule.as_json() for rule in pmap_rules(args.pmap, missing)]
    except RulesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with psycopg.connect(url) as conn:
        files, selections = conn.execute("SELECT * FROM hst.seed_reference_rules(%s)",
                                         (Jsonb(rules),)).fetchone()
    rmaps = len({rule["rmap"] for rule in rules})
    print(f"read {len(rules)} rules of {rmaps} .rmap files from {args.pmap.name}: "
          f"{files} reference files and {selections} selections registered "
          f"(the rest were registered already); nothing enqueued")
    if missing:
        print(f"not beside {args.pmap.name}, skipped: {', '.join(sorted(set(missing)))}")
    return 0


def cmd_reffile_list(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT instrument, reftype, location || '$' || file_name, useafter, selection::text"
            "  FROM hst.reference_file WHERE (%(i)s::text IS NULL OR instrument = upper(%(i)s))"
            "   AND (%(t)s::text IS NULL OR reftype = lower(%(t)s))"
            " ORDER BY instrument, reftype, useafter", {"i": args.instrument, "t": args.reftype}).fetchall()
    if not rows:
        print("no reference files registered" + (" for that instrument or type" if args.instrument
                                                 or args.reftype else "")
              + ": `hstvo reffile add FILE` registers one")
        return 0
    print(f"{'instrument':10} {'type':10} {'file':28} {'useafter':19}  selection")
    for instrument, reftype, name, useafter, selection in rows:
        print(f"{instrument:10} {reftype:10} {name:28} {useafter:%Y-%m-%d %H:%M:%S}  {selection}")
    return 0


def cmd_reffile_best(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT * FROM hst.dataset_references(%s)", (args.dataset,)).fetchall()
    if not rows:
        print(f"error: no calibrated dataset {args.dataset}", file=sys.stderr)
        return 1
    print(f"{'type':10} {'keyword':10} {'in use':24} {'best registered':24}")
    for reftype, keyword, current, best in rows:
        mark = "  <- differs" if best and best != current else ""
        print(f"{reftype:10} {keyword:10} {current or '-':24} {best or '-':24}{mark}")
    return 0


def cmd_calver_set(args: argparse.Namespace, url: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("SET client_min_messages = warning")
        try:
            rows = conn.execute("SELECT * FROM hst.set_calibration_software(%s, %s, %s)",
                                (args.instrument, args.version, args.dry_run)).fetchall()
        except psycopg.Error as exc:
            print(f"error: {exc.diag.message_primary}", file=sys.stderr)
            return 1
    print(f"{args.instrument.upper()} calibration software {args.version}"
          + (" (dry run)" if args.dry_run else ""))
    _print_counts(rows, "would be recalibrated" if args.dry_run else "queued for recalibration")
    return 0


# ---------------------------------------------------------------------------------------------
# jobs
# ---------------------------------------------------------------------------------------------

def _when(value) -> str:
    return f"{value:%m/%d %H:%M:%S}" if value else "-"


def cmd_jobs(args: argparse.Namespace, url: str) -> int:
    """The queue: list (the default), show, hold, release, cancel, retry, totals, reap."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        # the job's history names the person who moved it (queue.actor)
        conn.execute("SELECT set_config('hstvo.actor', %s, false)", (getpass.getuser(),))
        if args.action == "list":
            return _jobs_list(conn, args)
        if args.action == "totals":
            for row in conn.execute("SELECT * FROM queue.totals"):
                print(f"{row['status']:10} {row['jobs']}")
            return 0
        if args.action == "reap":
            print(f"{conn.execute('SELECT queue.reap_expired() AS n').fetchone()['n']} expired leases returned")
            return 0
        if not args.ids:
            print(f"error: jobs {args.action} needs job ids", file=sys.stderr)
            return 2
        if args.action == "show":
            return _jobs_show(conn, args.ids)
        status = 0
        for job_id in args.ids:
            try:
                with conn.transaction():
                    job = conn.execute("SELECT * FROM queue.set_status(%s, %s)",
                                       (job_id, args.action)).fetchone()
                print(f"job {job_id}: {job['status']}")
            except psycopg.Error as exc:
                print(f"error: {exc.diag.message_primary}", file=sys.stderr)
                status = 1
        return status


def _jobs_list(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    rows = conn.execute(
        "SELECT * FROM queue.job WHERE (%(s)s::text IS NULL OR status::text = lower(%(s)s))"
        " ORDER BY id DESC LIMIT %(n)s", {"s": args.status, "n": args.limit}).fetchall()
    if not rows:
        print("no jobs" + (f" {args.status}" if args.status else "") + " in the queue")
        return 0
    print(f"{'ID':>8} {'OWNER':10} {'STARTED':14} {'STATUS':9} {'COMMAND':10} {'DATASET':10} "
          f"{'VM':9} {'CPU':>3} {'MEM_MB':>6} {'STARTS':>6}")
    for job in reversed(rows):
        print(f"{job['id']:>8} {job['owner'][:10]:10} {_when(job['started']):14} "
              f"{job['status']:9} {job['command'][:10]:10} {(job['dataset'] or '-')[:10]:10} "
              f"{(job['vm_type'] or 'any')[:9]:9} {job['min_cpus']:>3} {job['min_memory_mb']:>6} "
              f"{job['starts']:>6}")
    return 0


def _jobs_show(conn: psycopg.Connection, ids: list[int]) -> int:
    for job_id in ids:
        job = conn.execute("SELECT * FROM queue.job WHERE id = %s", (job_id,)).fetchone()
        if job is None:
            print(f"error: job {job_id} does not exist", file=sys.stderr)
            return 1
        for key, value in job.items():
            if key in ("reasons", "arguments", "result") and value is not None:
                value = json.dumps(value)
            print(f"{key:14} {value if value is not None else '-'}")
        print("history:")
        for event in conn.execute("SELECT * FROM queue.job_history WHERE job_id = %s ORDER BY at",
                                  (job_id,)):
            print(f"  {event['at']:%Y-%m-%d %H:%M:%S.%f} {event['from_status'] or 'new':9} -> "
                  f"{event['to_status']:9} {event['worker'] or ''} {event['note'] or ''}".rstrip())
    return 0


def cmd_worker(args: argparse.Namespace, url: str) -> int:
    from loaders.worker import Worker, WorkerConfig

    config = WorkerConfig(vm_type=args.vm_type, cpus=args.cpus, memory_mb=args.memory_mb,
                          concurrency=args.concurrency, once=args.once, lease_seconds=args.lease,
                          cache_dir=args.cache, idle_exit_seconds=args.idle_exit)
    return Worker(url, config).run()

