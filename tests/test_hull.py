"""caom2.hull: a plane's footprint from its chunks' corners, as CADC's validators expect it."""

import json
import warnings

import pytest

from .conftest import SHARED

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from caom2.shape import Point, Polygon, SegmentType, Vertex, MultiPolygon
    from caom2utils.polygonvalidator import validate_polygon

REFERENCE = json.loads((SHARED / "data" / "hst" / "science" / "footprints.json").read_text())


def _hull(conn, corners: list[tuple[float, float]]) -> list[tuple[float, float]] | None:
    flat = [v for corner in corners for v in corner]
    result = conn.execute("SELECT caom2.hull(%s::float8[])", (flat,)).fetchone()[0]
    return None if result is None else list(zip(result[0::2], result[1::2]))


def _validate_with_caom2(vertices):
    """CADC's validator: refuses self-intersection and clockwise winding."""
    samples = MultiPolygon([Vertex(ra, dec, SegmentType.MOVE if i == 0 else SegmentType.LINE)
                            for i, (ra, dec) in enumerate(vertices)]
                           + [Vertex(0.0, 0.0, SegmentType.CLOSE)])
    validate_polygon(Polygon([Point(ra, dec) for ra, dec in vertices], samples))


def _contains_all(conn, hull, corners) -> bool:
    flat = [v for corner in hull for v in corner]
    return conn.execute("""
        SELECT bool_and(caom2.bounds_spoly(%(h)s::float8[])
                        && scircle(spoint(radians(c[1]), radians(c[2])), radians(1e-7)))
          FROM (SELECT ARRAY[x, y] AS c FROM unnest(%(ra)s::float8[], %(dec)s::float8[]) AS t(x, y)) s
    """, {"h": flat, "ra": [c[0] for c in corners], "dec": [c[1] for c in corners]}).fetchone()[0]


MULTI_CHIP = sorted(k for k, chips in REFERENCE.items()
                    if k.startswith("hst/science/") and sum(1 for c in chips if c.get("corners_deg")) > 1)


@pytest.mark.parametrize("key", MULTI_CHIP, ids=lambda k: k.rsplit("/", 1)[1])
def test_hull_of_real_chips_is_valid_and_covers_them(readonly_conn, key):
    corners = [tuple(c) for chip in REFERENCE[key] for c in chip["corners_deg"]]
    hull = _hull(readonly_conn, corners)
    assert 4 <= len(hull) <= len(corners)
    _validate_with_caom2(hull)
    assert _contains_all(readonly_conn, hull, corners)


@pytest.mark.parametrize("corners", [
    [(359.95, 10.0), (0.05, 10.0), (0.05, 10.1), (359.95, 10.1), (0.0, 10.05)],  # RA 0/360
    [(0.0, 89.9), (90.0, 89.9), (180.0, 89.9), (270.0, 89.9)],  # around the north pole
    [(10.0, -89.8), (130.0, -89.8), (250.0, -89.8)],  # around the south pole
    [(5.0, -72.1), (5.2, -72.1), (5.2, -72.0), (5.0, -72.0), (5.1, -72.05)],  # interior point
])
def test_hull_is_counter_clockwise_and_covering_everywhere(readonly_conn, corners):
    hull = _hull(readonly_conn, corners)
    _validate_with_caom2(hull)
    assert _contains_all(readonly_conn, hull, corners)
    assert (5.1, -72.05) not in hull  # an interior point is never a vertex


def test_both_windings_of_the_input_give_the_same_hull(readonly_conn):
    corners = [tuple(c) for c in REFERENCE["hst/science/j8bt05njq_raw.fits"][0]["corners_deg"]]
    assert sorted(_hull(readonly_conn, corners)) == sorted(_hull(readonly_conn, corners[::-1]))


def test_degenerate_inputs(readonly_conn):
    assert _hull(readonly_conn, [(1.0, 2.0), (1.1, 2.0)]) is None
    # three points on one great circle (the equator) are collinear in the projection
    assert _hull(readonly_conn, [(1.0, 0.0), (1.1, 0.0), (1.2, 0.0)]) is None
    with pytest.raises(Exception, match="more than a hemisphere"):
        _hull(readonly_conn, [(0.0, 0.0), (120.0, 0.0), (240.0, 0.0), (0.0, 1.0)])
