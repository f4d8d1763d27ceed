"""Benchmark: import N generated observations through the CAOM2 XML path.

    python bench/xml_import.py [--count 10000] [--jobs 2] [--batch-size 500]

Generates N deterministic CAOM 2.4 documents from a bundled sample (ids, names, footprints and
times vary with the index) as files, then times `hstvo xml import --jobs N`'s own path
(hstvo.xml_cli): each importer process parses and validates the XML (Python) and stores the
documents a batch at a time with caom2.put_observations (checksums, timestamps, roll-up in
PostgreSQL). Runs in a scratch database `hstvo_bench` on the same server as
DATABASE_URL or the embedded cluster, created afresh. Prints observations/second and where the
time goes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import copy
import tempfile
import time
import uuid

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database  # noqa: E402
from hstvo.config import PROJECT_ROOT, load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402
from hstvo.xml_cli import import_batches  # noqa: E402
from loaders.caom2xml import read_document, write_document  # noqa: E402

TEMPLATE = PROJECT_ROOT / "data" / "caom2" / "j94f05bgq.xml"
NAMESPACE = uuid.UUID("5b0e0c1e-9f44-4d8e-bb6a-4f2b3c1d0a00")


def generate(count: int) -> list[bytes]:
    """N CAOM 2.4 documents, the same every run."""
    base = read_document(str(TEMPLATE))
    documents = []
    for i in range(count):
        doc = copy.deepcopy(base)
        name = f"jb{i:07d}q"
        obs = doc["observation"]
        obs["obsid"] = str(uuid.uuid5(NAMESPACE, name))
        obs["observationid"] = name
        ra_shift, dec_shift = (i * 0.37) % 360.0, ((i * 0.11) % 100.0) - 50.0
        for plane in doc["planes"]:
            plane["planeid"] = str(uuid.uuid5(NAMESPACE, name + "/plane"))
            plane["productid"] = f"{name}_flt"
            bounds = plane["position_bounds"]
            plane["position_bounds"] = [
                (v + ra_shift) % 360.0 if k % 2 == 0 else v + 72.07 + dec_shift - 0.05
                for k, v in enumerate(bounds)]
            samples = plane["position_bounds_samples"]
            plane["position_bounds_samples"] = [
                (v + ra_shift) % 360.0 if k % 3 == 0 else
                (v + 72.07 + dec_shift - 0.05 if k % 3 == 1 else v)
                for k, v in enumerate(samples)]
            plane["time_bounds_lower"] += i * 0.01
            plane["time_bounds_upper"] += i * 0.01
            plane["time_bounds_samples"] = [plane["time_bounds_lower"], plane["time_bounds_upper"]]
            for artifact in plane["artifacts"]:
                artifact["artifactid"] = str(uuid.uuid5(NAMESPACE, name + "/artifact"))
                artifact["uri"] = f"mast:HST/product/{name}_flt.fits"
        documents.append(write_document(doc))
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="observations (10000)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="importer processes, as hstvo xml import --jobs (2)")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="documents stored per transaction (500, as hstvo xml import)")
    args = parser.parse_args()

    url = scratch_database(database_url(load_settings()), "hstvo_bench")
    t0 = time.perf_counter()
    documents = generate(args.count)
    print(f"generated {len(documents)} documents "
          f"({sum(map(len, documents)) / len(documents) / 1024:.1f} KiB each) "
          f"in {time.perf_counter() - t0:.1f} s (not counted)")

    with tempfile.TemporaryDirectory() as directory:
        files = []
        for i, document in enumerate(documents):
            files.append(Path(directory) / f"{i:07d}.xml")
            files[-1].write_bytes(document)
        # `hstvo xml import --jobs N`'s own path: N importer processes, each reading and
        # storing its batches over its own connection (hstvo.xml_cli)
        t0 = time.perf_counter()
        stored = sum(summary is not None
                     for batch in import_batches(url, files, args.batch_size, True, args.jobs)
                     for _, summary, _ in batch)
        wall = time.perf_counter() - t0
    assert stored == args.count, f"{args.count - stored} documents refused"
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT (SELECT count(*) FROM caom2.observation) + "
                            "(SELECT count(*) FROM caom2.plane) + "
                            "(SELECT count(*) FROM caom2.artifact)").fetchone()[0]
        obscore = conn.execute("SELECT count(*) FROM ivoa.obscore").fetchone()[0]
    print(f"imported {args.count} observations with {args.jobs} job(s) in {wall:.1f} s: "
          f"{args.count / wall:.0f} observations/s, {rows / wall:.0f} rows/s")
    print(f"  ivoa.ObsCore rows: {obscore}")


if __name__ == "__main__":
    main()
