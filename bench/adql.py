"""Benchmark: ADQL -> PostgreSQL translation time per query.

    python bench/adql.py [--repeat 20]

Translates every query of the table-driven suite (tests/test_adql.py) `repeat` times with the
catalog read once from the archive's TAP_SCHEMA (DATABASE_URL or the embedded cluster), and
prints the median and 95th percentile per query, next to a bare sqlglot parse-and-generate of
the same text for scale.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import statistics
import time

import psycopg
import sqlglot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hstvo.config import load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402
from pyserver.adql import load_catalog, translate  # noqa: E402
from tests.test_adql import CASES  # noqa: E402


def timings(function, queries: list[str], repeat: int) -> list[float]:
    """Per query, the median of `repeat` runs, in milliseconds."""
    out = []
    for query in queries:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            function(query)
            runs.append(1000 * (time.perf_counter() - started))
        out.append(statistics.median(runs))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="runs per query (20)")
    args = parser.parse_args()
    with psycopg.connect(database_url(load_settings())) as conn:
        catalog = load_catalog(conn)
    queries = [adql for adql, _ in CASES]
    ours = timings(lambda q: translate(q, catalog), queries, args.repeat)
    bare = timings(lambda q: sqlglot.transpile(q, read="tsql", write="postgres"), queries, args.repeat)
    cuts = statistics.quantiles(ours, n=20)
    print(f"{len(queries)} ADQL queries of the test suite, median of {args.repeat} runs each:")
    print(f"  translate (parse, check, resolve names, geometry, generate): "
          f"median {statistics.median(ours):.3f} ms, 95th percentile {cuts[-1]:.3f} ms, "
          f"max {max(ours):.3f} ms")
    print(f"  bare sqlglot parse + generate of the same text: median {statistics.median(bare):.3f} ms")


if __name__ == "__main__":
    main()
