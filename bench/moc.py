"""Benchmark: the coverage MOC of 100,000 footprints at order 10 (pgsphere smoc, in the database).

    python bench/moc.py [--planes 100000] [--order 10]

Uses the scratch archive of bench/datalink.py (`planes` planes with 6-arcminute footprints,
built once), empties the MOC cache, and prints the time hstvo.coverage_moc takes to build the
MOC, then the time of the same request answered from the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.datalink import build  # noqa: E402
from bench.scratch import existing_database  # noqa: E402
from hstvo.config import load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--planes", type=int, default=100_000)
    parser.add_argument("--order", type=int, default=10)
    parser.add_argument("--database", metavar="NAME",
                        help="instead of the generated planes: an archive built the way users "
                             "build one (hstvo synth --ingest), on the same server")
    args = parser.parse_args()
    url = existing_database(database_url(load_settings()), args.database) if args.database \
        else build(database_url(load_settings()), args.planes)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM hstvo.moc_cache")
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            planes, cached, cells = conn.execute(
                "SELECT planes, cached, length(moc::text) FROM hstvo.coverage_moc('HST', NULL, NULL, "
                "NULL, %s)", (args.order,)).fetchone()
            timings.append((time.perf_counter() - started, cached))
    (built, _), (again, cached) = timings
    print(f"MOC of {planes} footprints at order {args.order}: built in {built:.2f} s "
          f"({cells} characters of ASCII MOC); from the cache in {1000 * again:.1f} ms (cached={cached})")


if __name__ == "__main__":
    main()
