"""Every RESPONSEFORMAT spelling TAP 1.1 and DALI 1.1 define, and FITS tables read by pyvo and
astropy; a failed async job's result explains the failure."""

from __future__ import annotations

import gc
import io
import time

import httpx
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from .conftest import served_samples, tap_service

QUERY = "SELECT obs_id, s_ra, t_exptime, calib_level FROM ivoa.ObsCore ORDER BY obs_id"


@pytest.fixture(scope="module")
def tap(pg_server, template_db, tmp_path_factory):
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("formats"),
                        "hstvo_formats") as (base, _):
        yield base + "/tap"


SPELLINGS = {
    "votable": "application/x-votable+xml", "VOTable": "application/x-votable+xml",
    "votable/td": "application/x-votable+xml",
    "application/x-votable+xml": "application/x-votable+xml",
    "text/xml": "application/x-votable+xml",
    "application/x-votable+xml;serialization=TABLEDATA": "application/x-votable+xml",
    "votable/b2": "application/x-votable+xml;serialization=BINARY2",
    "binary2": "application/x-votable+xml;serialization=BINARY2",
    "BINARY2": "application/x-votable+xml;serialization=BINARY2",
    "application/x-votable+xml;serialization=BINARY2": "application/x-votable+xml;serialization=BINARY2",
    "application/x-votable+xml; serialization=binary2": "application/x-votable+xml;serialization=BINARY2",
    "csv": "text/csv", "text/csv": "text/csv", "tsv": "text/tab-separated-values",
    "text/tab-separated-values": "text/tab-separated-values",
    "fits": "application/fits", "application/fits": "application/fits",
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_is_accepted(tap, spelling):
    response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": QUERY,
                                                "RESPONSEFORMAT": spelling}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].split(";charset")[0] == SPELLINGS[spelling]


def test_fits_results_read_as_the_votable_does(tap):
    votable = Table.read(io.BytesIO(httpx.get(tap + "/sync", params={
        "LANG": "ADQL", "QUERY": QUERY}).content), format="votable")
    response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": QUERY,
                                                "RESPONSEFORMAT": "fits"}, timeout=60)
    with fits.open(io.BytesIO(response.content)) as hdus:
        table = Table(hdus[1].data)
        assert hdus[1].header["TUNIT3"] == "s"  # t_exptime keeps its unit
    assert list(table["obs_id"]) == list(votable["obs_id"])
    assert list(table["calib_level"]) == list(votable["calib_level"])
    assert np.allclose(np.asarray(table["s_ra"], dtype=float),
                       np.ma.filled(votable["s_ra"], np.nan).astype(float), equal_nan=True)


# pyvo's async job reads on a connection it never closes (not ours to fix): collected here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_pyvo_reads_binary2_and_its_jobs_give_fits(tap):
    with tap_service(tap) as service:
        rows = service.run_sync(QUERY, format="votable/b2").to_table()
        assert len(rows) == 11
        job = service.submit_job(QUERY, format="fits")
        job.run()
        job.wait(phases=["COMPLETED", "ERROR"], timeout=60)
        assert job.phase == "COMPLETED"
        content = service._session.get(job.result_uri).content
        job.delete()
    gc.collect()
    with fits.open(io.BytesIO(content)) as hdus:
        assert list(hdus[1].data["obs_id"]) == list(rows["obs_id"])


def test_a_failed_jobs_result_explains_the_failure(tap):
    created = httpx.post(tap + "/async", data={"LANG": "ADQL", "PHASE": "RUN",
                                               "QUERY": "SELECT 1 / 0 FROM ivoa.ObsCore"},
                         follow_redirects=False)
    job = created.headers["location"]
    for _ in range(100):
        if httpx.get(job + "/phase").text == "ERROR":
            break
        time.sleep(0.1)
    result = httpx.get(job + "/results/result")
    assert result.status_code == 404
    assert b'value="ERROR"' in result.content and b"division by zero" in result.content


def test_capabilities_declare_fits_and_vosi_tables_11(tap):
    capabilities = httpx.get(tap + "/capabilities").text
    assert "<mime>application/fits</mime>" in capabilities
    assert 'standardID="ivo://ivoa.net/std/VOSI#tables-1.1"' in capabilities
