"""Scheduled harvests through pg_cron (harvest.schedule, `hstvo harvest schedule`). The test
cluster preloads pg_cron (Debian's postgresql-15-cron, which `make test` installs) with its jobs
in CRON_DATABASE: that database, a clone of the template, holds the schedule; any other refuses
plainly and says what to do instead."""

from __future__ import annotations

import os

import psycopg
import pytest

from .conftest import CRON_DATABASE, run_hstvo


@pytest.fixture(scope="module")
def cron_archive(pg_server, template_db):
    janitor = pg_server.janitor(CRON_DATABASE, template_dbname=template_db)
    janitor.init()
    try:
        with psycopg.connect(pg_server.url(CRON_DATABASE), autocommit=True) as conn:
            if conn.execute("SELECT current_setting('cron.database_name', true)").fetchone()[0] \
                    != CRON_DATABASE:
                # the test cluster `make test` starts always preloads it: only a server the
                # developer named may lack it
                assert os.environ.get("HSTVO_TEST_DATABASE_URL"), "pg_cron is not preloaded"
                pytest.skip("this server does not preload pg_cron for the tests (an external "
                            "HSTVO_TEST_DATABASE_URL): `make test` starts one that does")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            conn.execute("SELECT harvest.add_http_source('peer', 'http://127.0.0.1:1')")
            yield pg_server.url(CRON_DATABASE), conn
    finally:
        janitor.drop()


def test_a_schedule_is_a_pg_cron_job_that_calls_the_harvest(cron_archive):
    url, conn = cron_archive
    made = run_hstvo("harvest", "schedule", "peer", "--cron", "*/15 * * * *", db_url=url)
    assert made.returncode == 0, made.stderr
    assert conn.execute("SELECT schedule, command, active FROM cron.job WHERE jobname = "
                        "'hstvo harvest peer'").fetchone() == \
        ("*/15 * * * *", "CALL caom2.harvest('peer')", True)
    assert conn.execute("SELECT * FROM harvest.schedules()").fetchall() == [
        ("peer", "*/15 * * * *", True)]
    # scheduling again replaces it; --off removes it
    run_hstvo("harvest", "schedule", "peer", db_url=url, check=True)
    assert conn.execute("SELECT schedule FROM cron.job WHERE jobname = 'hstvo harvest peer'"
                        ).fetchall() == [("0 * * * *",)]
    assert "schedule removed" in run_hstvo("harvest", "schedule", "peer", "--off", db_url=url).stdout
    assert conn.execute("SELECT count(*) FROM cron.job").fetchone() == (0,)


def test_without_pg_cron_the_schedule_says_what_to_do(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT harvest.add_http_source('peer', 'http://127.0.0.1:1')")
    refused = run_hstvo("harvest", "schedule", "peer", db_url=db_url)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "pg_cron is not installed in this database" in refused.stderr
    assert "--every 1h" in refused.stderr
