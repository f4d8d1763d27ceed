"""Benchmark: the TAP service over HTTP on loopback, against a large synthetic ObsCore.

    python bench/tap.py [--rows 1000000] [--repeat 50] [--stream 500000] [--seconds 20]
    python bench/tap.py --replicas 2 [--rows 100000] [--ingest-files 10000]

Builds (once per size; kept between runs) a scratch database `hstvo_tap_bench_<rows>` on the
server of DATABASE_URL or the embedded cluster, holding `rows` planes (one per observation) with
6-arcminute square footprints, placed like a real archive's: most spread evenly over the sky, a
fifth in 200 crowded fields, some on the poles' caps and astride RA 0/360. The rows are written
set-wise with the lifecycle triggers off (ObsCore's table is filled once after): the checksums
are not what is measured here. Then it starts `hstvo serve` on it and prints the median latency
of a TOP 10 query, of position queries (random centres: footprints in a 0.5 deg cone, a point in
a 1 deg polygon, DISTANCE < 0.5 deg; on crowded fields: a point in a 0.5 deg circle, the 10
nearest), of COUNT(*) and of a GROUP BY, with the rows each returned; the rows per second of a
`stream`-row result of six columns and of all columns, as BINARY2, CSV and VOTable (the median
of three); and 8 clients running cones at once for `--seconds` (requests/s, median, 99th
percentile): with the access rules off, and with them on as anonymous and as a member of 50
groups.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (named as its issue names it): this directory, first on sys.path when a
# script here runs, must not shadow the standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import math
import os
import random
import statistics
import time

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import (access_modes, existing_database, filled_scratch_database,  # noqa: E402
                           serve, set_row_security)
from hstvo.config import load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402

NAME = "hstvo_tap_bench_{rows}"  # one per size: 100,000 and 1,000,000 rows are both kept
FILL = """
SET session_replication_role = replica;  -- no lifecycle triggers: set-wise, unchecked rows
INSERT INTO caom2.observation (obsid, observationuri, typecode, collection, observationid,
       algorithm_name, lastmodified, maxlastmodified, metachecksum, accmetachecksum,
       instrument_name, target_name, proposal_id, intent)
SELECT md5('bench' || i)::uuid, 'caom:HST/b' || i, 'S', 'HST', 'b' || i, 'exposure',
       now(), now(), 'md5:0', 'md5:0', (ARRAY['ACS/WFC', 'WFC3/UVIS', 'WFC3/IR', 'STIS/CCD'])[1 + i % 4],
       'FIELD-' || (i % 5000), (5000 + i % 12000)::text, 'science'
  FROM generate_series(1, %(rows)s) AS i;
INSERT INTO caom2.plane (planeid, obsid, seq, planeuri, publisherid, productid, lastmodified,
       maxlastmodified, metachecksum, accmetachecksum, calibrationlevel, dataproducttype,
       metarelease, datarelease, position_bounds_spoly, position_bounds_center,
       position_bounds_size, time_bounds_lower, time_bounds_upper, time_exposure,
       energy_bounds_lower, energy_bounds_upper)
SELECT md5('bench-plane' || i)::uuid, md5('bench' || i)::uuid, 1, 'caom:HST/b' || i || '/b' || i || '_flt',
       'ivo://hstvo.example/HST?b' || i || '/b' || i || '_flt', 'b' || i || '_flt', now(), now(),
       'md5:0', 'md5:0', 2, 'image', '2000-01-01', '2000-01-01',
       caom2.circle_spoly(ra, dec, 0.05, 4), spoint(radians(ra), radians(dec)), 0.1,
       50000 + i * 0.01, 50000 + i * 0.01 + 0.01, 300, 4e-7, 7e-7
  -- like a real archive's sky: most pointings spread evenly over the sphere (the R2 sequence:
  -- its two fractions are independent, or every footprint would fall on one curve); one in
  -- five in 200 crowded fields (FIELDS below: clusters, deep fields), 0.3 deg across; and a
  -- few on the poles' caps and astride RA 0/360, where geometry goes wrong if it can
  FROM (SELECT i,
               CASE WHEN i % 5 = 0 THEN f.ra + 0.3 * ((i * 0.6180339887) % 1) / cos(radians(f.dec))
                    WHEN i % 97 = 0 THEN 360 * ((i * 0.7548776662) % 1)
                    WHEN i % 89 = 0 THEN 359.9 + 0.2 * ((i * 0.7548776662) % 1)
                    ELSE 360 * ((i * 0.7548776662) % 1) END
                 ::numeric % 360 AS ra,
               CASE WHEN i % 5 = 0 THEN f.dec + 0.3 * ((i * 0.4142135624) % 1) - 0.15
                    WHEN i % 97 = 0 THEN sign((i % 2) - 0.5) * (89 + ((i * 0.5698402910) % 1))
                    ELSE degrees(asin(2 * ((i * 0.5698402910) % 1) - 1)) END AS dec
          FROM generate_series(1, %(rows)s) AS i,
               LATERAL (SELECT 360 * ((k * 0.7548776662) % 1) AS ra,
                               degrees(asin(1.6 * ((k * 0.5698402910) % 1) - 0.8)) AS dec
                          FROM (SELECT (i / 5) % 200 + 1 AS k) AS field) AS f) AS s;
SET session_replication_role = DEFAULT;
ANALYZE caom2.observation;
ANALYZE caom2.plane;
-- ObsCore's rows, which the triggers (off above) would have kept; vacuumed, as autovacuum
-- would have it in an archive that has run a while (index-only scans need the visibility map)
SELECT hstvo.refresh_obscore_all();
VACUUM ANALYZE hstvo.obscore_rows;
"""


def build(base_url: str, rows: int) -> str:
    """The scratch database with `rows` ObsCore rows, built once per row count."""
    return filled_scratch_database(base_url, NAME.format(rows=rows), FILL.replace("%(rows)s", str(rows)),
                                   "SELECT count(*) FROM caom2.plane", (rows,))


def latency(client: httpx.Client, tap: str, queries: list[str],
            headers: dict[str, str] | None = None) -> tuple[float, float]:
    """Median milliseconds of a sync query over `queries` (after one warm-up), and the median
    number of rows they returned (an empty result times nothing)."""
    client.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": queries[0]}, headers=headers)
    times, rows = [], []
    for query in queries:
        started = time.perf_counter()
        response = client.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": query},
                              headers=headers)
        response.raise_for_status()
        times.append(1000 * (time.perf_counter() - started))
        rows.append(response.text.count("<TR>"))
    return statistics.median(times), statistics.median(rows)


def field_centre(k: int) -> tuple[float, float]:
    """The centre of crowded field k (1 to 200), as FILL places its pointings."""
    ra = 360 * ((k * 0.7548776662) % 1)
    dec = math.degrees(math.asin(1.6 * ((k * 0.5698402910) % 1) - 0.8))
    return (ra + 0.15 / math.cos(math.radians(dec))) % 360, dec


def concurrent_cones(tap: str, queries: list[str], seconds: float, clients: int = 8,
                     headers: dict[str, str] | None = None) -> tuple[float, float, float]:
    """`clients` clients running the cone queries in turn for `seconds`: (requests/s, median
    and 99th-percentile latency in ms)."""
    from concurrent.futures import ThreadPoolExecutor

    deadline = time.monotonic() + seconds

    def client(offset: int) -> list[float]:
        took, n = [], offset
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                http.post(tap + "/sync", data={"LANG": "ADQL", "QUERY": queries[n % len(queries)]},
                          headers=headers).raise_for_status()
                took.append(time.perf_counter() - started)
                n += 1
        return took

    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(t for done in pool.map(client, range(clients)) for t in done)
    return (len(latencies) / seconds, 1000 * statistics.median(latencies),
            1000 * latencies[int(0.99 * (len(latencies) - 1))])


def stream_rate(client: httpx.Client, tap: str, rows: int, fmt: str,
                headers: dict[str, str] | None = None,
                columns: str = "obs_id, s_ra, s_dec, t_min, t_exptime, calib_level"
                ) -> tuple[float, int]:
    query = f"SELECT TOP {rows} {columns} FROM ivoa.ObsCore"
    started = time.perf_counter()
    size = 0
    with client.stream("GET", tap + "/sync", params={"LANG": "ADQL", "QUERY": query,
                                                      "MAXREC": rows, "RESPONSEFORMAT": fmt},
                       headers=headers, timeout=600) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
    return rows / (time.perf_counter() - started), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="ObsCore rows (1000000)")
    parser.add_argument("--repeat", type=int, default=50, help="queries per latency figure (50)")
    parser.add_argument("--stream", type=int, default=500_000, help="rows of the streamed result")
    parser.add_argument("--seconds", type=float, default=20,
                        help="how long 8 clients run cones at once (20)")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--replicas", type=int, default=0, metavar="N",
                        help="instead: the cone rate of 8 clients against a primary alone and "
                             "with N hot standbys (a cluster of its own under "
                             "var/bench-replication), and the standbys' lag during an ingest "
                             "of --ingest-files files")
    parser.add_argument("--ingest-files", type=int, default=10_000)
    parser.add_argument("--database", metavar="NAME",
                        help="instead of the generated rows: an archive built the way users "
                             "build one (hstvo synth --ingest), on the same server")
    args = parser.parse_args()
    if args.replicas:
        from bench.tap_replicas import replicas_benchmark

        replicas_benchmark(args, concurrent_cones, NAME, FILL)
        return

    if args.database:
        url = existing_database(database_url(load_settings()), args.database)
        with psycopg.connect(url) as conn:
            args.rows = conn.execute("SELECT count(*) FROM hstvo.obscore_rows").fetchone()[0]
    else:
        url = build(database_url(load_settings()), args.rows)
    # the 8 concurrent clients all come from loopback, which the service takes for one client
    # and allows 3 streaming queries at once (HSTVO_TAP_STREAMS_PER_CLIENT)
    os.environ.setdefault("HSTVO_TAP_STREAMS_PER_CLIENT", "16")
    process = serve(url, args.port)
    tap = f"http://127.0.0.1:{args.port}/tap"
    rng = random.Random(1)
    cones = [f"SELECT obs_id, s_ra, s_dec, t_min FROM ivoa.ObsCore WHERE 1 = INTERSECTS("
             f"s_region, CIRCLE('ICRS', {rng.uniform(0, 360):.4f}, "
             f"{rng.uniform(-80, 80):.4f}, 0.5))" for _ in range(args.repeat)]
    centres = [(rng.uniform(0, 360), rng.uniform(-80, 80)) for _ in range(args.repeat)]
    # the most common ObsCore query in the wild: a point (s_ra, s_dec) in a polygon or circle
    in_polygon = [f"SELECT obs_id, s_ra, s_dec FROM ivoa.ObsCore WHERE 1 = CONTAINS(POINT('ICRS', "
                  f"s_ra, s_dec), POLYGON('ICRS', {ra - .5:.4f}, {dec - .5:.4f}, {ra + .5:.4f}, "
                  f"{dec - .5:.4f}, {ra + .5:.4f}, {dec + .5:.4f}, {ra - .5:.4f}, {dec + .5:.4f}))"
                  for ra, dec in centres]
    within = [f"SELECT obs_id FROM ivoa.ObsCore WHERE DISTANCE(POINT('ICRS', s_ra, s_dec), "
              f"POINT('ICRS', {ra:.4f}, {dec:.4f})) < 0.5" for ra, dec in centres]
    # the crowded fields of the archive (FILL): a cone on one finds a few hundred rows
    fields = [field_centre(rng.randint(1, 200)) for _ in range(args.repeat)]
    crowded = [f"SELECT obs_id, s_ra, s_dec FROM ivoa.ObsCore WHERE 1 = CONTAINS(POINT('ICRS', "
               f"s_ra, s_dec), CIRCLE('ICRS', {ra:.4f}, {dec:.4f}, 0.5))" for ra, dec in fields]
    nearest = [f"SELECT TOP 10 obs_id, DISTANCE(POINT('ICRS', s_ra, s_dec), POINT('ICRS', "
               f"{ra:.4f}, {dec:.4f})) AS d FROM ivoa.ObsCore WHERE DISTANCE(POINT('ICRS', s_ra, "
               f"s_dec), POINT('ICRS', {ra:.4f}, {dec:.4f})) < 0.5 ORDER BY d"
               for ra, dec in fields]
    figures: dict[str, dict[str, float]] = {}
    timed = {"TOP 10 *": ["SELECT TOP 10 * FROM ivoa.ObsCore"] * args.repeat,
             "footprints in a 0.5 deg cone": cones,
             "point (s_ra, s_dec) in a 1 deg polygon": in_polygon,
             "DISTANCE(POINT(s_ra, s_dec), ...) < 0.5 deg": within,
             "point in a 0.5 deg circle on a crowded field": crowded,
             "10 nearest: DISTANCE ... < 0.5 deg ORDER BY distance": nearest,
             "COUNT(*)": ["SELECT COUNT(*) FROM ivoa.ObsCore"] * args.repeat,
             "GROUP BY instrument_name": ["SELECT instrument_name, COUNT(*) FROM ivoa.ObsCore "
                                          "GROUP BY instrument_name"] * args.repeat}
    try:
        with httpx.Client(timeout=60) as client:
            print(f"{args.rows} ObsCore rows{' of ' + args.database if args.database else ''}, "
                  f"HTTP on loopback, median of {args.repeat}:")
            for mode, headers in access_modes(url):
                set_row_security(url, mode != "rules off")
                got, rows = figures.setdefault(mode, {}), {}
                for name, queries in timed.items():
                    got[f"{name} (ms)"], rows[f"{name} (ms)"] = latency(client, tap, queries,
                                                                        headers)
                # (the median of three streams: the first of a run pays for warming up)
                for fmt in ("votable/b2", "csv", "votable"):
                    got[f"{args.stream} rows as {fmt} (rows/s)"] = statistics.median(
                        stream_rate(client, tap, args.stream, fmt, headers)[0] for _ in range(3))
                    got[f"{args.stream} rows, SELECT * (all columns), as {fmt} (rows/s)"] = \
                        statistics.median(stream_rate(client, tap, args.stream, fmt, headers,
                                                      columns="*")[0] for _ in range(3))
                rate, median, p99 = concurrent_cones(tap, cones, args.seconds, headers=headers)
                got["8 clients running cones (requests/s)"] = rate
                got["8 clients running cones, median (ms)"] = median
                got["8 clients running cones, 99th percentile (ms)"] = p99
                print(f"  {mode}:")
                for name, value in got.items():
                    change = value / figures["rules off"][name] - 1
                    print(f"    {name}: {value:,.1f}"
                          + (f" [{rows[name]:g} rows]" if name in rows else "")
                          + ("" if mode == "rules off" else
                             f"  ({change:+.0%} against the rules off)"))
    finally:
        set_row_security(url, True)
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
