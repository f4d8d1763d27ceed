"""ivoa.ObsCore: one row per plane, with values an astronomer can check against the headers."""

import pytest
from astropy.io import fits

from loaders.caom2xml import read_document, store_document

from .conftest import CAOM2_TEST_DATA, SAMPLE_DATA, SHARED

SCIENCE = SHARED / "data" / "hst" / "science"


@pytest.fixture
def archive(conn):
    for path in sorted((SAMPLE_DATA / "caom2").glob("*.xml")):
        store_document(conn, read_document(str(path)))
    return conn


def test_one_row_per_plane(conn):
    for path in sorted(CAOM2_TEST_DATA.glob("Complete*-2.3.xml")) + sorted(
            (SAMPLE_DATA / "caom2").glob("*.xml")):
        store_document(conn, read_document(str(path)), keep_timestamps=True)
    planes = conn.execute("SELECT count(*) FROM caom2.plane").fetchone()[0]
    rows = conn.execute("SELECT count(*), count(DISTINCT obs_publisher_did) "
                        "FROM ivoa.obscore").fetchone()
    assert rows == (planes, planes)


@pytest.mark.parametrize("rootname, fits_file", [
    ("j94f05bgq", "j94f05bgq_flt.fits"), ("ibc301qrq", "2chipC.fits.gz"),
    ("j8bt05njq", "j8bt05njq_raw.fits")])
def test_row_agrees_with_the_fits_header(archive, rootname, fits_file):
    header = fits.getheader(SCIENCE / fits_file, 0)
    row = archive.execute("""
        SELECT calib_level, dataproduct_type, obs_collection, obs_id, target_name,
               t_min, t_max, t_exptime, em_min, em_max, instrument_name, facility_name,
               s_region @> spoint(radians(%(ra)s), radians(%(dec)s)) AS has_target,
               s_ra, s_dec, s_fov, proposal_id, access_url, access_format
          FROM ivoa.obscore WHERE obs_id = %(id)s""",
        {"id": rootname, "ra": header["RA_TARG"], "dec": header["DEC_TARG"]}).fetchone()
    (calib, dptype, collection, obs_id, target, t_min, t_max, exptime, em_min, em_max,
     instrument, facility, has_target, s_ra, s_dec, s_fov, proposal, access_url, fmt) = row
    assert calib == (1 if fits_file.endswith("raw.fits") else 2)
    assert dptype == "image" and collection == "HST" and obs_id == rootname
    assert target == header["TARGNAME"]
    assert (t_min, t_max, exptime) == (header["EXPSTART"], header["EXPEND"], header["EXPTIME"])
    assert instrument == f"{header['INSTRUME']}/{header['DETECTOR']}" and facility == "HST"
    assert proposal == str(header["PROPOSID"])
    # the footprint holds the target, and its centre is within the field of view of it
    assert has_target is True
    assert abs(s_dec - header["DEC_TARG"]) < s_fov
    # F606W / F555W: optical metres, the filter inside
    assert 4.0e-7 < em_min < 5.5e-7 < em_max < 7.5e-7
    assert access_url.startswith("http://127.0.0.1:8080/datalink?ID=ivo%3A%2F%2Fhstvo.example")
    assert fmt == "application/x-votable+xml;content=datalink"


def test_proprietary_metadata_is_hidden(archive):
    archive.execute("UPDATE caom2.plane SET metarelease = now() + interval '1 year' "
                    "WHERE productid = 'j94f05bgq_flt'")
    ids = {r[0] for r in archive.execute("SELECT obs_id FROM ivoa.obscore")}
    assert ids == {"ibc301qrq", "j8bt05njq"}


def test_cone_search_uses_the_footprint(archive):
    hits = archive.execute("""
        SELECT obs_id FROM ivoa.obscore
         WHERE s_region && scircle(spoint(radians(201.69), radians(-47.466)), radians(0.01))
    """).fetchall()
    assert hits == [("ibc301qrq",)]


def test_event_lists_are_events(conn):
    document = read_document(str(SAMPLE_DATA / "caom2" / "j8bt05njq.xml"))
    document["planes"][0]["dataproducttype"] = "eventlist"
    store_document(conn, document)
    assert conn.execute("SELECT dataproduct_type FROM ivoa.obscore").fetchone()[0] == "event"
