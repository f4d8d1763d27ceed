"""`hstvo harvest`: keep this database identical to another archive's, incrementally.

The harvest is the database's (sql/85_harvest.sql): a source's cursor, its batches, the
whole-tree copies, the checksum checks, the skipped observations and the deletions are SQL
functions a DBA can also call from psql (`CALL caom2.harvest('repo')`) or schedule with
pg_cron. This command adds sources, runs a harvest batch by batch with a progress bar (each
batch committed with its cursor), and shows where each source stands.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

EPILOG = """\
examples:
  hstvo harvest add-source repo --dsn postgresql://harvester@repo-db:5432/hstvo
        another hstvo database (its user sees every row there: the tables' owner, or BYPASSRLS)
  hstvo harvest add-source cadc --url https://archive.example.org --token "$TOKEN"
        another archive's repository service (/caom2repo)
  hstvo harvest run repo             what changed since the last run, and the deletions
  hstvo harvest run repo --full      everything again (a tree already here is left as it is)
  hstvo harvest schedule repo        hourly by pg_cron (--cron '*/15 * * * *', --off)
  hstvo harvest run repo --every 1h  hourly, until stopped (where pg_cron is not installed)
  hstvo harvest status               per source: cursor, lag, last run, rows moved, failures
  hstvo harvest skips repo           what could not be copied, and why
  hstvo harvest retry repo           try the skipped ones again now
  hstvo harvest diff repo --since 2026-11-01      compare by accMetaChecksum
  hstvo harvest diff repo --repair                and mend exactly what differs

From psql: CALL caom2.harvest('repo', batch_size => 1000); SELECT * FROM harvest.harvest_status;
"""


def add_commands(commands: argparse._SubParsersAction, url) -> None:
    """Register `hstvo harvest`; `url` returns the database URL."""
    harvest = commands.add_parser(
        "harvest", help="copy another archive's observations here, incrementally",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = harvest.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add-source", help="add a source: another database or a repository service",
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("name", help="the source's name here (lower case letters, digits, _)")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--dsn", help="another hstvo database: postgresql://user[:password]@host:port/db")
    where.add_argument("--url", help="another archive's base URL (its /caom2repo is read)")
    add.add_argument("--token", help="bearer token the repository service wants (--url)")
    add.add_argument("--collection", default="HST", help="the collection harvested (HST)")
    add.add_argument("--batch-size", type=int, default=1000,
                     help="observations per batch, each committed with its cursor (1000)")
    run = actions.add_parser("run", help="harvest a source now (or --every interval)")
    run.add_argument("name")
    run.add_argument("--full", action="store_true",
                     help="from the beginning: the cursors reset, every observation compared")
    run.add_argument("--batch-size", type=int, help="observations per batch (the source's)")
    run.add_argument("--every", help="run again at this interval until stopped: 30m, 1h, 1d")
    actions.add_parser("status", help="per source: cursor, lag, last run, rows moved, failures")
    skips = actions.add_parser("skips", help="the observations a source's harvest could not copy")
    skips.add_argument("name")
    retry = actions.add_parser("retry", help="try a source's skipped observations again")
    retry.add_argument("name")
    diff = actions.add_parser("diff", help="compare with a source by accMetaChecksum")
    diff.add_argument("name")
    diff.add_argument("--since", help="only observations changed since then (ISO 8601, UTC)")
    diff.add_argument("--repair", action="store_true",
                      help="copy again what differs or is missing, delete what the source deleted")
    schedule = actions.add_parser(
        "schedule", help="run a source's harvest by pg_cron (hourly unless --cron says)",
        description="Have pg_cron run CALL caom2.harvest(NAME) on a cron schedule. The embedded "
                    "cluster preloads pg_cron; without it, `hstvo harvest run NAME --every 1h`.")
    schedule.add_argument("name")
    schedule.add_argument("--cron", default="0 * * * *",
                          help="cron's five fields (default '0 * * * *': hourly, on the hour)")
    schedule.add_argument("--off", action="store_true", help="remove the source's schedule")
    remove = actions.add_parser("remove", help="forget a source (what it copied stays)")
    remove.add_argument("name")
    harvest.set_defaults(func=lambda args: cmd_harvest(args, url()))


def cmd_harvest(args: argparse.Namespace, url: str) -> int:
    """Dispatch `hstvo harvest ACTION`; database refusals become one-line errors."""
    try:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row,
                             application_name="hstvo harvest") as conn:
            return ACTIONS[args.action](conn, args)
    except psycopg.Error as exc:
        message = exc.diag.message_primary or str(exc).strip()
        hint = f" ({exc.diag.message_hint})" if exc.diag.message_hint else ""
        print(f"error: {message}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopped: the batches committed so far stay; the next run goes on from there",
              file=sys.stderr)
        return 130


def add_source(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if args.dsn:
        parts = conninfo_to_dict(args.dsn)
        with conn.transaction():  # a source that cannot be read is not added
            conn.execute("SELECT harvest.add_database_source(%s, %s, %s, %s, %s, %s, %s, %s)",
                         (args.name, parts.get("host", "127.0.0.1"), int(parts.get("port", 5432)),
                          parts.get("dbname", "hstvo"), parts.get("user", getpass.getuser()),
                          parts.get("password"), args.collection, args.batch_size))
            waiting = conn.execute("SELECT harvest.pending(%s) AS n", (args.name,)).fetchone()["n"]
        print(f"source {args.name}: {waiting} observations of {args.collection} to harvest")
    else:
        conn.execute("SELECT harvest.add_http_source(%s, %s, %s, %s, %s)",
                     (args.name, args.url, args.token, args.collection, args.batch_size))
        print(f"source {args.name}: {args.url}")
    return 0


def run(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if not args.every:
        return run_once(conn, args)
    seconds = interval_seconds(args.every)
    while True:
        status = run_once(conn, args)
        print(f"next run in {args.every} (Ctrl-C stops)", file=sys.stderr)
        time.sleep(seconds)
        args.full = False
        if status and status != 1:
            return status


def run_once(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    """One run, batch by batch, each batch its own transaction (as caom2.harvest does)."""
    if _kind(conn, args.name) == "http":
        from loaders.harvest_http import run_http_harvest

        return run_http_harvest(conn, args.name, full=args.full, batch_size=args.batch_size)
    from tqdm import tqdm

    run_id = conn.execute("SELECT harvest.begin_run(%s, %s) AS id", (args.name, args.full)).fetchone()["id"]
    failure = None
    try:
        conn.execute("SELECT harvest.retry_skipped(%s, %s)", (args.name, run_id))
        waiting = conn.execute("SELECT harvest.pending(%s) AS n", (args.name,)).fetchone()["n"]
        with tqdm(total=waiting, unit="obs", desc=f"harvest {args.name}", file=sys.stderr) as bar:
            while moved := conn.execute("SELECT harvest.copy_next(%s, %s, %s) AS n",
                                        (args.name, run_id, args.batch_size)).fetchone()["n"]:
                bar.update(moved)
        while conn.execute("SELECT harvest.delete_next(%s, %s, %s) AS n",
                           (args.name, run_id, args.batch_size)).fetchone()["n"]:
            pass
    except psycopg.Error as exc:
        failure = exc.diag.message_primary or str(exc).strip()
        if conn.closed:
            raise
    finally:
        if not conn.closed:
            conn.execute("SELECT harvest.end_run(%s, %s)", (run_id, failure))
    from loaders.harvest_http import report_run

    return report_run(conn, args.name, run_id, failure)


def interval_seconds(text: str) -> int:
    """'30m', '1h', '2d', '90s' in seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not found:
        raise SystemExit(f"error: --every {text!r}: say 30m, 1h or 1d")
    return int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


def status(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    rows = conn.execute("SELECT * FROM harvest.harvest_status ORDER BY source").fetchall()
    if not rows:
        print("no harvest sources (hstvo harvest add-source adds one)")
        return 0
    print(f"{'SOURCE':12} {'KIND':8} {'CURSOR (maxLastModified)':26} {'LAG':>14} "
          f"{'LAST RUN':19} {'STATE':11} {'COPIED':>7} {'DELETED':>7} {'FAILURES':>8}")
    for row in rows:
        started = row["last_run"].strftime("%Y-%m-%d %H:%M:%S") if row["last_run"] else "never"
        print(f"{row['source']:12} {row['kind']:8} {str(row['cursor_last_modified'] or '-'):26} "
              f"{str(row['lag'] or '-'):>14} {started:19} {row['last_run_state'] or '-':11} "
              f"{row['last_run_copied'] or 0:>7} {row['last_run_deleted'] or 0:>7} "
              f"{row['failures']:>8}")
    return 0


def skips(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    rows = conn.execute("SELECT * FROM harvest.skip WHERE source = %s ORDER BY last_tried, obsid",
                        (args.name,)).fetchall()
    if not rows:
        print(f"{args.name}: nothing skipped")
    for row in rows:
        print(f"{row['collection']}/{row['observationid']} ({row['obsid']}), "
              f"{row['attempts']} attempts, last {row['last_tried']:%Y-%m-%d %H:%M:%S}: {row['error']}")
    return 0


def retry(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    failure = None
    if _kind(conn, args.name) == "http":
        from loaders.harvest_http import retry_http

        copied = retry_http(conn, args.name)
        failure = "the source did not answer" if copied < 0 else None
    else:
        run_id = conn.execute("SELECT harvest.begin_run(%s) AS id", (args.name,)).fetchone()["id"]
        try:
            copied = conn.execute("SELECT harvest.retry_skipped(%s, %s) AS n",
                                  (args.name, run_id)).fetchone()["n"]
        except psycopg.Error as exc:
            failure, copied = exc.diag.message_primary, 0
        conn.execute("SELECT harvest.end_run(%s, %s)", (run_id, failure))
    left = conn.execute("SELECT count(*) AS n FROM harvest.skip WHERE source = %s",
                        (args.name,)).fetchone()["n"]
    print(f"{args.name}: {copied} copied, {left} still skipped" + (f"; failed: {failure}" if failure else ""))
    return 1 if failure else 0


def _kind(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute("SELECT kind FROM harvest.source WHERE name = %s", (name,)).fetchone()
    return row["kind"] if row else None


def diff(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if _kind(conn, args.name) == "http":
        return http_diff(conn, args)
    rows = conn.execute("SELECT * FROM harvest.differences(%s, %s)", (args.name, args.since)).fetchall()
    for row in rows:
        print(f"{row['difference']:14} {row['observationid']} ({row['obsid']}) "
              f"here {row['here'] or '-'} there {row['there'] or '-'}")
    print(f"{args.name}: {len(rows)} differences" + ("" if rows else ": identical"))
    if rows and args.repair:
        with conn.transaction():
            mended = conn.execute("SELECT harvest.repair(%s, %s) AS n", (args.name, args.since)).fetchone()["n"]
        left = conn.execute("SELECT count(*) AS n FROM harvest.differences(%s, %s)",
                            (args.name, args.since)).fetchone()["n"]
        print(f"{args.name}: {mended} mended, {left} differences left")
        return 1 if left else 0
    return 1 if rows else 0


def schedule(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    if args.off:
        removed = conn.execute("SELECT harvest.unschedule(%s) AS r", (args.name,)).fetchone()["r"]
        print(f"{args.name}: " + ("schedule removed" if removed else "had no schedule"))
        return 0
    job = conn.execute("SELECT harvest.schedule(%s, %s) AS job", (args.name, args.cron)).fetchone()["job"]
    print(f"{args.name}: pg_cron job {job} runs its harvest at '{args.cron}'")
    return 0


def http_diff(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    """diff for a repository service: its whole listing against this archive (--since is not
    used: what the source deleted shows only in the whole listing)."""
    import httpx

    from loaders.harvest_http import http_differences

    try:
        found, mended = http_differences(conn, args.name, repair=args.repair)
    except httpx.HTTPError as exc:
        print(f"error: the source did not answer: {exc}", file=sys.stderr)
        return 1
    for row in found:
        print(f"{row['difference']:14} {row['observationid']} "
              f"here {row['here'] or '-'} there {row['there'] or '-'}")
    print(f"{args.name}: {len(found)} differences" + ("" if found else ": identical"))
    if found and args.repair:
        left, _ = http_differences(conn, args.name)
        print(f"{args.name}: {mended} mended, {len(left)} differences left")
        return 1 if left else 0
    return 1 if found else 0


def remove(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    conn.execute("SELECT harvest.remove_source(%s)", (args.name,))
    print(f"source {args.name} removed (the observations it copied stay)")
    return 0


ACTIONS = {"add-source": add_source, "run": run, "status": status, "skips": skips,
           "retry": retry, "diff": diff, "schedule": schedule, "remove": remove}
