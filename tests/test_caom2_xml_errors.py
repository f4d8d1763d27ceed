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


def test_cli_import_reports_bad_files_and_loads_the_rest(db_url, conn, tmp_path):
    (tmp_path / "a_bad.xml").write_bytes(BAD_DOCUMENTS["bad double"][0])
    (tmp_path / "b_broken.xml").write_bytes(BAD_DOCUMENTS["not well-formed"][0])
    (tmp_path / "c_good.xml").write_bytes((SAMPLE_DATA / "caom2" / "ibc301qrq.xml").read_bytes())
    result = run_hstvo("xml", "import", str(tmp_path), db_url=db_url)
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
