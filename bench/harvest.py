"""Benchmark: the harvest, database to database (postgres_fdw) and over HTTP.

    python bench/harvest.py [--observations 100000] [--http-observations 100000] [--batch-size 1000]

Builds (once; kept between runs) a source database `hstvo_harvest_bench_source` of N synthetic
observations of 4 planes each (whole trees: artifacts, parts, chunks; one in ten proprietary),
written through the lifecycle triggers (bench/synthetic_caom.py). Then, into fresh destination
databases, prints observations per second of:
  * a full harvest through postgres_fdw (CALL caom2.harvest);
  * a full harvest over HTTP of the first --http-observations of them, from `hstvo serve` on the
    source (its /caom2repo, with a writer's token);
  * an incremental harvest after 1% of the source's observations changed (seconds), both ways;
  * the floor: what indexing the footprints alone costs a tree here (pgsphere's GiST key of a
    polygon), and the rate it leaves room for on this machine's cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py: this directory must not shadow the standard library's queue module
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import psycopg  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database, serve  # noqa: E402
from bench.synthetic_caom import add_observations  # noqa: E402
from hstvo.config import PROJECT_ROOT, load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402

SOURCE = "hstvo_harvest_bench_source"
TOKEN = "bench-harvest-token-0123456789"


def source_database(base_url: str, observations: int) -> str:
    """The source, built once per size (adding observations in slices, with progress)."""
    url = f"{base_url.rpartition('/')[0]}/{SOURCE}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT count(*) FROM caom2.observation").fetchone()[0] == observations:
                return url
    except psycopg.OperationalError:
        pass
    started = time.perf_counter()
    url = scratch_database(base_url, SOURCE)
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, observations, 10_000):
            count = min(10_000, observations - first)
            add_observations(conn, count, f"b{first // 10_000}x", planes=4)
            print(f"  source: {first + count} observations", file=sys.stderr)
    print(f"built {SOURCE} in {time.perf_counter() - started:.0f} s (not counted)")
    return url


def add_writer(url: str) -> None:
    subprocess.run([sys.executable, "-c", f"from tests.conftest import add_writer; "
                                          f"add_writer({url!r}, {TOKEN!r}, 'harvester')"],
                   cwd=PROJECT_ROOT, check=True)


def database_harvest(source_url: str, destination_url: str, batch_size: int) -> tuple[float, int]:
    parts = urlsplit(source_url)
    with psycopg.connect(destination_url, autocommit=True) as conn:
        conn.execute("SELECT harvest.add_database_source('src', %s, %s, %s, %s, %s, 'HST', %s)",
                     (parts.hostname, parts.port or 5432, parts.path.lstrip("/"),
                      parts.username, parts.password, batch_size))
        return timed_call(conn, lambda: conn.execute("CALL caom2.harvest('src')"), "src")


def http_harvest(base: str, destination_url: str, batch_size: int) -> tuple[float, int]:
    with psycopg.connect(destination_url, autocommit=True) as conn:
        conn.execute("SELECT harvest.add_http_source('web', %s, %s, 'HST', %s)",
                     (base, TOKEN, batch_size))
    return timed_run(destination_url, "web")


def timed_run(destination_url: str, name: str) -> tuple[float, int]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hstvo.cli", "harvest", "run", name],
                   env={**__import__("os").environ, "DATABASE_URL": destination_url},
                   cwd=PROJECT_ROOT, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    with psycopg.connect(destination_url) as conn:
        copied = conn.execute("SELECT copied FROM harvest.run WHERE source = %s ORDER BY id DESC "
                              "LIMIT 1", (name,)).fetchone()[0]
    return seconds, copied


def timed_call(conn, call, name: str) -> tuple[float, int]:
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    copied = conn.execute("SELECT copied FROM harvest.run WHERE source = %s ORDER BY id DESC "
                          "LIMIT 1", (name,)).fetchone()[0]
    return seconds, copied


def change_one_percent(source_url: str, observations: int) -> int:
    """1% of the source's observations changed (a plane's exposure time each): their roll-up
    moves their maxLastModified, as any real change does."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        return conn.execute(
            "WITH changed AS (UPDATE caom2.plane SET time_exposure = time_exposure + 1 "
            " WHERE planeid IN (SELECT planeid FROM caom2.plane WHERE productid LIKE '%%\\_1' "
            " ORDER BY planeid LIMIT %s) RETURNING 1) SELECT count(*) FROM changed",
            (observations // 100,)).fetchone()[0]


def footprint_index_floor(destination_url: str, planes_per_tree: float) -> None:
    """What the footprint indexes alone cost a copied tree, measured on the destination's own
    footprints: every written footprint is indexed by pgsphere's GiST once per index on a
    polygon column (caom2.plane's position_bounds_spoly, ObsCore's s_region), and the key of a
    polygon costs tens of microseconds (its corners are tested against the six axis points).
    Prints the microseconds per key and the most trees per second that leaves room for, with
    nothing else done, on all of this machine's cores."""
    with psycopg.connect(destination_url) as conn:
        indexes = conn.execute(
            "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "  JOIN pg_am am ON am.oid = c.relam JOIN pg_attribute a "
            "    ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) "
            " WHERE am.amname = 'gist' AND a.atttypid = 'spoly'::regtype "
            "   AND i.indrelid = ANY (ARRAY['caom2.plane', 'hstvo.obscore_rows']::regclass[])"
        ).fetchone()[0]
        conn.execute("CREATE TEMP TABLE footprints AS SELECT position_bounds_spoly AS region "
                     "FROM caom2.plane WHERE position_bounds_spoly IS NOT NULL LIMIT 20000")
        count = conn.execute("SELECT count(*) FROM footprints").fetchone()[0]
        conn.execute("CREATE TEMP TABLE plain (region spoly)")
        conn.execute("CREATE TEMP TABLE indexed (region spoly)")
        conn.execute("CREATE INDEX ON indexed USING gist (region)")
        seconds = {}
        for table in ("plain", "indexed"):
            started = time.perf_counter()
            conn.execute(f"INSERT INTO {table} SELECT region FROM footprints")
            seconds[table] = time.perf_counter() - started
        conn.rollback()
    if not count:
        print("  floor: no footprints in the destination to time")
        return
    per_key = (seconds["indexed"] - seconds["plain"]) / count
    per_tree = per_key * indexes * planes_per_tree
    cores = os.cpu_count() or 1
    print(f"  floor: a footprint's GiST key costs {per_key * 1e6:.0f} us ({count} footprints "
          f"inserted with and without the index); {indexes} footprint "
          f"indexes x {planes_per_tree:g} planes = {per_tree * 1e3:.2f} ms of CPU a tree, so at "
          f"most {cores / per_tree:,.0f} trees/s on {cores} cores with nothing else done")


def http_path_floor(source_url: str, destination_url: str, sample: int = 500) -> None:
    """What a tree costs on the HTTP path's unavoidable steps, measured one after the other on
    `sample` trees: the source makes its document (caom2.observation_document) and writes it as
    CAOM2 XML, the harvester reads the XML strictly, and the destination stores it
    (caom2.put_observations, which computes every checksum again: the check). Source and
    destination share this machine's cores, so their sum bounds the rate."""
    from loaders.caom2xml import read_document, write_document

    with psycopg.connect(source_url) as src, psycopg.connect(destination_url) as dst:
        started = time.perf_counter()
        documents = [row[0] for row in src.execute(
            "SELECT caom2.observation_document(obsid) FROM caom2.observation "
            "ORDER BY maxlastmodified DESC LIMIT %s", (sample,))]
        made = time.perf_counter() - started
        started = time.perf_counter()
        texts = [write_document(document) for document in documents]
        written = time.perf_counter() - started
        started = time.perf_counter()
        read = [read_document(text) for text in texts]
        parsed = time.perf_counter() - started
        ids = [document["observation"]["obsid"] for document in read]
        dst.execute("DELETE FROM caom2.observation WHERE obsid = ANY (%s::uuid[])", (ids,))
        started = time.perf_counter()
        stored_trees = dst.execute("SELECT jsonb_array_length(caom2.put_observations(%s, true))",
                                   (Jsonb(read),)).fetchone()[0]
        stored = time.perf_counter() - started
        dst.rollback()
    if not documents:
        print("  HTTP floor: no observations at the source to time")
        return
    steps = {"document": made, "XML written": written, "XML read": parsed, "stored": stored}
    per_tree = sum(steps.values()) / len(documents)
    cores = os.cpu_count() or 1
    print(f"  HTTP floor ({len(documents)} trees, {stored_trees} stored): " + ", ".join(
        f"{name} {value / len(documents) * 1e3:.2f}" for name, value in steps.items())
          + f" ms a tree = {per_tree * 1e3:.2f} ms of CPU, so at most {cores / per_tree:,.0f} "
          f"trees/s on {cores} cores, before any HTTP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--http-observations", type=int, default=100_000,
                        help="how many of them the HTTP harvest copies (its source is a copy "
                             "of the first ones)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8096)
    parser.add_argument("--source-workers", type=int, default=2,
                        help="server processes of the HTTP source (2: one per core here)")
    args = parser.parse_args()

    base_url = database_url(load_settings())
    source = source_database(base_url, args.observations)
    print(f"{args.observations} observations of 4 planes (whole trees), batches of {args.batch_size}:")

    destination = scratch_database(base_url, "hstvo_harvest_bench_fdw")
    seconds, copied = database_harvest(source, destination, args.batch_size)
    print(f"  postgres_fdw, full: {copied / seconds:,.0f} obs/s ({copied} in {seconds:.1f} s)")
    changed = change_one_percent(source, args.observations)
    with psycopg.connect(destination, autocommit=True) as conn:
        seconds, copied = timed_call(conn, lambda: conn.execute("CALL caom2.harvest('src')"), "src")
    print(f"  postgres_fdw, 1% changed ({changed}): {seconds:.2f} s ({copied} copied)")
    footprint_index_floor(destination, 4)

    # the HTTP source: a copy of the first --http-observations of the source, served
    http_source = source
    if args.http_observations < args.observations:
        http_source = scratch_database(base_url, "hstvo_harvest_bench_http_source")
        with psycopg.connect(http_source, autocommit=True) as conn:
            add_observations(conn, args.http_observations, "h", planes=4)
    add_writer(http_source)
    process = serve(http_source, args.port, workers=args.source_workers,
                    probe="/caom2repo/availability")
    try:
        destination = scratch_database(base_url, "hstvo_harvest_bench_http")
        seconds, copied = http_harvest(f"http://127.0.0.1:{args.port}", destination, args.batch_size)
        print(f"  HTTP, full ({args.http_observations}; the source serving with "
              f"{args.source_workers} processes): {copied / seconds:,.0f} obs/s "
              f"({copied} in {seconds:.1f} s)")
        changed = change_one_percent(http_source, args.http_observations)
        seconds, copied = timed_run(destination, "web")
        print(f"  HTTP, 1% changed ({changed}): {seconds:.2f} s ({copied} copied)")
        http_path_floor(http_source, destination)
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
