"""SODA 1.0 sync cutouts over real HTTP, of the real ACS/HRC raw file j8bt05njq (full
1062x1044 pixels of 47 Tuc)."""

import io
import warnings

import httpx
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from .conftest import SAMPLE_DATA, run_hstvo

RAW = SAMPLE_DATA / "hst" / "science" / "j8bt05njq_raw.fits.gz"
ID = "caom:HST/j8bt05njq/j8bt05njq_raw"


@pytest.fixture
def service(db_url, http_server):
    run_hstvo("samples", db_url=db_url, check=True)
    return http_server


def brightest_star(data: np.ndarray, wcs: WCS, margin: int = 60) -> tuple[float, float]:
    """The sky position of the brightest pixel away from the edges."""
    inner = data[margin:-margin, margin:-margin].astype(float)
    y, x = np.unravel_index(np.argmax(inner), inner.shape)
    ra, dec = wcs.all_pix2world([[x + margin, y + margin]], 0)[0]
    return float(ra), float(dec)


def test_a_cutout_around_a_star_keeps_it_where_it_was(service):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        with fits.open(RAW) as hdus:
            wcs = WCS(hdus["SCI"].header, hdus)
            ra, dec = brightest_star(hdus["SCI"].data, wcs)
        # 0.0002 deg is 0.72 arcsec, 29 HRC pixels; RA offsets are wider by 1/cos(dec) (3.2)
        for params in ({"POS": f"CIRCLE {ra} {dec} 0.0002"}, {"CIRCLE": f"{ra} {dec} 0.0002"},
                       {"POLYGON": f"{ra - 0.0006} {dec - 0.0002} {ra + 0.0006} {dec - 0.0002} "
                                   f"{ra + 0.0006} {dec + 0.0002} {ra - 0.0006} {dec + 0.0002}"},
                       {"POS": f"RANGE {ra - 0.0006} {ra + 0.0006} {dec - 0.0002} {dec + 0.0002}"}):
            response = httpx.get(service + "/soda/sync", params={"ID": ID, **params})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/fits"
            with fits.open(io.BytesIO(response.content)) as cutout:
                names = [h.name for h in cutout]
                # the raw file's ERR and DQ extensions are empty (NAXIS = 0): SCI alone is cut
                assert names == ["PRIMARY", "SCI"]
                assert cutout["PRIMARY"].header["ROOTNAME"].strip().lower() == "j8bt05njq"
                sci = cutout["SCI"]
                assert 40 < sci.data.shape[0] < 90 and 40 < sci.data.shape[1] < 90, sci.data.shape
                cut_wcs = WCS(sci.header)
                y, x = np.unravel_index(np.argmax(sci.data), sci.data.shape)
                found = cut_wcs.all_pix2world([[x, y]], 0)[0]
            # the same star, within a tenth of a pixel (HRC pixels are 0.025 arcsec)
            separation = np.hypot((found[0] - ra) * np.cos(np.radians(dec)), found[1] - dec) * 3600
            assert separation < 0.0025, (params, separation)


def test_no_overlap_and_bad_requests_are_clear_errors(service):
    far = httpx.get(service + "/soda/sync", params={"ID": ID, "POS": "CIRCLE 120 30 0.01"})
    assert far.status_code == 400 and far.text.startswith("NoOverlap:")
    band = httpx.get(service + "/soda/sync", params={"ID": ID, "CIRCLE": "6.02 -72.08 0.01",
                                                     "BAND": "1e-6 2e-6"})
    assert band.status_code == 400 and band.text.startswith("NoOverlap: BAND")
    unknown = httpx.get(service + "/soda/sync", params={"ID": "nope", "POS": "CIRCLE 1 2 3"})
    assert unknown.status_code == 404 and unknown.text.startswith("NotFound:")
    for bad in ({"POS": "SQUARE 1 2 3"}, {"CIRCLE": "1 2"}, {"POLYGON": "1 2 3 4"}, {"CIRCLE": "a b c"}):
        response = httpx.get(service + "/soda/sync", params={"ID": ID, **bad})
        assert response.status_code == 400 and response.text.startswith("UsageError:"), bad
