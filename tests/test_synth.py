"""The synthetic HST archive (loaders/synth.py): deterministic, realistic, and ingestible."""

import hashlib
import os
import signal
import subprocess
import sys
import time

from loaders.fits_header import read_fits
from loaders.fits_ingest import find_files, ingest
from loaders.synth import write_archive

from .conftest import PROJECT_ROOT, run_hstvo


def _digest(paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes_other_seed_other_archive(tmp_path):
    first = write_archive(tmp_path / "a", count=12, seed=5)
    second = write_archive(tmp_path / "b", count=12, seed=5)
    other = write_archive(tmp_path / "c", count=12, seed=6)
    assert [p.name for p in first] == [p.name for p in second]
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(other)


def test_families_look_like_hst_deliveries(tmp_path):
    files = write_archive(tmp_path, count=40, seed=3)
    instruments = {read_fits(p).primary["INSTRUME"] for p in files if p.name.endswith("_raw.fits")
                   or "_rawtag_" in p.name or p.name.endswith("_d0m.fits")}
    assert instruments == {"ACS", "WFC3", "STIS", "COS", "WFPC2", "NICMOS"}
    suffixes = {p.name.split("_", 1)[1] for p in files}
    assert {"raw.fits", "flt.fits", "flc.fits", "spt.fits", "trl.fits", "asn.fits",
            "drz.fits", "x1d.fits", "c0m.fits", "rawtag_a.fits"} <= suffixes
    flt = read_fits(next(p for p in files if p.name.startswith("j") and p.name.endswith("_flt.fits")))
    assert flt.primary["CAL_VER"] and flt.primary["BIASFILE"].startswith("jref$")
    chips = [e for e in flt.extensions if e.corners]
    assert len(chips) == 2 and chips[0].shape == (4096, 2048)  # ACS/WFC: two chips


def test_a_synthetic_archive_ingests_completely(conn, tmp_path):
    files = write_archive(tmp_path, count=25, seed=11)
    report = ingest(conn, find_files([str(tmp_path)]), jobs=2, batch_size=40)
    assert (report.files, report.ingested, report.refused) == (len(files), len(files), 0)
    composites = conn.execute("""
        SELECT o.observationid, o.members, count(m.obsid)
          FROM caom2.observation o
          LEFT JOIN caom2.observation m
            ON m.observationid = ANY (string_to_array(replace(o.members, 'caom:HST/', ''), ' '))
         WHERE o.typecode = 'C' GROUP BY 1, 2""").fetchall()
    assert composites and all(found == len(members.split()) for _, members, found in composites)
    # every imaging plane that maps has a footprint, every plane has time bounds from the headers
    missing = conn.execute("""
        SELECT count(*) FILTER (WHERE dataproduct_type = 'image' AND calib_level >= 2
                                  AND s_region IS NULL),
               count(*) FILTER (WHERE t_min IS NULL AND calib_level >= 2)
          FROM ivoa.obscore""").fetchone()
    assert missing == (0, 0)


def test_cli_synth_then_ingest(db_url, tmp_path):
    result = run_hstvo("synth", "--count", "3", "--seed", "2", str(tmp_path), db_url=db_url)
    assert result.returncode == 0 and "for 3 datasets" in result.stdout
    ingested = run_hstvo("ingest", str(tmp_path), db_url=db_url)
    assert ingested.returncode == 0, ingested.stderr
    assert " 0 refused" in ingested.stdout


def _children(pid: int) -> list[int]:
    """The processes `pid` started (Linux: /proc)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found += [int(child) for child in children.read().split()]
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to read its status."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_an_ingest_killed_halfway_leaves_whole_observations_and_resumes(conn, db_url, tmp_path):
    """SIGKILL during a run: committed batches stay whole, the cut one vanishes, and running
    the same command again completes the archive."""
    write_archive(tmp_path, count=60, seed=4)
    total = len(find_files([str(tmp_path)]))
    env = {**os.environ, "DATABASE_URL": db_url}
    process = subprocess.Popen([sys.executable, "-m", "hstvo.cli", "ingest", str(tmp_path),
                                "--batch-size", "20", "--jobs", "1"], env=env, cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while conn.execute("SELECT count(*) FROM hst.ingest_log").fetchone()[0] < 40:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    readers = _children(process.pid)
    assert readers  # the header readers (and the pool's resource tracker)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # its reader processes do not wait for ever for work that will not come
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in readers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in readers)
    logged, registered = conn.execute("SELECT (SELECT count(*) FROM hst.ingest_log),"
                                      " (SELECT count(*) FROM hst.archive_file)").fetchone()
    assert 40 <= logged < total and registered == logged  # batches are all or nothing
    # every stored observation is the one its registered files describe
    stale = conn.execute("""
        SELECT o.observationid FROM caom2.observation o
         WHERE (SELECT count(*) FROM caom2.plane p WHERE p.obsid = o.obsid)
               <> (SELECT count(DISTINCT product_id) FROM hst.archive_file f
                    WHERE f.observationid = o.observationid)""").fetchall()
    assert stale == []
    rerun = run_hstvo("ingest", str(tmp_path), db_url=db_url)
    assert rerun.returncode == 0, rerun.stderr
    assert conn.execute("SELECT count(*) FROM hst.archive_file").fetchone()[0] == total


def test_a_stream_cut_in_two_writes_the_archive_write_archive_writes(tmp_path):
    """hstvo synth --ingest's stream: chunk by chunk, resumed from its checkpoint, the same
    files as one write_archive; every chunk is handed over, and removed unless kept."""
    from loaders.synth import stream_archive

    whole = write_archive(tmp_path / "whole", count=9, seed=4)
    stored: list[list] = []
    first = stream_archive(tmp_path / "kept", 5, 4, 2, stored.append, keep=True)
    second = stream_archive(tmp_path / "kept", 9, 4, 2, stored.append, keep=True)
    assert (first, second, len(stored)) == (5, 4, 5)  # chunks of 2, 2, 1 | 2, 2
    streamed = [path for chunk in stored for path in chunk]
    assert [p.name for p in streamed] == [p.name for p in whole]
    assert {p.name: p.read_bytes() for p in streamed} == {p.name: p.read_bytes() for p in whole}
    removed: list[list] = []
    stream_archive(tmp_path / "gone", 3, 4, 2, removed.append)
    assert removed and not any(p.exists() for chunk in removed for p in chunk)
    assert stream_archive(tmp_path / "gone", 3, 4, 2, removed.append) == 0  # nothing left to do


def test_a_million_observations_keep_unique_names():
    """Past 36^3 families the visit digits carry the family's index: rootnames stay unique
    and nine characters long."""
    import random

    from loaders.synth import _family, base36

    names = set()
    for index in (5, 5 + 36 ** 3, 5 + 2 * 36 ** 3, 36 ** 3 - 1):
        instrument, family = _family(random.Random(1), index)
        names.add(instrument.letter + base36(index, 3) + family["visit"])
    assert len(names) == 4 and all(len(n) == 6 for n in names)
