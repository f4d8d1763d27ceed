"""Benchmark: the portal's Advanced Search on a large archive, over HTTP on loopback.

    python bench/portal.py [--rows 1000000] [--repeat 10]

Uses the synthetic ObsCore that bench/tap.py builds (`hstvo_tap_bench_<rows>`: run it first
with the same --rows), or `--database NAME`. Starts `hstvo serve` on it and prints the median
time of a first results page with its facet counts, of refinements to one instrument and to a
filter, of the next page, of a cone about an archived row, and of a target name the archive
has and one it has not, each with the rows it showed, as anonymous (the access rules on;
facet-only searches answered from the facet cube, which it refreshes first and times), and
the bytes a browser fetches for the search page (the page, its stylesheet and scripts); then
the same searches as a member of 50 groups (the cube's public rows plus what the member sees
beyond them, counted live), and the time to make a quick look of a real exposure and to find
it cached. The filter is the commonest of the instrument whose obs_ids come last: read in
obs_id order, its rows lie at the far end of the archive (portal.page's in_order). Goals:
under 300 ms for the first page with facets, under 100 ms for the next page, under 300 kB for
the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import re
import statistics
import time

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import access_modes, existing_database, serve  # noqa: E402
from hstvo.config import load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402


def median_ms(client: httpx.Client, params: dict, repeat: int,
              headers: dict | None = None) -> tuple[float, int, str, int]:
    """Median milliseconds of GET /search with `params`, the page's size, the total it
    reports and the rows it shows (a timed page must not be an empty one)."""
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/search", params=params, headers=headers or {})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:500]
        size = len(response.content)
    total = re.search(r'id="summary">([\d,+]+) data products', response.text)
    shown = response.text.split('<tbody>', 1)[-1].split('</tbody>', 1)[0].count("<tr>")
    return statistics.median(times), size, total.group(1) if total else "?", shown


def previews(client: httpx.Client, repeat: int) -> None:
    """The time of a quick look made from a real 1062 x 1044 ACS exposure the first time, and
    served from the cache after, through the service's own code (pyserver/previews.py)."""
    import tempfile

    from pyserver.previews import cached_png

    sample = Path(__file__).resolve().parent.parent / "data" / "hst" / "science" / "j8bt05njq_raw.fits.gz"
    with tempfile.TemporaryDirectory() as scratch:
        import os
        os.environ["HSTVO_STORAGE"] = scratch
        made = []
        for n in range(repeat):
            started = time.perf_counter()
            cached_png(str(sample), f"bench-{n}", "j8bt05njq_raw.fits", "preview")
            made.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        for _ in range(repeat):
            cached_png(str(sample), "bench-0", "j8bt05njq_raw.fits", "preview")
        cached = (time.perf_counter() - started) * 1000 / repeat
    print(f"\nquick look of a 1062 x 1044 exposure (512 px PNG): made in {statistics.median(made):.0f} ms "
          f"the first time, found in the cache in {cached:.2f} ms after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--port", type=int, default=8498)
    parser.add_argument("--database", metavar="NAME",
                        help="instead of bench/tap.py's rows: an archive built the way users "
                             "build one (hstvo synth --ingest), on the same server")
    args = parser.parse_args()
    url = existing_database(database_url(load_settings()),
                            args.database or f"hstvo_tap_bench_{args.rows}",
                            "" if args.database else f"run bench/tap.py --rows {args.rows} first")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM hstvo.obscore_rows").fetchone()[0]
        instrument = conn.execute("SELECT instrument_name FROM hstvo.obscore_rows "
                                  "LIMIT 1").fetchone()[0]
        # the commonest filter of the instrument whose rows come last in the pages' obs_id
        # order: read in that order, its rows are at the far end (portal.page's in_order)
        last_filter = conn.execute(
            "SELECT p.energy_bandpassname FROM caom2.plane p JOIN caom2.observation o "
            "ON o.obsid = p.obsid WHERE p.energy_bandpassname IS NOT NULL AND o.instrument_name "
            "= (SELECT instrument_name FROM hstvo.obscore_rows ORDER BY obs_id DESC LIMIT 1) "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        # a cone about a public row, and a target name the archive has: timed searches that
        # find rows, whichever archive this is
        ra, dec, target = conn.execute(
            "SELECT s_ra, s_dec, target_name FROM hstvo.obscore_rows WHERE s_ra IS NOT NULL "
            "AND target_name IS NOT NULL AND public_from <= now() LIMIT 1").fetchone()
    with psycopg.connect(url, autocommit=True) as conn:  # the facet cube current (the service
        started = time.perf_counter()                     # refreshes it within seconds)
        conn.execute("SELECT portal.refresh_facets(true)")
        print(f"facet cube refreshed in {time.perf_counter() - started:.1f} s (writes go on meanwhile)")
    server = serve(url, args.port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{args.port}", timeout=120) as client:
            print(f"Advanced Search on {rows:,} ObsCore rows, anonymous (median of {args.repeat}):")
            cases = [("first page with facets", {}),
                     ("facet refinement (one instrument)", {"instrument": instrument}),
                     (f"facet refinement (filter {last_filter})", {"filter": last_filter}),
                     ("next page", {"page": "2"}),
                     ("cone of 0.5 deg", {"ra": f"{ra:.6f}", "dec": f"{dec:.6f}",
                                          "radius": "0.5"}),
                     # beyond facet values the counts are live, and cut off after 250 ms
                     (f"a target name ({target[:20]})", {"target": target}),
                     ("a target name that matches none", {"target": "NO-SUCH-TARGET"})]
            page_bytes = 0
            for label, params in cases:
                ms, size, total, shown = median_ms(client, params, args.repeat)
                page_bytes = page_bytes or size
                print(f"  {label:<34} {ms:8.1f} ms  ({shown} rows shown of {total})")
            _, member = access_modes(url)[2]
            print("\nthe same as a member of 50 groups (the public rows from the cube, the rest "
                  "counted live under the row policies):")
            for label, params in cases:
                ms, size, total, shown = median_ms(client, params, args.repeat, member)
                print(f"  {label:<34} {ms:8.1f} ms  ({shown} rows shown of {total})")
            previews(client, args.repeat)
            assets = sum(len(client.get(path).content)
                         for path in ("/static/portal.css", "/static/adql.js", "/static/search.js"))
            print(f"\nthe search page: {page_bytes + assets:,} bytes (page {page_bytes:,}, "
                  f"stylesheet and script {assets:,}; goal under 300 kB)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
