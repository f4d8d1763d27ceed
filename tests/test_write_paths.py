"""Every write path keeps the archive whole: what refers to an observation (the HST tables of its
planes' calibration and reference files, the file registry) survives a write of it, a round trip
changes nothing at all, and a write of one observation moves nothing outside it.

The paths: caom2.put_observation, `hstvo xml export` + `hstvo xml import`, the repository
service's PUT/POST/DELETE over HTTP, a re-ingest of the FITS files. (The worker's ingest is the
FITS path inside the completing transaction: test_worker checks its products.)
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from loaders.caom2xml import load_document, write_document
from loaders.fits_ingest import find_files, ingest

from .conftest import SAMPLE_DATA, run_hstvo, serving

TOKEN = "write-paths-token"
OBSERVATION = "j94f05bgq"
# tables whose rows are the archive (logs and caches excluded: they record that work happened)
SNAPSHOT_EXCLUDED = {"hst.ingest_log", "hst.ingest_staging", "hstvo.moc_cache"}


def snapshot(conn: psycopg.Connection) -> dict[str, set[str]]:
    """Every row of every archive table, as text, by table."""
    tables = [f"{s}.{t}" for s, t in conn.execute(
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname IN ('caom2', 'hst', 'queue', 'hstvo') ORDER BY 1, 2")]
    return {t: {r[0] for r in conn.execute(f"SELECT x::text FROM {t} AS x")}
            for t in tables if t not in SNAPSHOT_EXCLUDED}


def changed_tables(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, tuple]:
    """The tables whose rows differ: {table: (rows gone, rows new)}."""
    return {t: (before[t] - after[t], after[t] - before[t]) for t in before
            if before[t] != after.get(t)}


def side_rows(conn: psycopg.Connection, observation_id: str) -> tuple[int, int]:
    """How many reference-file and calibration rows the observation's planes have."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM hst.plane_reference_file r JOIN caom2.plane p USING (planeid)"
        "         JOIN caom2.observation o USING (obsid) WHERE o.observationid = %(o)s),"
        "       (SELECT count(*) FROM hst.plane_calibration c JOIN caom2.plane p USING (planeid)"
        "         JOIN caom2.observation o USING (obsid) WHERE o.observationid = %(o)s)",
        {"o": observation_id}).fetchone()


@pytest.fixture
def archive(conn):
    """The bundled real HST files ingested into a fresh database."""
    report = ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
    assert report.refused == 0
    references, calibrations = side_rows(conn, OBSERVATION)
    assert references == 15 and calibrations >= 1
    return conn


def test_put_observation_of_the_stored_document_changes_nothing(archive):
    before = snapshot(archive)
    document = archive.execute("SELECT caom2.observation_document('HST', %s)",
                               (OBSERVATION,)).fetchone()[0]
    summary = archive.execute("SELECT caom2.put_observation(%s, true)",
                              (Jsonb(document),)).fetchone()[0]
    assert summary["changed"] is False and summary["created"] is False
    assert changed_tables(before, snapshot(archive)) == {}


def test_put_observation_changes_only_the_rows_it_changes(archive):
    before = snapshot(archive)
    document = archive.execute("SELECT caom2.observation_document('HST', %s)",
                               (OBSERVATION,)).fetchone()[0]
    document["observation"]["target_name"] = "NGC 104"
    summary = archive.execute("SELECT caom2.put_observation(%s)", (Jsonb(document),)).fetchone()[0]
    assert summary["changed"] is True
    changes = changed_tables(before, snapshot(archive))
    assert set(changes) == {"caom2.observation", "hstvo.obscore_rows"}  # ObsCore follows
    gone, new = changes["caom2.observation"]
    assert len(gone) == len(new) == 1 and OBSERVATION in next(iter(new))
    gone, new = changes["hstvo.obscore_rows"]
    assert gone and len(gone) == len(new) and all("NGC 104" in row for row in new)
    assert side_rows(archive, OBSERVATION) == (15, side_rows(archive, OBSERVATION)[1])


def _with_second_plane(conn: psycopg.Connection, observation_id: str) -> tuple[dict, str, str]:
    """The observation stored with a copy of its first plane (new ids, its own reference-file
    rows); returns the stored document, the copy's productID and its id."""
    document = conn.execute("SELECT caom2.observation_document('HST', %s)",
                            (observation_id,)).fetchone()[0]
    first = document["planes"][0]
    copy = json.loads(json.dumps(first).replace(first["productid"], first["productid"] + "_copy"))
    fresh = {}
    for key in ("planeid", "artifactid", "partid", "chunkid"):
        for old in {m.group(1) for m in re.finditer(f'"{key}": "([0-9a-f-]+)"', json.dumps(copy))}:
            fresh[old] = str(uuid.uuid4())
    text = json.dumps(copy)
    for old, new in fresh.items():
        text = text.replace(old, new)
    copy = json.loads(text)
    document["planes"].append(copy)
    conn.execute("SELECT caom2.put_observation(%s)", (Jsonb(document),))
    conn.execute("INSERT INTO hst.plane_reference_file (planeid, keyword, value, location, file_name) "
                 "SELECT %s, keyword, value, location, file_name FROM hst.plane_reference_file "
                 "WHERE planeid = %s", (copy["planeid"], first["planeid"]))
    return document, copy["productid"], copy["planeid"]


def test_a_plane_that_leaves_the_document_takes_only_its_own_rows(archive):
    document, leaving, leaving_id = _with_second_plane(archive, OBSERVATION)
    assert side_rows(archive, OBSERVATION)[0] == 30
    before = snapshot(archive)
    document["planes"] = [p for p in document["planes"] if p["productid"] != leaving]
    archive.execute("SELECT caom2.put_observation(%s)", (Jsonb(document),))
    assert archive.execute("SELECT count(*) FROM caom2.plane WHERE productid = %s",
                           (leaving,)).fetchone()[0] == 0
    assert side_rows(archive, OBSERVATION)[0] == 15
    obsid = document["observation"]["obsid"]
    for table, (gone, new) in changed_tables(before, snapshot(archive)).items():
        assert all(obsid in row or leaving_id in row for row in gone), table
        assert all(obsid in row and leaving_id not in row for row in new), table


def test_xml_export_then_import_is_unchanged_and_keeps_reference_files(archive, db_url, tmp_path):
    before = snapshot(archive)
    exported = tmp_path / f"{OBSERVATION}.xml"
    run_hstvo("xml", "export", "HST", OBSERVATION, "-o", str(exported), db_url=db_url, check=True)
    result = run_hstvo("xml", "import", str(exported), db_url=db_url)
    assert result.returncode == 0, result.stderr
    assert "1 unchanged" in result.stdout and "updated" not in result.stdout
    assert changed_tables(before, snapshot(archive)) == {}
    assert side_rows(archive, OBSERVATION)[0] == 15


def test_reingest_of_the_fits_files_changes_nothing(archive):
    before = snapshot(archive)
    report = ingest(archive, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
    assert report.ingested == 0 and report.refused == 0
    assert changed_tables(before, snapshot(archive)) == {}


def test_rebuild_of_every_observation_changes_nothing(archive):
    before = snapshot(archive)
    report = ingest(archive, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1,
                    rebuild=True)
    assert report.refused == 0
    assert changed_tables(before, snapshot(archive)) == {}


@pytest.fixture
def repository(archive, db_url, tmp_path):
    with serving(db_url, tmp_path / "serve.log", HSTVO_TOKEN=TOKEN) as base:
        yield base + "/caom2repo"


def _xml(conn: psycopg.Connection, observation_id: str) -> bytes:
    return write_document(load_document(conn, "HST", observation_id))


def _post(resource: str, observation_id: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{resource}/observations/HST/{observation_id}", content=body,
                      headers={"Authorization": f"Bearer {TOKEN}",
                               "Content-Type": "application/xml"})


def test_repository_update_with_the_same_document_changes_nothing(archive, repository):
    before = snapshot(archive)
    response = _post(repository, OBSERVATION, _xml(archive, OBSERVATION))
    assert response.status_code == 200, response.text
    assert changed_tables(before, snapshot(archive)) == {}


def test_repository_update_keeps_reference_files_and_moves_only_its_observation(archive, repository):
    before = snapshot(archive)
    body = _xml(archive, OBSERVATION).replace(b"<caom2:name>", b"<caom2:name>Renamed ", 1)
    assert b"Renamed" in body
    response = _post(repository, OBSERVATION, body)
    assert response.status_code == 200, response.text
    changes = changed_tables(before, snapshot(archive))
    assert set(changes) <= {"caom2.observation", "caom2.plane", "caom2.artifact"}
    obsid = archive.execute("SELECT obsid::text FROM caom2.observation WHERE observationid = %s",
                            (OBSERVATION,)).fetchone()[0]
    for gone, new in changes.values():
        assert all(obsid in row for row in gone | new)
    assert side_rows(archive, OBSERVATION)[0] == 15


def test_repository_delete_and_create_touch_only_their_observation(archive, repository):
    body = _xml(archive, OBSERVATION)
    before = snapshot(archive)
    deleted = httpx.delete(f"{repository}/observations/HST/{OBSERVATION}",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert deleted.status_code in (200, 204), deleted.text
    changes = changed_tables(before, snapshot(archive))
    for table, (gone, new) in changes.items():
        if table == "caom2.deletedobservation":
            assert len(new) == 1 and OBSERVATION in next(iter(new)) and not gone
        else:
            assert not new, table
            assert gone, table
    assert side_rows(archive, OBSERVATION) == (0, 0)
    created = httpx.put(f"{repository}/observations/HST/{OBSERVATION}", content=body,
                        headers={"Authorization": f"Bearer {TOKEN}",
                                 "Content-Type": "application/xml"})
    assert created.status_code in (200, 201), created.text
    # the files are still registered: a re-ingest gives the observation its calibration back
    report = ingest(archive, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
    assert report.refused == 0
    assert side_rows(archive, OBSERVATION)[0] == 15
