"""Coverage MOCs at /moc over real HTTP, read back by mocpy."""

import httpx
import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb
from astropy.coordinates import SkyCoord
from mocpy import MOC

from .conftest import run_hstvo


@pytest.fixture
def service(db_url, http_server):
    run_hstvo("samples", db_url=db_url, check=True)
    return http_server


def footprints(db_url: str, where: str = "TRUE") -> list[np.ndarray]:
    """The sky footprints of the sample planes as (ra, dec) vertex arrays, from ObsCore."""
    with psycopg.connect(db_url) as conn:
        conn.execute("SELECT set_sphere_output('DEG')")
        texts = [t for (t,) in conn.execute(
            f"SELECT s_region::text FROM ivoa.obscore o JOIN caom2.plane p USING (planeid) "
            f"WHERE s_region IS NOT NULL AND {where}")]
    polygons = []
    for text in texts:
        numbers = [float(n) for n in text.replace("d", " ").replace("{", " ").replace("}", " ")
                   .replace("(", " ").replace(")", " ").replace(",", " ").split()]
        polygons.append(np.array(numbers).reshape(-1, 2))
    return polygons


def test_the_f606w_moc_in_three_formats_agrees_with_the_footprints(service, db_url, tmp_path):
    polygons = footprints(db_url, "p.energy_bandpassname = 'F606W'")
    assert len(polygons) == 3  # two ACS/WFC exposures and one WFC3/UVIS of the samples
    expected = None
    for vertices in polygons:
        one = MOC.from_polygon_skycoord(SkyCoord(vertices[:, 0], vertices[:, 1], unit="deg"),
                                        max_depth=14)
        expected = one if expected is None else expected.union(one)
    mocs = {}
    for fmt in ("fits", "ascii", "json"):
        response = httpx.get(service + "/moc", params={"collection": "HST", "filter": "F606W",
                                                       "order": 14, "RESPONSEFORMAT": fmt})
        assert response.status_code == 200, response.text
        if fmt == "fits":
            assert response.headers["content-type"] == "application/fits"
            (tmp_path / "f606w.fits").write_bytes(response.content)
            mocs[fmt] = MOC.load(tmp_path / "f606w.fits", format="fits")
        elif fmt == "ascii":
            mocs[fmt] = MOC.from_str(response.text.strip())
        else:
            mocs[fmt] = MOC.from_json(response.json())
    assert mocs["fits"] == mocs["ascii"] == mocs["json"]
    area = mocs["fits"].sky_fraction * 4 * np.pi * (180 / np.pi) ** 2
    true_area = expected.sky_fraction * 4 * np.pi * (180 / np.pi) ** 2
    # pgsphere covers a polygon with every cell it touches, so its MOC holds mocpy's and is
    # larger by a band of cells along the edges (order 14 cells are 13 arcsec wide)
    assert true_area < area < true_area * 1.15, (area, true_area)
    assert expected.difference(mocs["fits"]).sky_fraction < 0.005 * expected.sky_fraction
    # and both contain the centres of the footprints
    for vertices in polygons:
        centre = SkyCoord(vertices[:, 0].mean(), vertices[:, 1].mean(), unit="deg")
        assert mocs["fits"].contains_skycoords(centre)[0]


def test_filters_instruments_and_the_cache(service, db_url):
    def get(**params):
        response = httpx.get(service + "/moc", params={"RESPONSEFORMAT": "json", "order": 8, **params})
        assert response.status_code == 200, response.text
        return response

    everything = get()
    assert everything.headers["x-footprints"] == str(len(footprints(db_url)))
    assert everything.headers["x-cached"] == "false" and get().headers["x-cached"] == "true"
    assert get(instrument="ACS").headers["x-footprints"] == "3"  # ACS/WFC twice, ACS/HRC
    assert get(instrument="ACS/WFC").headers["x-footprints"] == "2"
    assert get(filter="F999W").json() == {}
    # a change of the planes forgets the cached MOCs
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE caom2.plane SET calibrationlevel = calibrationlevel WHERE false")
    assert get().headers["x-cached"] == "false"
    bad = httpx.get(service + "/moc", params={"order": 40})
    assert bad.status_code == 400 and "order 0 to 14" in bad.text


# the hull of two adjacent WFC3/UVIS chips of a synthetic exposure: its second and fifth
# vertices lie on the great circle through their neighbours, where the chips meet
TWO_CHIPS = [95.91248594572289, 37.14996829179882, 95.90692547369339, 37.12722965440479,
             95.90145893503401, 37.104861561789924, 95.84544100860921, 37.113552541326975,
             95.85089161433993, 37.135923203132066, 95.85643588108161, 37.15866445378294]


def test_a_footprint_with_a_vertex_on_a_great_circle_gets_its_moc(conn):
    """pgsphere's smoc() refuses a polygon corner on a great circle ("degenerate corner"):
    the coverage MOC takes the footprint without such vertices, the same region."""
    conn.execute("SELECT set_sphere_output('DEG')")
    with pytest.raises(psycopg.Error, match="degenerate corner"):
        with conn.transaction():
            conn.execute("SELECT smoc(10, caom2.bounds_spoly(%s))", (TWO_CHIPS,))
    vertices, moc = conn.execute(
        "SELECT npoints(f), smoc(10, f)::text FROM (SELECT hstvo.moc_footprint(%(b)s, "
        "caom2.bounds_spoly(%(b)s)) AS f) AS footprint", {"b": TWO_CHIPS}).fetchone()
    assert vertices == 4 and moc.startswith("10/")
    # the same region: each polygon holds the other's vertices (to a milliarcsecond)
    assert conn.execute(
        "SELECT scircle(p, radians(1e-6)) && caom2.bounds_spoly(%(b)s) "
        "AND scircle(p, radians(1e-6)) && hstvo.moc_footprint(%(b)s, caom2.bounds_spoly(%(b)s)) "
        "FROM (SELECT spoint(radians((%(b)s::float8[])[2 * i - 1]), radians((%(b)s::float8[])[2 * i])) AS p "
        "      FROM generate_series(1, 6) AS i) AS v", {"b": TWO_CHIPS}).fetchall() == [(True,)] * 6
    # a plane with that footprint no longer fails the archive's MOC
    conn.execute("SELECT caom2.put_observation(%s)", (Jsonb({
        "observation": {"obsid": "19136e39-4ab6-95f9-b071-eb24e88ab14d", "collection": "HST",
                        "observationid": "chips", "typecode": "S", "algorithm_name": "exposure"},
        "planes": [{"planeid": "29136e39-4ab6-95f9-b071-eb24e88ab14d", "productid": "chips_flt",
                    "position_bounds": TWO_CHIPS}]}),))
    planes = conn.execute("SELECT planes FROM hstvo.coverage_moc('HST', NULL, NULL, NULL, 10)"
                          ).fetchone()[0]
    assert planes == 1
