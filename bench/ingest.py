"""Benchmark: ingest a synthetic HST archive of N files with `hstvo ingest`'s code path.

    python bench/ingest.py [--files 10000] [--jobs 2] [--batch-size 500] [--seed 1]

Writes a deterministic synthetic archive (loaders.synth, header-only files of six instruments)
under var/bench-archive until it holds at least N files (kept between runs: the same seed gives
the same files), then ingests it into a fresh scratch database `hstvo_ingest_bench` on the
server of DATABASE_URL or the embedded cluster. Prints files/second end to end, CAOM rows per
second, and the split between reading headers (Python, in the reader processes) and the
database (COPY + hst.ingest_batch). Then it ingests the same files again, which must change
nothing, and prints that rate too (files unchanged on disk since their last ingest are not read
again: hst.unchanged_files).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import random
import shutil
import time

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database  # noqa: E402
from hstvo.config import PROJECT_ROOT, load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402
from loaders.fits_ingest import IngestReport, find_files, ingest  # noqa: E402
from loaders.synth import FORMAT as SYNTH_FORMAT, write_family  # noqa: E402


def synthetic_archive(directory: Path, files: int, seed: int) -> list[Path]:
    """At least `files` synthetic files in `directory`, written once per (files, seed)."""
    stamp = directory / f".complete-{files}-{seed}-format{SYNTH_FORMAT}"
    if not stamp.exists():
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        rng, written, index = random.Random(seed), 0, 0
        started = time.perf_counter()
        while written < files:
            written += len(write_family(directory, rng, index))
            index += 1
        stamp.write_text(f"{written} files, {index} families\n")
        print(f"wrote {written} files ({index} dataset families) in "
              f"{time.perf_counter() - started:.1f} s (not counted)")
    return find_files([str(directory)])


def describe(label: str, report: IngestReport, jobs: int, writers: int) -> None:
    wall = report.wall_seconds
    print(f"{label}: {report.files} files in {wall:.1f} s: {report.files / wall:.0f} files/s, "
          f"{report.rows_written / wall:.0f} CAOM rows/s ({report.rows_written} rows, "
          f"{report.observations} observations); "
          f"{report.ingested} ingested, {report.unchanged} unchanged, {report.refused} refused")
    if report.read_seconds == 0:
        print("  header reading: none (every file unchanged on disk since its last ingest: "
              "same path, size and modification time)")
    else:
        print(f"  header reading: {report.read_seconds:.1f} s summed over {jobs} reader process(es) "
              f"= {1000 * report.read_seconds / report.files:.2f} ms/file "
              f"({report.files / max(report.read_seconds / jobs, 1e-9):.0f} files/s with {jobs} readers)")
    print(f"  database (COPY + hst.ingest_batch): {report.database_seconds:.1f} s summed over "
          f"{writers} writer connection(s) = {1000 * report.database_seconds / report.files:.2f} "
          f"ms/file ({writers * report.files / max(report.database_seconds, 1e-9):.0f} files/s "
          f"with {writers} writers, "
          f"{report.rows_written / max(report.database_seconds, 1e-9):.0f} rows/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="archive size in files (10000)")
    parser.add_argument("--jobs", type=int, default=2, help="header-reader processes (2)")
    parser.add_argument("--writers", type=int, default=2,
                        help="database connections storing batches at once (2)")
    parser.add_argument("--batch-size", type=int, default=500, help="files per transaction (500)")
    parser.add_argument("--seed", type=int, default=1, help="synthetic archive seed (1)")
    args = parser.parse_args()

    paths = synthetic_archive(PROJECT_ROOT / "var" / "bench-archive", args.files, args.seed)
    url = scratch_database(database_url(load_settings()), "hstvo_ingest_bench")
    with psycopg.connect(url, autocommit=True) as conn:
        def connect() -> psycopg.Connection:
            return psycopg.connect(url, autocommit=True)

        options = dict(jobs=args.jobs, batch_size=args.batch_size, writers=args.writers,
                       connect=connect)
        first = ingest(conn, paths, **options)
        describe("first ingest", first, args.jobs, args.writers)
        again = ingest(conn, paths, **options)
        describe("re-ingest (idempotent)", again, args.jobs, args.writers)
        obscore = conn.execute("SELECT count(*) FROM ivoa.obscore").fetchone()[0]
    print(f"  ivoa.ObsCore rows: {obscore}")


if __name__ == "__main__":
    main()
