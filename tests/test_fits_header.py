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


def test_spectrum_with_a_spectral_wcs_has_no_corners_and_no_problem():
    """STIS SCI extensions declare LAMBDA/ANGLE axes: no sky corners, and nothing to report."""
    read = read_fits(SCIENCE / "o4sp040b0_raw.fits")
    assert read.primary["INSTRUME"] == "STIS"
    assert all(e.corners is None for e in read.extensions)
    assert read.problems == []


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


@pytest.mark.parametrize("field, value", [
    ("'O''Dell  '  / a quote doubled", "O'Dell"), ("'jref$p3v2228mj_bia.fits' / bias", "jref$p3v2228mj_bia.fits"),
    ("                   12 / an integer", 12), ("1.5D+03", 1500.0), ("-0.5E-3 / small", -0.0005),
    ("                    T / logical", True), ("F", False), ("", None), ("'unterminated", "unterminated"),
])
def test_card_values_follow_the_fits_standard(field, value):
    from loaders.fits_header import card_value

    assert card_value(field) == value and type(card_value(field)) is type(value)


def _cards(*cards: str) -> list[str]:
    return [card.ljust(80) for card in cards]


LONG_NOTE = "NOTE    = 'the first part of a long string, which goes on &'"
HEADERS = [  # the same cards in other places: each header must read as if read alone
    _cards("SIMPLE  =                    T", LONG_NOTE, "CONTINUE  'and ends here'",
           "DP1     = 'AXIS.1: 1'", "DP1     = 'NAXES: 2'", "FILTER  = 'F555W   '",
           "FILTER  = 'F814W   '  / the later value wins"),
    _cards("SIMPLE  =                    T", LONG_NOTE, "FILTER  = 'F555W   '",
           "DP1     = 'AXIS.1: 1'", "CONTINUE  'does not continue a record-valued card'"),
    _cards("SIMPLE  =                    T", "FILTER  = 'F555W   '", "CONTINUE  'nor this'",
           LONG_NOTE, "HISTORY a commentary card", "CONTINUE  'continued after all'"),
]


def test_a_card_seen_before_reads_as_it_did_the_first_time():
    """Parsed cards are kept for the next headers (most of an HST header repeats from file to
    file): a header read with every card known reads the same as read afresh, a CONTINUE
    card extends only a long string just before it, and record-valued cards keep their names."""
    from loaders import fits_header

    fits_header._PARSED_CARDS.clear()
    fresh = []
    for cards in HEADERS:
        fits_header._PARSED_CARDS.clear()
        fresh.append(fits_header._parse_cards(cards))
    assert fresh[0]["NOTE"] == "the first part of a long string, which goes on and ends here"
    assert fresh[0]["DP1.AXIS.1"] == 1.0 and fresh[0]["FILTER"] == "F814W"
    assert fresh[1]["NOTE"].endswith("goes on &")
    assert fresh[2]["FILTER"] == "F555W" and fresh[2]["NOTE"].endswith("continued after all")
    for _ in range(2):  # every card known now, in each order of the headers
        for cards, expected in zip(HEADERS, fresh):
            read = fits_header._parse_cards(cards)
            assert read == expected and list(read) == list(expected)
    assert len(fits_header._PARSED_CARDS) > 0


@pytest.mark.parametrize("name", ["2chipA.fits.gz", "j8bt05njq_raw.fits", "o4sp040b0_raw.fits",
                                  "sample_svm_flc.fits", "WFPC2u5780205r_c0fx.fits"])
def test_header_scan_agrees_with_astropy(name):
    """astropy.io.fits is the oracle for every keyword of every HDU of real files."""
    from astropy.io import fits

    read = read_fits(SCIENCE / name)
    with fits.open(SCIENCE / name) as hdul:
        assert len(read.extensions) == len(hdul)
        for extension, hdu in zip(read.extensions, hdul):
            ours = read.primary if extension.index == 0 else extension.header
            theirs = {card.keyword: card.value for card in hdu.header.cards
                      if card.keyword not in ("COMMENT", "HISTORY", "")}
            assert ours.keys() == theirs.keys()
            for keyword, value in theirs.items():
                if isinstance(value, str):
                    value = value.strip()
                assert ours[keyword] == value, (name, extension.index, keyword)


def test_plain_tan_corners_are_wcslib_s_and_only_plain_tan_takes_the_short_way(tmp_path):
    """The direct gnomonic corners (loaders.fits_header.plain_tan_corners) agree with astropy's
    calc_footprint to 1e-10 degrees on synthetic headers of every imaging instrument; a header
    with SIP, PV or another projection goes to astropy."""
    import math
    import random
    import warnings
    from pathlib import Path

    from astropy.wcs import WCS

    from loaders.fits_header import plain_tan_corners, scan_hdus, _science_shape
    from loaders.synth import write_family

    compared = 0
    rng = random.Random(3)
    for index in range(40):
        for path in write_family(tmp_path, rng, index):
            for hdu in scan_hdus(Path(path).read_bytes())[1:]:
                shape = _science_shape(hdu.header, None)
                corners = plain_tan_corners(hdu.header, shape) if shape else None
                if corners is None:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    footprint = WCS(hdu.wcs_text(), relax=True).calc_footprint(axes=shape, center=False)
                for (ra, dec), (ra_w, dec_w) in zip(corners, footprint):
                    assert abs(((ra - ra_w % 360) + 180) % 360 - 180) * math.cos(math.radians(dec)) < 1e-10
                    assert abs(dec - dec_w) < 1e-10
                compared += 1
    assert compared > 50
    plain = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 10.0, "CRPIX2": 10.0,
             "CRVAL1": 10.0, "CRVAL2": -20.0, "CD1_1": -1e-5, "CD1_2": 0.0, "CD2_1": 0.0, "CD2_2": 1e-5}
    assert plain_tan_corners(plain, (20, 20)) is not None
    for extra in ({"A_ORDER": 2}, {"PV2_1": 0.1}, {"CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN"},
                  {"WCSAXES": 3}, {"PC1_1": 1.0}, {"CUNIT1": "arcsec"}):
        assert plain_tan_corners({**plain, **extra}, (20, 20)) is None, extra
