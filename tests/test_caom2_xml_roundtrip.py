"""Every CAOM sample document round-trips through the database, judged by CADC's own library.

caom2 (AGPL) is the oracle here, never a run-time dependency: it re-reads what we export with
XSD validation on, finds no differences from the original, and computes the same checksums as
the database did.
"""

import io
import warnings

import pytest

from loaders.caom2xml import load_document, read_document, store_document, write_document

from .conftest import CAOM2_TEST_DATA, SAMPLE_DATA, SHARED

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from caom2 import diff
    from caom2.checksum import get_acc_meta_checksum, get_meta_checksum
    from caom2.obs_reader_writer import ObservationReader

SAMPLES = sorted(p for p in CAOM2_TEST_DATA.glob("*.xml") if not p.name.startswith("diff-"))
SAMPLES += sorted((SHARED / "data" / "caom2").glob("*.xml"))
SAMPLES += sorted((SAMPLE_DATA / "caom2").glob("*.xml"))


def _entities(observation):
    yield observation
    for plane in observation.planes.values():
        yield plane
        for artifact in plane.artifacts.values():
            yield artifact
            for part in artifact.parts.values():
                yield part
                yield from part.chunks


def _stored_checksums(conn) -> dict[str, tuple[str, str]]:
    out = {}
    for table, key in (("observation", "obsid"), ("plane", "planeid"), ("artifact", "artifactid"),
                       ("part", "partid"), ("chunk", "chunkid")):
        for ident, meta, acc in conn.execute(
                f"SELECT {key}::text, metachecksum, accmetachecksum FROM caom2.{table}"):
            out[ident] = (meta, acc)
    return out


def test_there_are_samples_of_every_version():
    versions = {p.name.rsplit("-", 1)[-1] for p in SAMPLES if "CAOM-" in p.name}
    assert {"2.2.xml", "2.3.xml", "2.4.xml"} <= versions
    assert len(SAMPLES) >= 20


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_round_trip_is_valid_identical_and_checksums_agree(conn, path):
    document = read_document(str(path))
    summary = store_document(conn, document, keep_timestamps=True)
    observation = document["observation"]
    exported = write_document(load_document(conn, observation["collection"],
                                            observation["observationid"]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = ObservationReader(validate=False).read(str(path))
        reread = ObservationReader(validate=True).read(io.BytesIO(exported))  # CAOM-2.4 XSD
    assert b"http://www.opencadc.org/caom2/xml/v2.4" in exported
    assert diff.get_differences(original, reread) is None

    stored = _stored_checksums(conn)
    for entity in _entities(original):
        expected = (get_meta_checksum(entity).uri, get_acc_meta_checksum(entity).uri)
        assert stored[str(entity._id)] == expected, type(entity).__name__
    assert reread.acc_meta_checksum.uri == summary["accmetachecksum"]


def test_declared_mast_checksums_are_reproduced(conn):
    """The HST record from MAST carries Java-computed checksums: the database reproduces them."""
    path = SHARED / "data" / "caom2" / "SampleSimple-CAOM-2.3.xml"
    summary = store_document(conn, read_document(str(path)), keep_timestamps=True)
    assert summary["checksums_match"] is True
    assert summary["accmetachecksum"] == "md5:ab5e46a8f7f542756d61eb186921271b"
    assert summary["metachecksum"] == "md5:975eed2b3ecb42344616a9ca89d75f59"


def test_keep_timestamps_preserves_document_times(conn):
    path = SHARED / "data" / "caom2" / "SampleSimple-CAOM-2.3.xml"
    store_document(conn, read_document(str(path)), keep_timestamps=True)
    lm, mlm = conn.execute("SELECT lastmodified::text, maxlastmodified::text "
                           "FROM caom2.observation").fetchone()
    assert (lm, mlm) == ("2018-01-30 23:06:49.784", "2018-01-30 23:06:49.784")
