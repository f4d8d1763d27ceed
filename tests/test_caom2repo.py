"""The CAOM2 repository service driven by CADC's own client (caom2repo, AGPL, test-only):
create, read, update, delete and visit, over real HTTP; documents it receives validate against
the CAOM 2.4 schema (caom2's reader with validation on)."""

import io
import httpx
import pytest
from caom2 import obs_reader_writer
from cadcutils import exceptions, net
from caom2repo.core import CAOM2RepoClient

from .conftest import SAMPLE_DATA, run_hstvo, serving

TOKEN = "repo-token"
DOCUMENT = SAMPLE_DATA / "caom2" / "j94f05bgq.xml"


@pytest.fixture
def repo(db_url, tmp_path, monkeypatch):
    """The service (writable with TOKEN), its resource ID for the client, and clients."""
    monkeypatch.setenv("HOME", str(tmp_path))  # cadcutils caches capabilities under ~/.config
    with serving(db_url, tmp_path / "serve.log", HSTVO_TOKEN=TOKEN) as base:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE hstvo.setting SET value = %s WHERE name = 'service_url'", (base,))
        resource = base + "/caom2repo"
        writer = CAOM2RepoClient(net.Subject(token=TOKEN), resource_id=resource)
        reader = CAOM2RepoClient(net.Subject(), resource_id=resource)
        yield base, resource, writer, reader


def validated(observation) -> object:
    """The observation written as CAOM 2.4 XML and read back by caom2 with XSD validation."""
    buffer = io.BytesIO()
    obs_reader_writer.ObservationWriter(validate=True).write(observation, buffer)
    return obs_reader_writer.ObservationReader(validate=True).read(io.BytesIO(buffer.getvalue()))


def test_create_read_update_delete_with_cadcs_client(repo):
    base, resource, writer, reader = repo
    original = obs_reader_writer.ObservationReader(validate=True).read(str(DOCUMENT))
    writer.create(original)
    with pytest.raises(exceptions.AlreadyExistsException):
        writer.create(original)
    got = reader.read("HST", "j94f05bgq")
    assert got.observation_id == "j94f05bgq" and validated(got).planes.keys() == original.planes.keys()
    assert got.acc_meta_checksum is not None
    etag = httpx.get(f"{resource}/observations/HST/j94f05bgq").headers["etag"]
    assert etag == got.acc_meta_checksum.uri
    got.target.name = "NGC 104 (47 Tuc)"
    writer.update(got)
    again = reader.read("HST", "j94f05bgq")
    assert again.target.name == "NGC 104 (47 Tuc)" and again.acc_meta_checksum != got.acc_meta_checksum
    # a stale If-Match is refused with 412
    stale = httpx.post(f"{resource}/observations/HST/j94f05bgq", content=DOCUMENT.read_bytes(),
                       headers={"Authorization": f"Bearer {TOKEN}", "If-Match": etag,
                                "Content-Type": "application/xml"})
    assert stale.status_code == 412
    with pytest.raises(exceptions.UnauthorizedException):
        reader.delete("HST", "j94f05bgq")
    writer.delete("HST", "j94f05bgq")
    with pytest.raises(exceptions.NotFoundException):
        reader.read("HST", "j94f05bgq")
    tombstones = httpx.get(f"{resource}/deletions/HST").text.splitlines()
    assert [line.split("\t")[2] for line in tombstones] == ["j94f05bgq"]


def test_listing_for_harvesters_and_visit(repo, db_url, tmp_path):
    base, resource, writer, reader = repo
    run_hstvo("samples", db_url=db_url, check=True)
    listing = httpx.get(f"{resource}/observations/HST", params={"maxrec": 5}).text.splitlines()
    assert len(listing) == 5
    rows = [line.split("\t") for line in listing]
    assert all(r[0] == "HST" and r[3].startswith("md5:") for r in rows)
    assert [r[2] for r in rows] == sorted(r[2] for r in rows), "ascending maxLastModified"
    start = rows[2][2]
    later = httpx.get(f"{resource}/observations/HST", params={"START": start}).text.splitlines()
    assert later[0].split("\t")[2] == start, "START is inclusive"
    assert httpx.get(f"{resource}/observations").text == "HST\n"
    plugin = tmp_path / "plugin.py"
    plugin.write_text("class ObservationUpdater:\n"
                      "    def update(self, observation, **kwargs):\n"
                      "        observation.meta_release = observation.meta_release\n"
                      "        return True\n")
    visited, updated, skipped, failed = writer.visit(str(plugin), "HST")
    assert len(visited) == 11 and len(updated) == 11 and not failed, (visited, updated, skipped, failed)


def test_the_landing_pages_link_leads_to_the_capabilities(repo):
    base, resource, _, _ = repo
    response = httpx.get(resource, follow_redirects=True)
    assert response.status_code == 200 and "CAOM2Repository#obs-1.2" in response.text
