"""The FITS header reader on real HST files, and on files that are not what they claim."""

import json

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord

from loaders.fits_header import FitsReadError, read_fits

from .conftest import SHARED

SCIENCE = SHARED / "data" / "hst" / "science"
REFERENCE = json.loads((SCIENCE / "footprints.json").read_text())
WITH_FOOTPRINTS = sorted(key.rsplit("/", 1)[1] for key, chips in REFERENCE.items()
                         if key.startswith("hst/science/") and any(
                             c.get("corners_deg") and c.get("basis", "").startswith(("SIZAXIS", "NAXIS", "assumed"))
                             for c in chips) and key.endswith((".fits", ".fits.gz")))


def test_reference_covers_the_instruments():
    assert len(WITH_FOOTPRINTS) >= 10  # ACS/WFC, ACS/HRC, WFC3/UVIS, WFC3/IR, NICMOS


@pytest.mark.parametrize("name", WITH_FOOTPRINTS)
def test_corners_agree_with_astropy_reference_to_an_arcsecond(name):
    read = read_fits(SCIENCE / name)
    chips = [e for e in read.extensions if e.corners]
    reference = [c for c in REFERENCE[f"hst/science/{name}"] if c.get("corners_deg")]
    assert len(chips) == len(reference)
    for chip, ref in zip(chips, reference):
        ours = SkyCoord([c[0] for c in chip.corners], [c[1] for c in chip.corners], unit=u.deg)
        theirs = SkyCoord([c[0] for c in ref["corners_deg"]], [c[1] for c in ref["corners_deg"]],
                          unit=u.deg)
        for corner in ours:
            assert corner.separation(theirs).arcsec.min() < 1.0
        assert list(chip.shape) == ref["axes"]  # SIZAXIS, not the trimmed NAXIS


def test_headers_of_an_acs_file():
    read = read_fits(SCIENCE / "j94f05bgq_flt.fits")
    assert read.primary["ROOTNAME"] == "j94f05bgq"
    assert read.primary["INSTRUME"] == "ACS" and read.primary["DETECTOR"] == "WFC"
    assert read.primary["IDCTAB"] == "jref$qbu1641sj_idc.fits"
    assert isinstance(read.primary["EXPSTART"], float)
    assert [(e.index, e.name, e.version) for e in read.extensions][:4] == [
        (0, "PRIMARY", None), (1, "SCI", 1), (2, "ERR", 1), (3, "DQ", 1)]
    assert "COMMENT" not in read.primary and "HISTORY" not in read.primary
    json.dumps(read.primary)  # plain values only: ready for the database


def test_spectrum_without_celestial_wcs_is_a_problem_not_an_error():
    read = read_fits(SCIENCE / "o4sp040b0_raw.fits")
    assert read.primary["INSTRUME"] == "STIS"
    assert all(e.corners is None for e in read.extensions)
    assert read.problems == ["HDU 1 (SCI): no celestial WCS", "HDU 4 (SCI): no celestial WCS"]


def test_truncated_file_is_refused(tmp_path):
    data = (SCIENCE / "j8bt05njq_raw.fits").read_bytes()
    cut = tmp_path / "j8bt05njq_raw.fits"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FitsReadError, match="truncated"):
        read_fits(cut)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"this is a text file, not FITS\n" * 200, "not a readable FITS file"),
    (b"SIMPLE  =                    T" + b" " * 50 + b"BITPIX  = oops", "not a readable FITS file"),
])
def test_not_fits_is_refused(tmp_path, content, message):
    path = tmp_path / "x_flt.fits"
    path.write_bytes(content)
    with pytest.raises(FitsReadError, match=message):
        read_fits(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(FitsReadError, match="cannot read"):
        read_fits(tmp_path / "absent_flt.fits")
