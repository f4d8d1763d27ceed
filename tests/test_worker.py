"""`hstvo worker` for real: a running archive over HTTP, worker processes, real FITS files, and
workers killed with SIGKILL."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from astropy.io import fits

from hstvo.config import PROJECT_ROOT

from .conftest import run_hstvo, serving

TOKEN = "test-write-token"


@pytest.fixture
def archive(db_url, tmp_path):
    """The sample archive served over HTTP, writable with TOKEN; yields (db_url, base URL, env
    for workers)."""
    run_hstvo("samples", db_url=db_url, check=True)
    storage = tmp_path / "storage"
    with serving(db_url, tmp_path / "serve.log", HSTVO_TOKEN=TOKEN,
                 HSTVO_STORAGE=str(storage)) as base:
        env = {**os.environ, "DATABASE_URL": db_url, "HSTVO_ARCHIVE_URL": base,
               "HSTVO_TOKEN": TOKEN}
        yield db_url, base, env


def start_worker(env: dict, tmp_path: Path, *args: str, log=subprocess.PIPE) -> subprocess.Popen:
    """`hstvo worker` in a process of its own; its log piped, or written to `log`."""
    return subprocess.Popen([sys.executable, "-m", "hstvo.cli", "worker", "--cache",
                             str(tmp_path / "cache"), *args], env=env, cwd=PROJECT_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, text=True)


def a_bias_file(path: Path) -> Path:
    """A small ACS/WFC bias reference file for amplifiers ABCD at gain 2.0, from 2005."""
    header = fits.Header()
    for key, value in {"INSTRUME": "ACS", "FILETYPE": "BIAS", "DETECTOR": "WFC", "CCDAMP": "ABCD",
                       "CCDGAIN": 2.0, "USEAFTER": "Jan 01 2005 00:00:00"}.items():
        header[key] = value
    fits.HDUList([fits.PrimaryHDU(header=header),
                  fits.ImageHDU(np.zeros((8, 8), dtype=np.float32), name="SCI")]).writeto(path)
    return path


def jobs_by_status(db_url: str) -> dict:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT status::text, count(*) FROM queue.job GROUP BY 1"))


def test_a_new_bias_recalibrates_its_dataset_end_to_end(archive, tmp_path):
    """Register a bias: the worker fetches the dataset and the bias over HTTP, runs the
    configured calibration program, returns the product, and the ingest makes it visible."""
    db_url, base, env = archive
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hst.calibration_setup SET command = "
                     "'{python} -m loaders.minical {input} {output}', cal_ver = 'minical 1.0' "
                     "WHERE instrument = 'ACS'")
        before = conn.execute("SELECT p.lastmodified FROM caom2.plane p WHERE p.productid = "
                              "'j9irw1rqq_flt'").fetchone()[0]
    bias = a_bias_file(tmp_path / "tst0001_bia.fits")
    added = run_hstvo("reffile", "add", str(bias), db_url=db_url, check=True).stdout
    assert "1 dataset queued for recalibration" in added
    worker = start_worker(env, tmp_path, "--once", "--lease", "10")
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out
    assert jobs_by_status(db_url) == {"completed": 1}, out
    with psycopg.connect(db_url) as conn:
        in_use = dict(conn.execute("SELECT reftype, current_file FROM hst.dataset_references('j9irw1rqq')"))
        assert in_use["biasfile"] == "tst0001_bia.fits"
        cal_ver, path = conn.execute(
            "SELECT c.cal_ver, f.path FROM hst.plane_calibration c JOIN hst.archive_file f "
            "ON f.file_name = c.file_name WHERE c.file_name = 'j9irw1rqq_flt.fits'").fetchone()
        assert cal_ver == "minical 1.0"
        after = conn.execute("SELECT p.lastmodified FROM caom2.plane p WHERE p.productid = "
                             "'j9irw1rqq_flt'").fetchone()[0]
        assert after > before
        result = conn.execute("SELECT result FROM queue.job").fetchone()[0]
    assert path.startswith(str(tmp_path / "storage"))
    assert fits.getheader(path)["BIASFILE"] == "jref$tst0001_bia.fits"
    assert result["products"] == ["j9irw1rqq_flt.fits"]
    # nothing is left to do: the best reference is the one in use
    best = run_hstvo("reffile", "best", "j9irw1rqq", db_url=db_url, check=True).stdout
    assert "<- differs" not in best


def test_a_missing_calibration_program_backs_off_with_the_reason(archive, tmp_path):
    db_url, base, env = archive
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hst.calibration_setup SET command = 'calnothere.e {input}' "
                     "WHERE instrument = 'WFC3'")
    run_hstvo("calver", "set", "WFC3", "9.9", db_url=db_url, check=True)
    worker = start_worker(env, tmp_path, "--idle-exit", "2")
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out
    with psycopg.connect(db_url) as conn:
        jobs = conn.execute("SELECT status::text, starts, last_error, "
                            "extract(epoch FROM not_before - now()) FROM queue.job").fetchall()
    assert len(jobs) == 3
    for status, starts, error, waits in jobs:
        # one start each: the next is half a minute away, not burnt within a second
        assert (status, starts) == ("idle", 1) and 20 < waits <= 30
        assert error.startswith("the calibration program calnothere.e is not installed on worker")


def test_a_failing_calibration_is_retried_then_held_with_its_error(archive, tmp_path):
    db_url, base, env = archive
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hst.calibration_setup SET command = %s WHERE instrument = 'WFC3'",
                     ("""{python} -c "import sys; sys.exit('bias frame unreadable')" """,))
        # retries back off 0.2 s, then 0.8 s: within the worker's idle time, so it sees all
        conn.execute("UPDATE hstvo.setting SET value = '0.2' WHERE name = 'queue_retry_seconds'")
    run_hstvo("calver", "set", "WFC3", "9.9", db_url=db_url, check=True)
    worker = start_worker(env, tmp_path, "--concurrency", "2", "--idle-exit", "3")
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out
    assert jobs_by_status(db_url) == {"held": 3}
    with psycopg.connect(db_url) as conn:
        errors = {e for (e,) in conn.execute("SELECT last_error FROM queue.job")}
        starts = {s for (s,) in conn.execute("SELECT starts FROM queue.job")}
    assert starts == {3}
    assert all("bias frame unreadable" in e for e in errors), errors


def test_sigterm_lets_the_job_in_hand_finish(archive, tmp_path):
    db_url, base, env = archive
    env = {**os.environ, "DATABASE_URL": db_url}  # nothing else: shell jobs need no archive
    with psycopg.connect(db_url, autocommit=True) as conn:
        job = conn.execute("SELECT queue.enqueue('shell', arguments => "
                           "'{\"command\": \"sleep 2\"}')").fetchone()[0]
        worker = start_worker(env, tmp_path)
        deadline = time.monotonic() + 30
        while conn.execute("SELECT status FROM queue.job WHERE id = %s", (job,)).fetchone()[0] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0, out
        assert conn.execute("SELECT status::text FROM queue.job WHERE id = %s", (job,)).fetchone()[0] == "completed"


def _wait_until_holding(db_url: str, pid: int, deadline: float) -> None:
    """Until worker process `pid` has a job running (queue.job.worker is host:pid/slot)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        while not conn.execute("SELECT EXISTS (SELECT 1 FROM queue.job WHERE status = 'running' "
                               "AND worker LIKE %s)", (f"%:{pid}/%",)).fetchone()[0]:
            assert time.monotonic() < deadline, "the worker never took a job"
            time.sleep(0.02)


def test_workers_killed_at_random_lose_no_job_and_complete_none_twice(db_url, tmp_path):
    """1,000 jobs, three workers of two slots, one of them killed with SIGKILL every few tenths
    of a second and replaced: every job ends completed exactly once; the killed workers' jobs
    came back when their leases ran out."""
    count = 1000
    with psycopg.connect(db_url, autocommit=True) as conn:
        # a reaped job waits before its next start (30 s by default): a second here
        conn.execute("UPDATE hstvo.setting SET value = '1' WHERE name = 'queue_retry_seconds'")
        conn.execute("INSERT INTO queue.job (command, arguments) SELECT 'shell', "
                     "'{\"command\": \"sleep 0.01\"}' FROM generate_series(1, %s)", (count,))
    env = {**os.environ, "DATABASE_URL": db_url}
    rng = random.Random(7)
    log = (tmp_path / "workers.log").open("w")
    workers = [start_worker(env, tmp_path, "--concurrency", "2", "--lease", "2", log=log)
               for _ in range(3)]
    kills = 0
    deadline = time.monotonic() + 240
    try:
        while jobs_by_status(db_url).get("completed", 0) < count:
            assert time.monotonic() < deadline, jobs_by_status(db_url)
            time.sleep(rng.uniform(0.2, 0.6))
            if kills < 12:
                victim = rng.randrange(len(workers))
                # (on a busy machine a worker may take seconds to start: the first kill waits
                # until the victim holds a job, so that a killed job in hand is always seen)
                if kills == 0:
                    _wait_until_holding(db_url, workers[victim].pid, deadline)
                workers[victim].kill()
                workers[victim].wait()
                kills += 1
                workers[victim] = start_worker(env, tmp_path, "--concurrency", "2", "--lease", "2",
                                               log=log)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        log.close()
    with psycopg.connect(db_url) as conn:
        assert jobs_by_status(db_url) == {"completed": count}
        completions = conn.execute(
            "SELECT job_id, count(*) FROM queue.job_history WHERE to_status = 'completed' "
            "GROUP BY 1 HAVING count(*) <> 1").fetchall()
        assert completions == [], "a job completed twice"
        assert conn.execute("SELECT count(DISTINCT job_id) FROM queue.job_history "
                            "WHERE to_status = 'completed'").fetchone()[0] == count
        restarted = conn.execute("SELECT count(*) FROM queue.job WHERE starts > 1").fetchone()[0]
        reaped = conn.execute("SELECT count(*) FROM queue.job_history WHERE from_status = 'running' "
                              "AND to_status = 'idle'").fetchone()[0]
    assert kills == 12
    assert restarted > 0 and reaped > 0, "no worker was killed with a job in hand"


def test_a_worker_killed_mid_calibration_leaves_it_to_another_and_it_is_ingested_once(archive, tmp_path):
    """The workers here have nothing but DATABASE_URL: the archive's address (service_url) and
    the write token (files_write_token) are the database's settings."""
    db_url, base, env = archive
    env = {**os.environ, "DATABASE_URL": db_url}
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hstvo.setting SET value = %s WHERE name = 'service_url'", (base,))
        conn.execute("INSERT INTO hstvo.setting (name, value) VALUES ('files_write_token', %s)",
                     (TOKEN,))
        # the killed worker's job waits before its next start (30 s by default): a second here
        conn.execute("UPDATE hstvo.setting SET value = '1' WHERE name = 'queue_retry_seconds'")
        conn.execute("UPDATE hst.calibration_setup SET command = "
                     "'{python} -m loaders.minical --delay 4 {input} {output}' WHERE instrument = 'ACS'")
        logged = conn.execute("SELECT count(*) FROM hst.ingest_log WHERE file_name = "
                              "'j9irw1rqq_flt.fits'").fetchone()[0]
    run_hstvo("reffile", "add", str(a_bias_file(tmp_path / "tst0002_bia.fits")), db_url=db_url, check=True)
    first = start_worker(env, tmp_path, "--lease", "2")
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while conn.execute("SELECT status FROM queue.job").fetchone()[0] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1)  # mid-calibration
        first.kill()
        first.communicate()
        second = start_worker(env, tmp_path, "--lease", "2", "--once")
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 0, out
        job = conn.execute("SELECT status::text, starts FROM queue.job").fetchone()
        assert job == ("completed", 2)
        assert conn.execute("SELECT count(*) FROM hst.ingest_log WHERE file_name = "
                            "'j9irw1rqq_flt.fits'").fetchone()[0] == logged + 1
        assert [t for (t,) in conn.execute("SELECT to_status::text FROM queue.job_history ORDER BY at")] == \
            ["idle", "running", "idle", "running", "completed"]


def test_a_mosaic_rebuild_runs_on_a_worker_and_its_mosaic_is_ingested_with_its_members(archive, tmp_path):
    """A `build_mosaic` job: the worker fetches the visit's member exposures, writes their
    poller list, runs the configured program (loaders.minimosaic standing in for HAP's
    runsinglehap), sends the mosaic back, and the ingest makes it a composite observation whose
    member is the exposure."""
    db_url, base, env = archive
    mosaic = "hst_10368_05_acs_wfc_f606w_j94f05"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hstvo.setting SET value = 'on' WHERE name = 'hap_mosaic_rebuilds'")
        conn.execute("UPDATE hst.mosaic_setup SET command = "
                     "'{python} -m loaders.minimosaic {poller} {output}'")
        queued = conn.execute("SELECT hst.enqueue_mosaic_builds(ARRAY(SELECT f FROM hst.archive_file f "
                              "WHERE f.file_name = 'j94f05bgq_flt.fits'), 'a test')").fetchone()[0]
        assert queued == 1
        assert conn.execute("SELECT dataset FROM queue.job").fetchone()[0] == mosaic
    # a mosaic needs 2 CPUs and 8 GB (hst.mosaic_setup): a worker with less leaves it
    small = start_worker(env, tmp_path, "--once")
    small.communicate(timeout=60)
    assert jobs_by_status(db_url) == {"idle": 1}
    worker = start_worker(env, tmp_path, "--once", "--lease", "20", "--cpus", "2",
                          "--memory-mb", "8192")
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out
    assert jobs_by_status(db_url) == {"completed": 1}, out
    with psycopg.connect(db_url) as conn:
        typecode, members = conn.execute("SELECT typecode, members FROM caom2.observation "
                                         "WHERE observationid = %s", (mosaic,)).fetchone()
        assert (typecode, members) == ("C", "caom:HST/j94f05bgq")
        assert conn.execute("SELECT calib_level, obs_id FROM ivoa.obscore WHERE obs_id = %s",
                            (mosaic,)).fetchone() == (3, mosaic)
        result = conn.execute("SELECT result FROM queue.job").fetchone()[0]
        path = conn.execute("SELECT path FROM hst.archive_file WHERE file_name = %s",
                            (f"{mosaic}_drz.fits",)).fetchone()[0]
    assert result["products"] == [f"{mosaic}_drz.fits"] and result["members"] == ["j94f05bgq_flt.fits"]
    assert fits.getheader(path)["NCOMBINE"] == 1
