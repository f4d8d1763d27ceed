"""The command line and the HTTP service, run for real."""

import httpx
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
