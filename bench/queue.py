"""Benchmark: the recalibration work queue (sql/73_work_queue.sql) and `hstvo worker`.

    python bench/queue.py [--jobs 100000] [--processes 1,2,4,8] [--datasets 100000]

In a scratch database `hstvo_queue_bench` on the server of DATABASE_URL or the embedded cluster:

1. enqueue rate: `jobs` no-op jobs through queue.enqueue (one call each, pipelined), and the
   same number set-wise (what hst.enqueue_recalibration does);
2. claim-plus-complete rate of real `hstvo worker` processes (one slot each; resource matching:
   the jobs ask for VM type, CPUs and memory) for each process count, against a bare SKIP
   LOCKED loop written directly with psycopg over a bare table, run the same way and with the
   same durability (synchronous_commit off, as the worker's queue commits: see
   loaders/worker.py); rates are jobs over the span from the first claim to the last
   completion (database clocks);
3. enqueue-to-claim latency on an idle queue: one waiting worker (LISTEN/NOTIFY), a job every
   50 ms, median of `latency_jobs` (claim time minus enqueue time, database clock);
4. one reffile add that enqueues `datasets` jobs: `datasets` synthetic ACS/WFC exposures are
   written set-wise, then a new bias for their setup is registered (the time of that call).
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is named as the issue names it, bench/queue.py: its directory must not shadow the
# standard library's queue module (psycopg imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402 (after the sys.path fix above)
import os
import statistics
import subprocess
import time

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import scratch_database  # noqa: E402
from hstvo.config import PROJECT_ROOT, load_settings  # noqa: E402
from hstvo.db import database_url  # noqa: E402

NAME = "hstvo_queue_bench"

BARE_LOOP = """
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("SET synchronous_commit = off")  # as the worker's queue commits
    while True:
        row = conn.execute(
            "UPDATE bare_job SET status = 'running', started = clock_timestamp() WHERE id = ("
            "SELECT id FROM bare_job WHERE status = 'idle' ORDER BY id LIMIT 1 "
            "FOR UPDATE SKIP LOCKED) RETURNING id").fetchone()
        if row is None:
            break
        conn.execute("UPDATE bare_job SET status = 'done', finished = clock_timestamp() "
                     "WHERE id = %s", row)
"""

DATASETS = """
SET session_replication_role = replica;  -- set-wise, unchecked rows: the rule is what is timed
INSERT INTO caom2.observation (obsid, observationuri, typecode, collection, observationid,
       algorithm_name, lastmodified, maxlastmodified, metachecksum, accmetachecksum, instrument_name)
SELECT md5('q' || i)::uuid, 'caom:HST/q' || i, 'S', 'HST', 'q' || i, 'exposure', now(), now(),
       'md5:0', 'md5:0', 'ACS/WFC' FROM generate_series(1, %(n)s) AS i;
INSERT INTO caom2.plane (planeid, obsid, seq, planeuri, publisherid, productid, lastmodified,
       maxlastmodified, metachecksum, accmetachecksum, calibrationlevel)
SELECT md5('qp' || i)::uuid, md5('q' || i)::uuid, 1, 'caom:HST/q' || i || '/q' || i || '_flt',
       'ivo://hstvo.example/HST?q' || i || '/q' || i || '_flt', 'q' || i || '_flt', now(), now(),
       'md5:0', 'md5:0', 2 FROM generate_series(1, %(n)s) AS i;
INSERT INTO hst.plane_calibration (planeid, file_name, instrument, detector, cal_ver, header)
SELECT md5('qp' || i)::uuid, 'q' || i || '_flt.fits', 'ACS', 'WFC', '10.0',
       jsonb_build_object('DETECTOR', 'WFC', 'CCDAMP', 'ABCD', 'CCDGAIN', 2.0,
                          'BIASCORR', 'PERFORM',
                          'DATE-OBS', to_char(date '2006-01-01' + (i % 3000), 'YYYY-MM-DD'),
                          'TIME-OBS', '01:02:03', 'BIASFILE', 'jref$old_bia.fits')
  FROM generate_series(1, %(n)s) AS i;
INSERT INTO hst.plane_reference_file (planeid, keyword, value, location, file_name)
SELECT md5('qp' || i)::uuid, 'BIASFILE', 'jref$old_bia.fits', 'jref', 'old_bia.fits'
  FROM generate_series(1, %(n)s) AS i;
SET session_replication_role = DEFAULT;
ANALYZE caom2.observation; ANALYZE caom2.plane; ANALYZE hst.plane_calibration;
"""


def reset_jobs(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE queue.job, queue.job_history")


def enqueue_rates(conn: psycopg.Connection, jobs: int) -> tuple[float, float]:
    reset_jobs(conn)
    started = time.perf_counter()
    with conn.pipeline(), conn.cursor() as cur:
        cur.executemany("SELECT queue.enqueue('noop', NULL, '{}', 'standard', 1, 1024)",
                        [()] * jobs)
    one_by_one = jobs / (time.perf_counter() - started)
    reset_jobs(conn)
    started = time.perf_counter()
    conn.execute("INSERT INTO queue.job (command, vm_type, min_cpus, min_memory_mb) "
                 "SELECT 'noop', 'standard', 1 + i %% 2, 1024 FROM generate_series(1, %s) AS i", (jobs,))
    return one_by_one, jobs / (time.perf_counter() - started)


def worker_rate(url: str, conn: psycopg.Connection, jobs: int, processes: int) -> float:
    reset_jobs(conn)
    # resource matching: half the jobs need 2 CPUs, a tenth another VM type nobody offers
    conn.execute("INSERT INTO queue.job (command, vm_type, min_cpus, min_memory_mb) "
                 "SELECT 'noop', CASE WHEN i %% 10 = 0 THEN 'gpu' ELSE 'standard' END, "
                 "1 + i %% 2, 1024 + i %% 4096 FROM generate_series(1, %s) AS i", (jobs,))
    matching = conn.execute("SELECT count(*) FROM queue.job WHERE vm_type = 'standard'").fetchone()[0]
    env = {**os.environ, "DATABASE_URL": url}
    workers = [subprocess.Popen([sys.executable, "-m", "hstvo.cli", "worker", "--cpus", "4",
                                 "--memory-mb", "8192", "--idle-exit", "1"],
                                env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(processes)]
    for worker in workers:
        worker.wait()
    done, span = conn.execute(
        "SELECT count(*), extract(epoch FROM max(finished) - min(started)) FROM queue.job "
        "WHERE status = 'completed'").fetchone()
    assert done == matching, f"{done} of {matching} matching jobs completed"
    return done / float(span)


def bare_rate(url: str, conn: psycopg.Connection, jobs: int, processes: int) -> float:
    conn.execute("DROP TABLE IF EXISTS bare_job")
    conn.execute("CREATE TABLE bare_job (id bigint PRIMARY KEY, status text NOT NULL, "
                 "started timestamptz, finished timestamptz)")
    conn.execute("INSERT INTO bare_job SELECT i, 'idle' FROM generate_series(1, %s) AS i", (jobs,))
    conn.execute("CREATE INDEX ON bare_job (id) WHERE status = 'idle'")
    conn.execute("ANALYZE bare_job")
    loops = [subprocess.Popen([sys.executable, "-c", BARE_LOOP, url]) for _ in range(processes)]
    for loop in loops:
        loop.wait()
    done, span = conn.execute("SELECT count(*), extract(epoch FROM max(finished) - min(started)) "
                              "FROM bare_job WHERE status = 'done'").fetchone()
    return done / float(span)


def idle_latency(url: str, conn: psycopg.Connection, count: int) -> float:
    reset_jobs(conn)
    env = {**os.environ, "DATABASE_URL": url}
    worker = subprocess.Popen([sys.executable, "-m", "hstvo.cli", "worker", "--cpus", "4"],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(3)  # the worker is up and waiting
    for _ in range(count):
        conn.execute("INSERT INTO queue.job (command, created) VALUES ('noop', clock_timestamp())")
        time.sleep(0.05)
    time.sleep(1)
    worker.terminate()
    worker.wait()
    latencies = [float(ms) for (ms,) in conn.execute(
        "SELECT extract(epoch FROM started - created) * 1000 FROM queue.job WHERE started IS NOT NULL")]
    assert len(latencies) == count, f"{len(latencies)} of {count} claimed"
    return statistics.median(latencies)


def reffile_add(conn: psycopg.Connection, datasets: int) -> tuple[float, int]:
    reset_jobs(conn)
    for statement in DATASETS.split(";\n"):
        if statement.strip():
            conn.execute(statement.replace("%(n)s", str(datasets)))
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL client_min_messages = warning")
        conn.execute("SELECT * FROM hst.register_reference_file('new_bia.fits', 'ACS', 'biasfile', "
                     "'2005-01-01', '{\"DETECTOR\": [\"WFC\"], \"CCDAMP\": [\"ABCD\"], "
                     "\"CCDGAIN\": [\"2.0\"]}')").fetchall()
    seconds = time.perf_counter() - started
    return seconds, conn.execute("SELECT count(*) FROM queue.job").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000, help="no-op jobs per run (100000)")
    parser.add_argument("--processes", default="1,2,4,8", help="worker process counts (1,2,4,8)")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--datasets", type=int, default=100_000,
                        help="datasets one reffile add enqueues (100000)")
    args = parser.parse_args()

    url = scratch_database(database_url(load_settings()), NAME)
    with psycopg.connect(url, autocommit=True) as conn:
        one, setwise = enqueue_rates(conn, args.jobs)
        print(f"enqueue, {args.jobs} jobs: {one:,.0f} jobs/s one call each (pipelined), "
              f"{setwise:,.0f} jobs/s set-wise")
        print(f"claim + complete, {args.jobs} no-op jobs (90% match the workers' resources):")
        for processes in [int(p) for p in args.processes.split(",")]:
            ours = worker_rate(url, conn, args.jobs, processes)
            bare = bare_rate(url, conn, args.jobs, processes)
            print(f"  {processes} process(es): hstvo worker {ours:,.0f} jobs/s, bare SKIP LOCKED "
                  f"loop {bare:,.0f} jobs/s, ratio {ours / bare:.2f}")
        latency = idle_latency(url, conn, args.latency_jobs)
        print(f"enqueue-to-claim on an idle queue (LISTEN/NOTIFY), median of "
              f"{args.latency_jobs}: {latency:.1f} ms")
        seconds, queued = reffile_add(conn, args.datasets)
        print(f"one reffile add over {args.datasets} matching datasets: {queued} jobs enqueued "
              f"in {seconds:.2f} s")


if __name__ == "__main__":
    main()
