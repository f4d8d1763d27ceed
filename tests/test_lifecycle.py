"""lastModified, maxLastModified, checksums and tombstones follow CAOM's rules for every writer,
psql included (the triggers of sql/14_caom2_lifecycle.sql)."""

import time

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from loaders.caom2xml import read_document, store_document

from .conftest import SAMPLE_DATA

DOC = SAMPLE_DATA / "caom2" / "j94f05bgq.xml"


@pytest.fixture
def stored(conn):
    store_document(conn, read_document(str(DOC)))
    return conn


def _state(conn):
    return conn.execute("""
        SELECT o.lastmodified, o.maxlastmodified, o.metachecksum, o.accmetachecksum,
               p.lastmodified, p.maxlastmodified, p.metachecksum, p.accmetachecksum,
               a.lastmodified, a.metachecksum
          FROM caom2.observation o JOIN caom2.plane p USING (obsid)
          JOIN caom2.artifact a USING (planeid)""").fetchone()


def _pause():
    time.sleep(0.01)  # separate transaction timestamps


def test_update_by_sql_moves_checksums_and_timestamps_upward(stored):
    before = _state(stored)
    _pause()
    stored.execute("UPDATE caom2.plane SET energy_bandpassname = 'F814W'")
    after = _state(stored)
    # the plane changed: its metaChecksum and lastModified
    assert after[6] != before[6] and after[4] > before[4]
    # ... which changes its accMetaChecksum and maxLastModified, and the observation's
    assert after[7] != before[7] and after[5] > before[5]
    assert after[3] != before[3] and after[1] > before[1]
    # the observation's own metadata did not change, nor the artifact below
    assert after[0] == before[0] and after[2] == before[2]
    assert after[8:] == before[8:]


def test_update_that_changes_nothing_moves_nothing(stored):
    before = _state(stored)
    _pause()
    stored.execute("UPDATE caom2.plane SET energy_bandpassname = energy_bandpassname")
    stored.execute("UPDATE caom2.observation SET target_name = target_name")
    assert _state(stored) == before


def test_storing_the_same_document_again_moves_nothing(stored):
    before = _state(stored)
    _pause()
    summary = store_document(stored, read_document(str(DOC)))
    assert summary["created"] is False
    assert _state(stored) == before


def test_storing_a_changed_document_moves_only_what_changed(stored):
    before = _state(stored)
    _pause()
    document = read_document(str(DOC))
    document["planes"][0]["artifacts"][0]["contentlength"] = 12345
    store_document(stored, document)
    after = _state(stored)
    assert after[9] != before[9] and after[8] > before[8]  # the artifact changed
    assert after[4] == before[4] and after[6] == before[6]  # the plane's own metadata did not
    assert after[5] > before[5] and after[1] > before[1]  # but both maxLastModified moved


def test_deleting_a_child_changes_the_parent(stored):
    before = _state(stored)
    _pause()
    stored.execute("DELETE FROM caom2.artifact")
    acc, mlm = stored.execute("SELECT accmetachecksum, maxlastmodified FROM caom2.plane").fetchone()
    assert acc != before[7] and mlm > before[5]


def test_checksum_is_recomputed_even_if_a_writer_lies(stored):
    stored.execute("UPDATE caom2.plane SET metachecksum = 'md5:0', energy_bandpassname = 'F555W'")
    meta, = stored.execute("SELECT metachecksum FROM caom2.plane").fetchone()
    assert meta != "md5:0"
    recomputed, = stored.execute("SELECT caom2.plane_meta_checksum(p) FROM caom2.plane p").fetchone()
    assert meta == recomputed


def test_delete_writes_a_tombstone(stored):
    obsid, = stored.execute("SELECT caom2.delete_observation('HST', 'j94f05bgq')").fetchone()
    tomb = stored.execute("SELECT id, collection, observationid FROM caom2.deletedobservation").fetchall()
    assert tomb == [(obsid, "HST", "j94f05bgq")]
    assert stored.execute("SELECT count(*) FROM caom2.chunk").fetchone()[0] == 0
    assert stored.execute("SELECT count(*) FROM caom2.plane").fetchone()[0] == 0


def test_replacing_an_observation_is_not_a_deletion(stored):
    document = read_document(str(DOC))
    document["observation"]["target_name"] = "47 Tuc"
    store_document(stored, document)
    assert stored.execute("SELECT count(*) FROM caom2.deletedobservation").fetchone()[0] == 0


def test_planes_missing_from_a_new_version_are_deleted(stored):
    document = read_document(str(DOC))
    document["planes"] = []
    store_document(stored, document)
    assert stored.execute("SELECT count(*) FROM caom2.plane").fetchone()[0] == 0
    assert stored.execute("SELECT count(*) FROM caom2.artifact").fetchone()[0] == 0


def test_derived_members_are_normalised(conn):
    document = read_document(str(DOC))
    document["observation"]["members"] = "caom:HST/j94f05bgq caom:HST/j94f05bhq"
    store_document(conn, document)
    assert conn.execute("SELECT typecode FROM caom2.observation").fetchone()[0] == "C"
    members = conn.execute("SELECT memberid FROM caom2.observationmember ORDER BY 1").fetchall()
    assert members == [("caom:HST/j94f05bgq",), ("caom:HST/j94f05bhq",)]


def test_derived_columns_follow_the_footprint(stored):
    row = stored.execute("""
        SELECT position_bounds_spoly @> spoint(radians(5.65), radians(-72.07)),
               position_bounds_area, position_bounds_size,
               energy_bounds @> 6.0e-7::float8, time_bounds_width, publisherid, planeuri
          FROM caom2.plane""").fetchone()
    assert row[0] is True
    assert 0.002 < row[1] < 0.004  # two ACS/WFC chips: about 202" x 202"
    assert 0.07 < row[2] < 0.1
    assert row[3] is True
    assert row[4] == pytest.approx(400.0 / 86400, rel=0.01)
    assert row[5] == "ivo://hstvo.example/HST?j94f05bgq/j94f05bgq_flt"
    assert row[6] == "caom:HST/j94f05bgq/j94f05bgq_flt"


@pytest.mark.parametrize("ra, dec, radius", [(10.0, 20.0, 0.1), (359.95, -30.0, 0.2),
                                             (120.0, 89.9, 0.3), (0.0, -89.5, 1.0)])
def test_circle_footprint_covers_its_circle(conn, ra, dec, radius):
    """A Circle bound becomes a circumscribed 16-gon: every point of the circle is inside it,
    at the poles and across RA 0/360 too, and its area exceeds the circle's by under 3%."""
    document = read_document(str(DOC))
    document["planes"][0]["position_bounds"] = [ra, dec, radius]
    document["planes"][0].pop("position_bounds_samples")
    store_document(conn, document)
    # probe points on the circle (just inside), computed independently with astropy
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    probes = centre.directional_offset_by(np.arange(0, 360, 5) * u.deg, 0.999 * radius * u.deg)
    outside = conn.execute(
        "SELECT count(*) FROM caom2.plane p, unnest(%(ra)s::float8[], %(dec)s::float8[]) AS t(a, d) "
        "WHERE NOT p.position_bounds_spoly @> spoint(radians(a), radians(d))",
        {"ra": list(probes.ra.deg), "dec": list(probes.dec.deg)}).fetchone()[0]
    assert outside == 0
    polygon_area, circle_area, size = conn.execute(
        "SELECT degrees(degrees(area(position_bounds_spoly))), position_bounds_area, "
        "position_bounds_size FROM caom2.plane").fetchone()
    assert circle_area < polygon_area < 1.03 * circle_area
    assert size == pytest.approx(2 * radius)
