"""CADC's command-line clients against the served archive, set up as the README says:
`cadc-tap schema` and `cadc-tap query` (the TAP URL itself), and `caom2-repo` create, read,
update, visit and delete through cadcutils' registry (`hstvo registry`, then `--host hstvo`).
The clients are AGPL and test-only; they run as real processes with their own HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from .conftest import run_hstvo, served_samples

TOKEN = "cli-write-token"
REPO = "ivo://hstvo.example/caom2repo"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    """The sample archive served writable with TOKEN, and a HOME whose cadcutils registry
    cache `hstvo registry` wrote."""
    home = tmp_path_factory.mktemp("home")
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("cadc_cli"),
                        "hstvo_cadc_cli", HSTVO_TOKEN=TOKEN) as (base, db_url):
        written = run_hstvo("registry", "--config", str(home / ".config" / "cadc-registry"),
                            db_url=db_url, check=True)
        assert f"{REPO} = {base}/caom2repo/capabilities" in written.stdout
        yield base, db_url, home


def client(archive, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one of CADC's command-line clients as a user would, in the archive's HOME."""
    _, _, home = archive
    env = {**os.environ, "HOME": str(home)}
    result = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, text=True,
                            capture_output=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def repo(archive, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """caom2-repo ACTION ... --host hstvo --resource-id ivo://hstvo.example/caom2repo."""
    action, rest = args[0], args[1:]
    return client(archive, "caom2-repo", action, "--host", "hstvo", "--resource-id", REPO,
                  "--token", TOKEN, *rest, check=check)


def test_registry_lists_the_services(archive):
    base, _, _ = archive
    listing = httpx.get(base + "/reg/resource-caps")
    assert listing.status_code == 200 and listing.headers["content-type"].startswith("text/plain")
    assert f"ivo://hstvo.example/tap = {base}/tap/capabilities" in listing.text
    assert f"{REPO} = {base}/caom2repo/capabilities" in listing.text


def test_cadc_tap_schema_lists_tables_and_columns(archive):
    base, _, _ = archive
    tables = client(archive, "cadc-tap", "schema", "-a", "-s", base + "/tap").stdout
    assert "ivoa.ObsCore" in tables and "caom2.Plane" in tables and "tap_schema" in tables
    columns = client(archive, "cadc-tap", "schema", "-a", "-s", base + "/tap",
                     "ivoa.ObsCore").stdout
    assert "s_region" in columns and "obs_publisher_did" in columns


def test_cadc_tap_query(archive):
    base, _, _ = archive
    out = client(archive, "cadc-tap", "query", "-a", "-s", base + "/tap",
                 "SELECT obs_id, instrument_name FROM ivoa.ObsCore "
                 "WHERE obs_id = 'j8bt05njq' ORDER BY obs_id").stdout
    assert "j8bt05njq" in out and "ACS" in out
    refused = client(archive, "cadc-tap", "query", "-a", "-s", base + "/tap",
                     "SELECT nosuchcolumn FROM ivoa.ObsCore", check=False)
    assert refused.returncode != 0 and "nosuchcolumn" in refused.stdout + refused.stderr


def test_caom2_repo_read_delete_create_update(archive, tmp_path):
    document = tmp_path / "j8bt05njq.xml"
    repo(archive, "read", "-o", str(document), "HST", "j8bt05njq")
    original = document.read_text()
    assert "<caom2:observationID>j8bt05njq</caom2:observationID>" in original
    repo(archive, "delete", "HST", "j8bt05njq")
    gone = repo(archive, "read", "HST", "j8bt05njq", check=False)
    assert gone.returncode != 0
    repo(archive, "create", str(document))
    again = tmp_path / "again.xml"
    repo(archive, "read", "-o", str(again), "HST", "j8bt05njq")
    assert _planes(again.read_text()) == _planes(original)
    renamed = original.replace("<caom2:name>", "<caom2:name>renamed ", 1)
    document.write_text(renamed)
    repo(archive, "update", str(document))
    updated = repo(archive, "read", "HST", "j8bt05njq").stdout
    assert "<caom2:name>renamed " in updated


def test_caom2_repo_refuses_writes_without_the_token(archive, tmp_path):
    document = tmp_path / "obs.xml"
    repo(archive, "read", "-o", str(document), "HST", "o4sp040b0")
    anonymous = client(archive, "caom2-repo", "delete", "--host", "hstvo", "--resource-id", REPO,
                       "HST", "o4sp040b0", check=False)
    assert anonymous.returncode != 0
    assert "o4sp040b0" in repo(archive, "read", "HST", "o4sp040b0").stdout


def test_caom2_repo_visit_updates_every_observation(archive, tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "class ObservationUpdater:\n"
        "    def update(self, observation, **kwargs):\n"
        "        observation.meta_producer = 'visited by caom2-repo'\n"
        "        return True\n")
    visit = repo(archive, "visit", "-v", "--plugin", str(plugin), "HST")
    assert "visited/updated/skipped/errors" in visit.stdout
    _, db_url, _ = archive
    counted = run_hstvo("db", "psql", "--read-only", "-c",
                        "SELECT count(*) FILTER (WHERE metaproducer = 'visited by caom2-repo')"
                        " || '/' || count(*) FROM caom2.observation", db_url=db_url, check=True)
    done, total = counted.stdout.split()[2].split("/")
    assert done == total and int(total) >= 10


def _planes(document: str) -> list[str]:
    return sorted(line.strip() for line in document.splitlines() if "<caom2:productID>" in line)
