"""`bench/tap.py --replicas N`: what reads on hot standbys cost and give on this machine.

A primary of its own (var/bench-replication, on a free port; the embedded cluster's settings,
full-page writes on, as an online copy needs) holds the synthetic ObsCore of bench/tap.py. Then:
  * 8 clients run cones for --seconds against `hstvo serve` on the primary alone, then against
    the primary with N standbys made by `hstvo db replica add` (HSTVO_READ_URLS): requests/s,
    median and 99th percentile;
  * `hstvo ingest` writes --ingest-files synthetic files (bench/ingest.py's archive) into the
    primary while the standbys' lag is sampled every 0.2 s (pg_stat_replication): its median
    and largest, in bytes and seconds.
On 2 cores the standbys share the cores with the primary and the clients: the throughput cannot
scale here; the figures show what the mechanism costs.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time

import httpx

from bench.scratch import filled_scratch_database, serve
from hstvo.cluster import Cluster
from hstvo.config import PROJECT_ROOT
from hstvo.replicas import add_replica, remove_replica, replica_names, replica_states


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replicas_benchmark(args, concurrent_cones, name: str, fill: str) -> None:
    root = PROJECT_ROOT / "var" / "bench-replication"
    # (the archive is the primary's database: `db replica list` reads the lag there)
    primary = Cluster(root, int((root / "port").read_text()) if (root / "port").exists()
                      else free_port(), dbname=name.format(rows=args.rows))
    root.mkdir(parents=True, exist_ok=True)
    (root / "port").write_text(str(primary.port))
    primary.start()
    try:
        url = filled_scratch_database(primary.url(), name.format(rows=args.rows),
                                      fill.replace("%(rows)s", str(args.rows)),
                                      "SELECT count(*) FROM caom2.plane", (args.rows,))
        rng = random.Random(1)
        cones = [f"SELECT obs_id, s_ra, s_dec, t_min FROM ivoa.ObsCore WHERE 1 = INTERSECTS("
                 f"s_region, CIRCLE('ICRS', {rng.uniform(0, 360):.4f}, "
                 f"{rng.uniform(-80, 80):.4f}, 0.5))" for _ in range(args.repeat)]
        os.environ.setdefault("HSTVO_TAP_STREAMS_PER_CLIENT", "16")
        print(f"{args.rows} ObsCore rows; 8 clients running cones for {args.seconds:g} s:")
        report("primary alone", concurrent_cones, cones, args, url)
        for existing in replica_names(primary):
            remove_replica(primary, existing)
        standbys = [add_replica(primary, f"bench{n}") for n in range(1, args.replicas + 1)]
        dbname = url.rsplit("/", 1)[-1]
        read_urls = ",".join(s.url(dbname) for s in standbys)
        report(f"primary + {args.replicas} standbys", concurrent_cones, cones, args, url,
               HSTVO_READ_URLS=read_urls)
        lag_during_ingest(primary, url, args.ingest_files)
        for n in range(1, args.replicas + 1):
            remove_replica(primary, f"bench{n}")
    finally:
        primary.stop()


def report(label: str, concurrent_cones, cones: list[str], args, url: str, **env: str) -> None:
    os.environ.update(env)
    process = serve(url, args.port)
    try:
        tap = f"http://127.0.0.1:{args.port}/tap"
        with httpx.Client(timeout=60) as client:  # what each timed cone returns
            rows = statistics.median(client.post(tap + "/sync", data={
                "LANG": "ADQL", "QUERY": query}).text.count("<TR>") for query in cones)
        rate, median, p99 = concurrent_cones(tap, cones, args.seconds)
    finally:
        process.terminate()
        process.wait(timeout=10)
        for key in env:
            os.environ.pop(key, None)
    print(f"  {label}: {rate:,.1f} requests/s, median {median:.1f} ms, "
          f"99th percentile {p99:.1f} ms [median {rows:g} rows a cone]")


def lag_during_ingest(primary: Cluster, url: str, files: int) -> None:
    """The standbys' lag, sampled while `hstvo ingest` writes `files` files into the primary."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from bench.ingest import synthetic_archive

    archive = PROJECT_ROOT / "var" / "bench-archive"
    files = len(synthetic_archive(archive, files, 1))  # (whole dataset families: a few more)
    samples: list[tuple[int, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for state in replica_states(primary):
                if state.lag_bytes is not None:
                    samples.append((state.lag_bytes, state.lag_seconds or 0.0))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    try:
        ingested = subprocess.run([sys.executable, "-m", "hstvo.cli", "ingest", str(archive)],
                                  env={**os.environ, "DATABASE_URL": url}, cwd=PROJECT_ROOT,
                                  check=False, capture_output=True, text=True)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    print(f"  ingest: {(ingested.stdout.strip().splitlines() or ['(no report)'])[-1]}")
    lag_bytes = sorted(b for b, _ in samples) or [0]
    lag_seconds = sorted(s for _, s in samples) or [0.0]
    print(f"  replication lag during an ingest of {files} files ({seconds:.0f} s, "
          f"{len(samples)} samples): median {statistics.median(lag_bytes):,.0f} bytes / "
          f"{statistics.median(lag_seconds) * 1000:.1f} ms, largest {lag_bytes[-1]:,} bytes / "
          f"{lag_seconds[-1] * 1000:.1f} ms")
