"""The harvest between real databases (sql/85_harvest.sql, `hstvo harvest`): whole trees copied
with the source's values, only what changed moving on the next run, deletions applied, a chain
of three sites ending identical, and a harvest cut off anywhere (its client killed, its backend
terminated mid-batch or amid the deletions, its source connection dropped) resuming with nothing
lost or doubled. Identical means every table equal row for row (pgsphere values made again from
the same bounds), every accMetaChecksum equal, and ObsCore current."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from urllib.parse import urlsplit

from bench.synthetic_caom import add_observations
from loaders.fits_ingest import find_files, ingest

from .conftest import PROJECT_ROOT, SAMPLE_DATA, run_hstvo

COPIED_TABLES = ["caom2.observation", "caom2.plane", "caom2.artifact", "caom2.part", "caom2.chunk",
                 "caom2.observationmember", "caom2.provenanceinput", "hst.plane_calibration",
                 "hst.plane_reference_file", "hst.archive_file"]


@pytest.fixture(scope="module")
def site_a(pg_server, template_db):
    """The first site: the bundled real HST files, and 5,000 synthetic observations of 2 planes."""
    name = f"hstvo_site_a_{uuid.uuid4().hex[:8]}"
    janitor = pg_server.janitor(name, template_dbname=template_db)
    janitor.init()
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
            assert ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1).refused == 0
            add_observations(conn, 5000, "syn", planes=2)
            yield pg_server.url(name), conn
    finally:
        janitor.drop()


@pytest.fixture
def new_site(pg_server, template_db):
    """Empty sites made on demand (dropped afterwards): their URLs and connections."""
    made = []

    def make(prefix: str = "hstvo_site"):
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        janitor = pg_server.janitor(name, template_dbname=template_db)
        janitor.init()
        conn = psycopg.connect(pg_server.url(name), autocommit=True)
        made.append((janitor, conn))
        return pg_server.url(name), conn

    yield make
    for janitor, conn in made:
        conn.close()
        janitor.drop()


def add_source(conn: psycopg.Connection, name: str, source_url: str, batch_size: int = 1000) -> None:
    parts = urlsplit(source_url)
    conn.execute("SELECT harvest.add_database_source(%s, %s, %s, %s, %s, %s, 'HST', %s)",
                 (name, parts.hostname, parts.port, parts.path.lstrip("/"), parts.username,
                  parts.password, batch_size))


def last_run(conn: psycopg.Connection, source: str) -> dict:
    row = conn.execute("SELECT state, copied, deleted, skipped, error FROM harvest.run "
                       "WHERE source = %s ORDER BY id DESC LIMIT 1", (source,)).fetchone()
    return dict(zip(["state", "copied", "deleted", "skipped", "error"], row))


def assert_identical(conn: psycopg.Connection, source: str) -> None:
    """This site holds exactly what the source holds."""
    assert conn.execute("SELECT count(*) FROM harvest.differences(%s)", (source,)).fetchone() == (0,)
    remote = f"harvest_{source}"
    for table in COPIED_TABLES:
        columns = conn.execute("SELECT harvest.shared_columns(%s::regclass, %s::regclass)",
                               (table, f"{remote}.{table.split('.')[1]}")).fetchone()[0]
        for left, right in ((table, f"{remote}.{table.split('.')[1]}"),
                            (f"{remote}.{table.split('.')[1]}", table)):
            extra = conn.execute(f"SELECT count(*) FROM (SELECT {columns} FROM {left} "
                                 f"EXCEPT ALL SELECT {columns} FROM {right}) AS d").fetchone()[0]
            assert extra == 0, f"{table}: {extra} rows of {left} are not in {right}"
    # the pgsphere values, made again here, equal the source's
    assert conn.execute(f"SELECT count(*) FROM caom2.plane p JOIN {remote}.plane r USING (planeid) "
                        "WHERE NOT (p.position_bounds_spoly = r.position_bounds_spoly)"
                        ).fetchone() == (0,)
    assert conn.execute("SELECT stale, missing FROM hstvo.obscore_differences()").fetchone() == (0, 0)
    assert conn.execute("SELECT count(*) FROM hstvo.obscore_rows").fetchone() == \
        conn.execute(f"SELECT count(*) FROM {remote}.obscore_rows").fetchone()


def harvest(conn: psycopg.Connection, source: str, batch_size: int | None = None) -> dict:
    conn.execute("CALL caom2.harvest(%s, %s)", (source, batch_size))
    return last_run(conn, source)


@pytest.fixture(scope="module")
def site_b(pg_server, template_db, site_a):
    """The second site, which harvests the first (tests below share it, in order)."""
    name = f"hstvo_site_b_{uuid.uuid4().hex[:8]}"
    janitor = pg_server.janitor(name, template_dbname=template_db)
    janitor.init()
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
            add_source(conn, "a", site_a[0])
            yield pg_server.url(name), conn
    finally:
        janitor.drop()


def test_a_first_harvest_copies_every_tree_whole(site_a, site_b):
    _, b = site_b
    total = site_a[1].execute("SELECT count(*) FROM caom2.observation").fetchone()[0]
    assert total == 5011
    run = harvest(b, "a")
    assert (run["state"], run["copied"], run["deleted"], run["skipped"]) == ("done", total, 0, 0)
    assert_identical(b, "a")
    # the access rules travel unchanged
    assert b.execute("SELECT count(*) FROM caom2.plane WHERE metareadgroups = "
                     "'ivo://hstvo.example/gms?team'").fetchone() == (1000,)


def test_an_incremental_harvest_moves_only_the_changes(site_a, site_b):
    _, a = site_a
    _, b = site_b
    a.execute("UPDATE caom2.observation SET target_name = 'MOVED' "
              "WHERE observationid IN (SELECT 'syn' || i FROM generate_series(1, 100) AS i)")
    for i in range(101, 151):
        a.execute("SELECT caom2.delete_observation('HST', %s)", (f"syn{i}",))
    add_observations(a, 200, "new", planes=2)
    run = harvest(b, "a")
    assert (run["state"], run["copied"], run["deleted"], run["skipped"]) == ("done", 300, 50, 0)
    assert_identical(b, "a")
    assert harvest(b, "a")["copied"] == 0  # nothing changed: nothing moves


def test_a_chain_of_three_sites_ends_identical(site_a, site_b, new_site):
    c_url, c = new_site()
    add_source(c, "b", site_b[0], batch_size=700)
    assert harvest(c, "b")["state"] == "done"
    assert_identical(c, "b")
    add_source(c, "a", site_a[0])  # the first site, compared without harvesting from it
    assert_identical(c, "a")
    # a change at the first site reaches the third through the second
    site_a[1].execute("UPDATE caom2.plane SET time_exposure = 42 WHERE productid = 'syn7_2'")
    harvest(site_b[1], "a")
    assert harvest(c, "b")["copied"] == 1
    assert_identical(c, "a")


def harvest_process(db_url: str, source: str, batch_size: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.Popen([sys.executable, "-m", "hstvo.cli", "harvest", "run", source,
                             "--batch-size", str(batch_size)], env=env, cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(conn: psycopg.Connection, query: str, args=(), seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not conn.execute(query, args).fetchone()[0]:
        assert time.monotonic() < deadline, f"never true: {query}"
        time.sleep(0.05)


@pytest.mark.parametrize("cut", ["client killed", "backend terminated mid-batch"])
def test_a_harvest_cut_off_resumes_and_ends_identical(site_a, new_site, cut):
    d_url, d = new_site()
    add_source(d, "a", site_a[0])
    process = harvest_process(d_url, "a", 100)
    wait_until(d, "SELECT coalesce(max(batches), 0) >= 5 FROM harvest.run WHERE source = 'a'")
    if cut == "client killed":
        process.send_signal(signal.SIGKILL)
    else:
        d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE application_name = 'hstvo harvest' AND datname = current_database()")
    process.communicate(timeout=60)
    # (a killed client's backend ends its statement first, and its run's lock with it)
    wait_until(d, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = "
                  "'hstvo harvest' AND datname = current_database())")
    copied = d.execute("SELECT count(*) FROM caom2.observation").fetchone()[0]
    assert 0 < copied < 5000
    # the next run marks the cut one interrupted, and goes on from its last committed batch
    run = harvest(d, "a")
    assert run["state"] == "done"
    states = [s for (s,) in d.execute("SELECT state FROM harvest.run ORDER BY id")]
    assert states[0] in ("interrupted", "failed") and states[-1] == "done"
    assert_identical(d, "a")


def test_a_harvest_cut_off_amid_the_deletions_resumes(site_a, new_site):
    d_url, d = new_site()
    add_source(d, "a", site_a[0])
    harvest(d, "a")
    for i in range(200, 400):
        site_a[1].execute("SELECT caom2.delete_observation('HST', %s)", (f"syn{i}",))
    process = harvest_process(d_url, "a", 5)
    wait_until(d, "SELECT coalesce(max(deleted) FILTER (WHERE state = 'running'), 0) > 20 "
                  "FROM harvest.run WHERE source = 'a'")
    d.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE application_name = 'hstvo harvest' AND datname = current_database()")
    process.communicate(timeout=60)
    assert d.execute("SELECT count(*) FROM caom2.observation WHERE observationid IN "
                     "(SELECT 'syn' || i FROM generate_series(200, 399) AS i)").fetchone()[0] > 0
    harvest(d, "a")
    assert_identical(d, "a")
    # each deletion left one tombstone here, for whoever harvests from this site
    assert d.execute("SELECT count(*) FROM caom2.deletedobservation WHERE observationid IN "
                     "(SELECT 'syn' || i FROM generate_series(200, 399) AS i)").fetchone() == (200,)


def test_a_dropped_source_connection_fails_the_run_and_the_next_resumes(site_a, new_site):
    d_url, d = new_site()
    add_source(d, "a", site_a[0])
    process = harvest_process(d_url, "a", 100)
    wait_until(d, "SELECT coalesce(max(batches), 0) >= 3 FROM harvest.run WHERE source = 'a'")
    # the source's side of the connection goes (a restart or a network cut looks the same)
    site_a[1].execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'postgres_fdw' AND datname = current_database()")
    out, err = process.communicate(timeout=60)
    if process.returncode != 0:  # (it may have been between two connections, and went on)
        assert "failed" in out + err and "Traceback" not in err
        assert last_run(d, "a")["state"] == "failed"
    # a source that went away is not a reason to skip what it holds
    assert d.execute("SELECT count(*) FROM harvest.skip").fetchone() == (0,)
    harvest(d, "a")
    assert_identical(d, "a")


def test_an_observation_that_fails_its_check_is_skipped_and_retried(site_a, site_b):
    _, a = site_a
    url_b, b = site_b
    harvest(b, "a")
    # the source's accMetaChecksum of one observation no longer says what its tree holds
    with a.transaction():
        a.execute("SET LOCAL session_replication_role = replica")
        a.execute("UPDATE caom2.observation SET accmetachecksum = 'md5:00000000000000000000000000000000', "
                  "maxlastmodified = maxlastmodified + interval '1 hour' WHERE observationid = 'syn42'")
    a.execute("UPDATE caom2.observation SET target_name = 'FINE' WHERE observationid = 'syn43'")
    run = harvest(b, "a")
    assert (run["copied"], run["skipped"]) == (1, 1)
    skipped = run_hstvo("harvest", "skips", "a", db_url=url_b)
    assert "HST/syn42" in skipped.stdout and "accMetaChecksum" in skipped.stdout
    assert b.execute("SELECT target_name FROM caom2.observation WHERE observationid = 'syn43'"
                     ).fetchone() == ("FINE",)
    # mended at the source: tried again, and copied
    a.execute("SELECT caom2.rollup(ARRAY(SELECT obsid FROM caom2.observation WHERE observationid = 'syn42'))")
    retried = run_hstvo("harvest", "retry", "a", db_url=url_b)
    assert retried.returncode == 0 and "1 copied, 0 still skipped" in retried.stdout
    harvest(b, "a")
    assert_identical(b, "a")


def test_diff_finds_and_repair_mends_exactly_the_differences(site_a, site_b):
    url_b, b = site_b
    harvest(b, "a")
    b.execute("SELECT caom2.delete_observation('HST', 'syn500')")          # missing here
    b.execute("UPDATE caom2.observation SET target_name = 'LOCAL EDIT' "  # differs
              "WHERE observationid = 'syn501'")
    add_observations(b, 1, "local", planes=1)                              # deleted there
    found = run_hstvo("harvest", "diff", "a", db_url=url_b)
    assert found.returncode == 1
    for expected in ("missing", "syn500", "differs", "syn501", "deleted there", "local1"):
        assert expected in found.stdout
    assert "3 differences" in found.stdout
    mended = run_hstvo("harvest", "diff", "a", "--repair", db_url=url_b)
    assert mended.returncode == 0 and "3 mended, 0 differences left" in mended.stdout
    assert_identical(b, "a")
    status = run_hstvo("harvest", "status", db_url=url_b)
    assert status.returncode == 0 and "a " in status.stdout and "done" in status.stdout


def test_the_commands_refuse_clearly(site_b, new_site):
    url_b, _ = site_b
    unknown = run_hstvo("harvest", "run", "nosuch", db_url=url_b)
    assert unknown.returncode == 1
    assert "there is no harvest source nosuch" in unknown.stderr and "Traceback" not in unknown.stderr
    unreachable = run_hstvo("harvest", "add-source", "gone", "--dsn",
                            "postgresql://postgres@127.0.0.1:1/nowhere", db_url=url_b)
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert "gone" not in run_hstvo("harvest", "status", db_url=url_b).stdout  # not left half-made
    bad = run_hstvo("harvest", "add-source", "Bad Name", "--url", "http://x", db_url=url_b)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
