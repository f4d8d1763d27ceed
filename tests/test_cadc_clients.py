"""CADC's own client, astroquery's Cadc, against the service: collections (caom2.EnumField),
a region search (INTERSECTS on caom2.Plane.position_bounds), sync and async queries."""

from __future__ import annotations

import gc

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord

from .conftest import served_samples


@pytest.fixture(scope="module")
def cadc(pg_server, template_db, tmp_path_factory):
    from astroquery.cadc import Cadc

    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("cadc"),
                        "hstvo_cadc") as (base, _):
        yield Cadc(url=base + "/tap")


def test_get_collections_reads_enumfield(cadc):
    collections = cadc.get_collections()
    assert set(collections) == {"HST"}
    assert {"Optical", "Infrared"} <= set(collections["HST"]["Bands"])


def test_query_region_intersects_plane_footprints(cadc):
    rows = cadc.query_region(SkyCoord(6.0236, -72.0813, unit="deg"), radius=0.2 * u.deg)
    assert "j8bt05njq" in set(rows["observationID"])
    assert all(name.startswith("ACS") for name in rows["instrument_name"])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_exec_sync_and_create_async(cadc):
    query = "SELECT TOP 5 observationID FROM caom2.Observation ORDER BY observationID"
    rows = cadc.exec_sync(query)
    assert len(rows) == 5
    job = cadc.create_async(query)
    job.run().wait()
    assert list(job.fetch_result().to_table()["observationID"]) == list(rows["observationID"])
    job.delete()
    gc.collect()
