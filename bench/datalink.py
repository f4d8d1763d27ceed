"""Benchmark: DataLink requests per second over HTTP on loopback.

    python bench/datalink.py [--planes 100000] [--seconds 20] [--clients 16] [--workers 2]

Builds (once; kept between runs) a scratch database `hstvo_datalink_bench` holding `planes`
planes, each with a science and an auxiliary artifact and four reference files, written
set-wise with the lifecycle triggers off. Starts `hstvo serve --workers N` on it, then
`clients` concurrent clients ask for the links of random planes (one ID per request) for
`seconds`, and it prints requests per second and the median and 99th-percentile latency: with
the access rules off, and with them on as anonymous and as a member of 50 groups.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import random
import statistics
import time

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import (access_modes, existing_database, filled_scratch_database,  # noqa: E402
                           serve, set_row_security)
from hstvo.config import load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402

NAME = "hstvo_datalink_bench"
FILL = """
SET session_replication_role = replica;
INSERT INTO caom2.observation (obsid, observationuri, typecode, collection, observationid,
       algorithm_name, lastmodified, maxlastmodified, metachecksum, accmetachecksum, instrument_name)
SELECT md5('d' || i)::uuid, 'caom:HST/d' || i, 'S', 'HST', 'd' || i, 'exposure', now(), now(),
       'md5:0', 'md5:0', 'ACS/WFC' FROM generate_series(1, %(n)s) AS i;
INSERT INTO caom2.plane (planeid, obsid, seq, planeuri, publisherid, productid, lastmodified,
       maxlastmodified, metachecksum, accmetachecksum, calibrationlevel, dataproducttype,
       metarelease, datarelease, position_bounds_spoly)
SELECT md5('dp' || i)::uuid, md5('d' || i)::uuid, 1, 'caom:HST/d' || i || '/d' || i || '_flt',
       'ivo://hstvo.example/HST?d' || i || '/d' || i || '_flt', 'd' || i || '_flt', now(), now(),
       'md5:0', 'md5:0', 2, 'image', '2000-01-01', '2000-01-01',
       caom2.circle_spoly((i * 137.50776405) %% 360, 0, 0.05, 4)
  FROM generate_series(1, %(n)s) AS i;
INSERT INTO caom2.artifact (artifactid, planeid, obsid, seq, uri, producttype, releasetype,
       contenttype, contentlength, lastmodified, maxlastmodified, metachecksum, accmetachecksum)
SELECT md5('da' || i || k)::uuid, md5('dp' || i)::uuid, md5('d' || i)::uuid, k,
       'mast:HST/product/d' || i || CASE k WHEN 1 THEN '_flt.fits' ELSE '_spt.fits' END,
       CASE k WHEN 1 THEN 'science' ELSE 'auxiliary' END, 'data', 'application/fits',
       1000000 + i, now(), now(), 'md5:0', 'md5:0'
  FROM generate_series(1, %(n)s) AS i, generate_series(1, 2) AS k;
INSERT INTO hst.plane_reference_file (planeid, keyword, value, location, file_name)
SELECT md5('dp' || i)::uuid, kw, 'jref$x' || (i %% 97) || '_' || lower(kw) || '.fits', 'jref',
       'x' || (i %% 97) || '_' || lower(kw) || '.fits'
  FROM generate_series(1, %(n)s) AS i, unnest(ARRAY['BIASFILE', 'DARKFILE', 'PFLTFILE', 'IDCTAB']) AS kw;
SET session_replication_role = DEFAULT;
ANALYZE caom2.observation; ANALYZE caom2.plane; ANALYZE caom2.artifact; ANALYZE hst.plane_reference_file;
-- ObsCore's rows, which the triggers (off above) would have kept
SELECT hstvo.refresh_obscore_all();
"""


def build(base_url: str, planes: int) -> str:
    """The scratch archive of `planes` planes, built once per size."""
    return filled_scratch_database(
        base_url, NAME, FILL.replace("%(n)s", str(planes)).replace("%%", "%"),
        "SELECT (SELECT count(*) FROM caom2.plane), (SELECT count(*) FROM hst.plane_reference_file) / 4",
        (planes, planes))


async def load(port: int, ids: list[str], seconds: float, clients: int,
               headers: dict[str, str] | None = None) -> list[float]:
    """`clients` keep-alive connections asking for random planes' links until time is up.
    A few lines of HTTP/1.1 instead of an HTTP library: the client shares the two cores with
    the server and the database, and must cost as little as it can."""
    rng = random.Random(5)
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    deadline = time.monotonic() + seconds
    latencies: list[float] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                writer.write(f"GET /datalink?ID={rng.choice(ids)} HTTP/1.1\r\n"
                             f"Host: 127.0.0.1\r\n{extra}\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                # (a plane of a real archive may have no #this: auxiliary files only, or data
                # not yet public, which answer with a fault row)
                assert head.startswith(b"HTTP/1.1 200") and b"<TR>" in body
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--planes", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--port", type=int, default=8096)
    parser.add_argument("--database", metavar="NAME",
                        help="instead of the generated planes: an archive built the way users "
                             "build one (hstvo synth --ingest), on the same server; the links "
                             "of 10,000 of its planes, chosen at random, are asked for")
    args = parser.parse_args()
    if args.database:
        url = existing_database(database_url(load_settings()), args.database)
        with psycopg.connect(url) as conn:
            args.planes = conn.execute("SELECT count(*) FROM caom2.plane").fetchone()[0]
            ids = [uri for (uri,) in conn.execute(
                "SELECT planeuri FROM caom2.plane ORDER BY random() LIMIT 10000")]
    else:
        url = build(database_url(load_settings()), args.planes)
        ids = [f"caom:HST/d{i}/d{i}_flt" for i in range(1, args.planes + 1)]
    process = serve(url, args.port, args.workers, probe="/datalink")
    print(f"DataLink, {args.planes} planes{' of ' + args.database if args.database else ''}, "
          f"{args.workers} server processes, {args.clients} clients on loopback, "
          f"{args.seconds:.0f} s each:")
    rates: dict[str, float] = {}
    try:
        for mode, headers in access_modes(url):
            set_row_security(url, mode != "rules off")
            asyncio.run(load(args.port, ids, 2, args.clients, headers))  # warm-up
            latencies = sorted(asyncio.run(load(args.port, ids, args.seconds,
                                                args.clients, headers)))
            rates[mode] = len(latencies) / args.seconds
            change = "" if mode == "rules off" else \
                f" ({rates[mode] / rates['rules off'] - 1:+.0%} against the rules off)"
            print(f"  {mode}: {rates[mode]:,.0f} requests/s{change}; latency median "
                  f"{1000 * statistics.median(latencies):.1f} ms, 99th percentile "
                  f"{1000 * latencies[int(0.99 * len(latencies))]:.1f} ms")
    finally:
        set_row_security(url, True)
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
