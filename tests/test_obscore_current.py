"""ivoa.ObsCore is served from a table (hstvo.obscore_rows) that the database keeps current:
after every write path, in the same transaction, its rows are exactly what the CAOM tables
say (hstvo.obscore_source computes them afresh), and the next query sees the write.

Each case writes one way and then compares the table with the computation, both ways."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from loaders.caom2xml import read_document, store_document
from loaders.fits_ingest import find_files, ingest

from .conftest import SAMPLE_DATA

DIFFERENCE = "SELECT stale, missing FROM hstvo.obscore_differences()"


def assert_current(conn) -> None:
    assert conn.execute(DIFFERENCE).fetchone() == (0, 0)


@pytest.fixture
def archive(conn):
    """The bundled real HST files, ingested (the FITS write path)."""
    report = ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
    assert report.refused == 0
    assert conn.execute("SELECT count(*) FROM ivoa.obscore").fetchone()[0] > 0
    assert_current(conn)
    return conn


def document(conn, observation_id: str) -> dict:
    return conn.execute("SELECT caom2.observation_document('HST', %s)",
                        (observation_id,)).fetchone()[0]


def put(conn, doc: dict) -> None:
    conn.execute("SELECT caom2.put_observation(%s)", (Jsonb(doc),))


def test_a_caom2_xml_import_is_in_obscore(conn):
    for path in sorted((SAMPLE_DATA / "caom2").glob("*.xml")):
        store_document(conn, read_document(str(path)))
    assert_current(conn)


def test_a_changed_document_is_in_obscore_at_once(archive):
    doc = document(archive, "j94f05bgq")
    doc["observation"]["target_name"] = "A NEW NAME"
    put(archive, doc)
    assert archive.execute("SELECT DISTINCT target_name FROM ivoa.obscore "
                           "WHERE obs_id = 'j94f05bgq'").fetchall() == [("A NEW NAME",)]
    assert_current(archive)


def test_a_plane_that_leaves_its_document_leaves_obscore(archive):
    doc = document(archive, "j94f05bgq")
    before = len(doc["planes"])
    doc["planes"] = doc["planes"][1:]
    put(archive, doc)
    assert archive.execute("SELECT count(*) FROM ivoa.obscore WHERE obs_id = 'j94f05bgq'"
                           ).fetchone()[0] == before - 1
    assert_current(archive)


def test_a_deleted_observation_leaves_obscore(archive):
    archive.execute("SELECT caom2.delete_observation('HST', 'j94f05bgq')")
    assert archive.execute("SELECT count(*) FROM ivoa.obscore WHERE obs_id = 'j94f05bgq'"
                           ).fetchone()[0] == 0
    assert_current(archive)


@pytest.mark.parametrize("statement", [
    # a DBA's direct writes: artifacts (sizes, previews), planes, observations, access rules
    "UPDATE caom2.artifact SET contentlength = contentlength + 1000000",
    "UPDATE caom2.artifact SET producttype = 'preview' WHERE uri LIKE '%_flt.fits'",
    "DELETE FROM caom2.artifact WHERE uri LIKE '%_raw.fits'",
    "UPDATE caom2.plane SET time_exposure = 42.5, calibrationlevel = 3",
    "UPDATE caom2.plane SET calibrationlevel = -1 WHERE productid LIKE 'j94f05bgq%'",
    "UPDATE caom2.observation SET target_name = 'M31', instrument_name = 'WFC3/UVIS'",
    "UPDATE caom2.observation SET metarelease = '2099-01-01', "
    "metareadgroups = 'ivo://hstvo.example/gms?HST-RO' WHERE observationid = 'j8bt05njq'",
    "UPDATE caom2.plane SET metarelease = '2099-01-01', datareadgroups = "
    "'ivo://hstvo.example/gms?inner' WHERE productid = 'ibc301qrq_flt'",
    "UPDATE caom2.chunk SET naxis = naxis",
])
def test_a_direct_write_is_in_obscore(archive, statement):
    archive.execute(statement)
    assert_current(archive)


def test_the_access_url_follows_the_service_url(archive):
    archive.execute("SELECT hstvo.set_service_url('https://archive.example.org')")
    urls = [u for (u,) in archive.execute("SELECT access_url FROM ivoa.obscore")]
    assert urls and all(u.startswith("https://archive.example.org/datalink?ID=") for u in urls)


def test_a_write_rolled_back_leaves_obscore_as_it_was(archive):
    before = archive.execute("SELECT count(*), max(lastmodified) FROM ivoa.obscore").fetchone()
    with pytest.raises(RuntimeError):
        with archive.transaction():
            archive.execute("SELECT caom2.delete_observation('HST', 'j94f05bgq')")
            raise RuntimeError("the writer fails halfway")
    assert archive.execute("SELECT count(*), max(lastmodified) FROM ivoa.obscore"
                           ).fetchone() == before
    assert_current(archive)


def test_a_full_refresh_gives_the_same_rows(archive):
    rows = archive.execute("SELECT count(*) FROM hstvo.obscore_rows").fetchone()[0]
    assert archive.execute("SELECT hstvo.refresh_obscore_all()").fetchone()[0] == rows
    assert_current(archive)
