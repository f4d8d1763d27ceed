"""The command line and the HTTP service, run for real."""

import time

import httpx
import psycopg
from lxml import etree

from .conftest import SAMPLE_DATA, run_hstvo
from .test_migrations import head_revision


def test_import_then_export_by_the_command_line(db_url, tmp_path):
    result = run_hstvo("xml", "import", str(SAMPLE_DATA / "caom2"), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "imported 3 of 3 documents" in result.stdout

    out = tmp_path / "exported.xml"
    result = run_hstvo("xml", "export", "HST", "ibc301qrq", "-o", str(out), db_url=db_url)
    assert result.returncode == 0, result.stderr
    root = etree.parse(str(out)).getroot()
    assert root.tag == "{http://www.opencadc.org/caom2/xml/v2.4}Observation"
    assert root.get("{http://www.opencadc.org/caom2/xml/v2.4}accMetaChecksum").startswith("md5:")

    stdout = run_hstvo("xml", "export", "HST", "ibc301qrq", db_url=db_url)
    assert stdout.stdout.encode() == out.read_bytes()


def test_export_of_a_missing_observation_fails_clearly(db_url):
    result = run_hstvo("xml", "export", "HST", "nosuchobs", db_url=db_url)
    assert result.returncode == 2
    assert "no observation caom:HST/nosuchobs" in result.stderr


def test_help_teaches(db_url):
    result = run_hstvo("--help", db_url=db_url)
    assert result.returncode == 0
    for word in ("db", "xml", "serve", "DATABASE_URL", "examples"):
        assert word in result.stdout


def test_db_upgrade_is_idempotent_from_the_command_line(db_url):
    for _ in range(2):
        result = run_hstvo("db", "upgrade", db_url=db_url)
        assert result.returncode == 0, result.stderr
        assert f"database is at revision {head_revision()}" in result.stdout


def test_landing_page_lists_services_with_live_counts(db_url, http_server):
    run_hstvo("samples", db_url=db_url, check=True)
    response = httpx.get(http_server + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "11 observations, 11 data products" in response.text
    for path in ("/tap", "/datalink", "/caom2repo"):
        assert f'href="{path}"' in response.text


def test_db_psql_runs_sql_and_files_read_only_when_asked(db_url, tmp_path):
    answer = run_hstvo("db", "psql", "-c", "SELECT count(*) AS n FROM caom2.observation",
                       db_url=db_url)
    assert answer.returncode == 0 and "n" in answer.stdout and "0" in answer.stdout
    script = tmp_path / "write.sql"
    script.write_text("INSERT INTO hstvo.file_root (path) VALUES ('/nowhere');\n")
    refused = run_hstvo("db", "psql", "--read-only", "-f", str(script), db_url=db_url)
    assert refused.returncode != 0 and "read-only transaction" in refused.stderr
    done = run_hstvo("db", "psql", "-f", str(script), db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert "/nowhere" in run_hstvo("db", "psql", "-c", "SELECT path FROM hstvo.file_root",
                                   db_url=db_url).stdout


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    url = "postgresql://someone:secret@127.0.0.1:1/archive"
    for command in (["jobs"], ["adql", "--run", "SELECT TOP 1 obs_id FROM ivoa.ObsCore"],
                    ["xml", "export", "HST", "x"], ["reffile", "list"]):
        result = run_hstvo(*command, db_url=url)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot reach the archive's database")
        assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_a_database_not_upgraded_is_one_clear_line(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if from an older hstvo
        conn.execute("DROP FUNCTION hstvo.registry(text)")
    result = run_hstvo("registry", "--config", "/nonexistent", db_url=db_url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: the archive's database ({db_url}) is older than this hstvo: function "
        "hstvo.registry(text) does not exist; run `hstvo db upgrade`"]


def test_empty_listings_say_so_and_selections_are_checked(db_url):
    assert run_hstvo("jobs", db_url=db_url).stdout.strip() == "no jobs in the queue"
    assert run_hstvo("reffile", "list", db_url=db_url).stdout.startswith(
        "no reference files registered")
    wrong = run_hstvo("reffile", "add", "--name", "jref$new_bia.fits", "--useafter", "2005-01-01",
                      "--select", "DETECTOR=WFC", "FILTER1=F606W", "--dry-run", db_url=db_url)
    assert wrong.returncode == 1
    assert "not selected by FILTER1" in wrong.stderr and "CCDAMP" in wrong.stderr
    right = run_hstvo("reffile", "add", "--name", "jref$new_bia.fits", "--useafter", "2005-01-01",
                      "--select", "DETECTOR=WFC", "CCDAMP=ABCD", "--dry-run", db_url=db_url)
    assert right.returncode == 0, right.stderr


def test_worker_once_on_an_empty_queue_exits_at_once(db_url, tmp_path):
    started = time.monotonic()
    result = run_hstvo("worker", "--once", "--cache", str(tmp_path / "cache"), db_url=db_url,
                       timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    assert "no job this worker can run" in result.stderr
