"""Bad CAOM XML gets a clear error naming the element and line, and nothing is written."""

import pytest

from loaders.caom2xml import CaomXmlError, read_document, store_document

from .conftest import SAMPLE_DATA, run_hstvo

GOOD = (SAMPLE_DATA / "caom2" / "j94f05bgq.xml").read_bytes()


def _mutate(old: bytes, new: bytes) -> bytes:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


BAD_DOCUMENTS = {
    "not well-formed": (GOOD[:-40], "not well-formed XML"),
    "unknown element": (_mutate(b"<caom2:intent>", b"<caom2:colour>red</caom2:colour><caom2:intent>"),
                        "<caom2:colour> (line 9): unknown element inside <caom2:Observation>"),
    "missing productID": (_mutate(b"<caom2:productID>j94f05bgq_flt</caom2:productID>", b""),
                          "missing required element <caom2:productID>"),
    "bad double": (_mutate(b"<caom2:exposure>400.0</caom2:exposure>",
                           b"<caom2:exposure>four hundred</caom2:exposure>"),
                   "<caom2:exposure> (line"),
    "repeated element": (_mutate(b"<caom2:intent>science</caom2:intent>",
                                 b"<caom2:intent>science</caom2:intent><caom2:intent>science</caom2:intent>"),
                         "appears more than once"),
    "bad id": (_mutate(b'caom2:id="', b'caom2:id="x'), "is not a UUID"),
    "wrong root": (b'<caom2:Plane xmlns:caom2="http://www.opencadc.org/caom2/xml/v2.4"/>',
                   "root element must be <caom2:Observation>"),
    "foreign namespace": (b'<Observation xmlns="urn:nope"/>', "not in a CAOM 2.2/2.3/2.4 namespace"),
    "inverted interval": (_mutate(b"<caom2:lower>53436.28571938", b"<caom2:lower>99999.0"),
                          "is greater than upper"),
    "two-point polygon": (b"", "a polygon needs at least 3 points"),
}


def _two_point_polygon() -> bytes:
    start = GOOD.index(b"<caom2:points>")
    end = GOOD.index(b"</caom2:points>")
    points = GOOD[start:end].split(b"</caom2:point>")
    return GOOD[:start] + b"</caom2:point>".join(points[:2]) + b"</caom2:point>" + GOOD[end:]


BAD_DOCUMENTS["two-point polygon"] = (_two_point_polygon(), BAD_DOCUMENTS["two-point polygon"][1])


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_invalid_document_is_rejected_with_its_element(case):
    document, message = BAD_DOCUMENTS[case]
    with pytest.raises(CaomXmlError) as error:
        read_document(document)
    assert message in str(error.value)


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2", "--batch-size", "1"]],
                         ids=["one importer", "two importer processes"])
def test_cli_import_reports_bad_files_and_loads_the_rest(db_url, conn, tmp_path, jobs):
    (tmp_path / "a_bad.xml").write_bytes(BAD_DOCUMENTS["bad double"][0])
    (tmp_path / "b_broken.xml").write_bytes(BAD_DOCUMENTS["not well-formed"][0])
    (tmp_path / "c_good.xml").write_bytes((SAMPLE_DATA / "caom2" / "ibc301qrq.xml").read_bytes())
    result = run_hstvo("xml", "import", str(tmp_path), *jobs, db_url=db_url)
    assert result.returncode == 1
    assert "a_bad.xml: <caom2:exposure> (line" in result.stderr
    assert "b_broken.xml: not well-formed XML" in result.stderr
    assert "imported 1 of 3 documents, 1 created, 2 failed" in result.stdout
    # only the good one is in the archive, complete
    rows = conn.execute("SELECT observationid FROM caom2.observation").fetchall()
    assert rows == [("ibc301qrq",)]
    assert conn.execute("SELECT count(*) FROM caom2.artifact").fetchone()[0] == 1


def test_database_refusal_writes_nothing(conn):
    """A document the database refuses (same URI, different id) leaves the archive as it was."""
    document = read_document(GOOD)
    store_document(conn, document)
    before = conn.execute("SELECT obsid, accmetachecksum, maxlastmodified FROM caom2.observation").fetchall()
    clash = read_document(GOOD)
    clash["observation"]["obsid"] = "00000000-0000-0000-0000-000000000001"
    with pytest.raises(Exception, match="exists with id"):
        store_document(conn, clash)
    assert conn.execute("SELECT obsid, accmetachecksum, maxlastmodified "
                        "FROM caom2.observation").fetchall() == before
    assert conn.execute("SELECT count(*) FROM caom2.plane").fetchone()[0] == 1


def test_constraint_violation_mid_document_rolls_back(conn):
    """A plane the database rejects (calibration level 9) aborts the whole observation."""
    document = read_document(GOOD)
    document["planes"][0]["calibrationlevel"] = 9
    with pytest.raises(Exception, match="plane_calibrationlevel_check"):
        store_document(conn, document)
    assert conn.execute("SELECT count(*) FROM caom2.observation").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM caom2.deletedobservation").fetchone()[0] == 0


def test_a_batch_with_a_refused_document_stores_the_others(db_url, conn, tmp_path):
    """`hstvo xml import` stores a batch set-wise; when the database refuses one document of it
    (here: its URI is stored under another id), the others are stored one by one, and the
    refused one is reported and leaves the stored observation as it was."""
    store_document(conn, read_document(GOOD))
    before = conn.execute("SELECT obsid, accmetachecksum, maxlastmodified "
                          "FROM caom2.observation").fetchall()
    start = GOOD.index(b'caom2:id="') + len(b'caom2:id="')
    clash = GOOD[:start] + b"00000000-0000-0000-0000-000000000001" + GOOD[start + 36:]
    (tmp_path / "a_clash.xml").write_bytes(clash)
    (tmp_path / "b_good.xml").write_bytes((SAMPLE_DATA / "caom2" / "ibc301qrq.xml").read_bytes())
    result = run_hstvo("xml", "import", str(tmp_path), db_url=db_url)
    assert result.returncode == 1
    assert "a_clash.xml: " in result.stderr and "exists with id" in result.stderr
    assert "imported 1 of 2 documents, 1 created, 1 failed" in result.stdout
    assert conn.execute("SELECT obsid, accmetachecksum, maxlastmodified FROM caom2.observation "
                        "WHERE observationid = 'j94f05bgq'").fetchall() == before
    assert conn.execute("SELECT count(*) FROM caom2.observation "
                        "WHERE observationid = 'ibc301qrq'").fetchone()[0] == 1


def test_a_batch_of_documents_is_stored_as_each_alone_would_be(conn):
    """caom2.put_observations stores several documents with the checksums and rows that
    storing each alone gives."""
    from loaders.caom2xml import load_document, store_documents

    names = ["j94f05bgq", "ibc301qrq"]
    documents = [read_document((SAMPLE_DATA / "caom2" / f"{n}.xml").read_bytes()) for n in names]
    summaries = store_documents(conn, documents, keep_timestamps=True)
    assert [s["created"] for s in summaries] == [True, True]
    assert all(s["checksums_match"] for s in summaries)
    stored = [load_document(conn, "HST", n) for n in names]
    conn.execute("DELETE FROM caom2.observation")
    alone = []
    for document, name in zip(documents, names):
        store_document(conn, document, keep_timestamps=True)
        alone.append(load_document(conn, "HST", name))
    # (the same rows and checksums; the timestamps a document lacks are each write's clock)
    assert _without_timestamps(stored) == _without_timestamps(alone)
    assert [s["accmetachecksum"] for s in summaries] == [
        d["observation"]["accmetachecksum"] for d in alone]


def _without_timestamps(value):
    if isinstance(value, dict):
        return {k: _without_timestamps(v) for k, v in value.items()
                if k not in ("lastmodified", "maxlastmodified")}
    if isinstance(value, list):
        return [_without_timestamps(v) for v in value]
    return value
