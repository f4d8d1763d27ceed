"""Filter bandpasses from data/hst/filters.csv, and CAOM's energy-band rule."""

import csv

import pytest

from hstvo.config import PROJECT_ROOT


def _bounds(conn, *args):
    return conn.execute("SELECT lower_m, upper_m, rank, source FROM hst.filter_bounds(%s, %s, %s, %s)",
                        (*args, None)[:4] if len(args) == 3 else args).fetchone()


def test_every_row_of_the_csv_is_loaded(readonly_conn):
    with (PROJECT_ROOT / "data" / "hst" / "filters.csv").open() as f:
        expected = sum(1 for _ in csv.DictReader(f))
    assert readonly_conn.execute("SELECT count(*) FROM hst.filter_source").fetchone()[0] == expected == 705


@pytest.mark.parametrize("instrument, detector, filter_name, pivot_nm, fwhm_nm", [
    # published pivots and FWHM: the ACS and WFC3 handbook tables (drizzlepac psf_tables.txt rows)
    ("ACS", "WFC", "F606W", 591.77, 158.32),
    ("ACS", "HRC", "F555W", 535.6, 84.11),
    ("WFC3", "UVIS", "F606W", 588.7, 218.2),
    ("WFC3", "IR", "F160W", 1536.9, 268.3),
])
def test_bandpass_holds_the_published_pivot_and_width(readonly_conn, instrument, detector,
                                                     filter_name, pivot_nm, fwhm_nm):
    lower, upper, rank, _ = _bounds(readonly_conn, instrument, detector, filter_name)
    assert lower * 1e9 < pivot_nm - fwhm_nm / 2 and upper * 1e9 > pivot_nm + fwhm_nm / 2
    assert upper / lower < 3  # a filter, not the detector's whole range
    assert rank <= 4


def test_suspect_curves_are_never_used(readonly_conn):
    # pyphot's WFC3 F126N curve lacks the detector cutoff (pivot 1712 nm, published 1258.5 nm)
    lower, upper, rank, source = _bounds(readonly_conn, "WFC3", "IR", "F126N")
    assert "pyphot" not in source and rank == 4
    assert lower < 1258.5e-9 < upper and upper - lower < 50e-9


def test_detector_and_cenwave_rows_win(readonly_conn):
    hrc = _bounds(readonly_conn, "ACS", "HRC", "F606W")
    wfc = _bounds(readonly_conn, "ACS", "WFC", "F606W")
    assert "hrc" in hrc[3] and "wfc" in wfc[3]
    cenwave = _bounds(readonly_conn, "STIS", "FUV-MAMA", "G140M", "C1173")
    assert cenwave[:2] == pytest.approx((115.05e-9, 120.05e-9))
    grating = _bounds(readonly_conn, "STIS", "FUV-MAMA", "G140M")
    assert grating[1] - grating[0] > cenwave[1] - cenwave[0]


def test_unknown_filter_has_no_bandpass(readonly_conn):
    assert _bounds(readonly_conn, "ACS", "WFC", "F999Z") is None


@pytest.mark.parametrize("lower, upper, bands", [
    (8.98e-7, 1.068e-6, "Infrared|Optical"),  # WFC3 F098M, CAOM's own example
    (4.6e-7, 7.2e-7, "Optical"),
    (1.15e-7, 1.73e-7, "UV"),
    (2.5e-7, 3.5e-7, "Optical|UV"),  # canonical order, not wavelength order
    (5e-11, 2e-10, "X-ray"),
    (1e-3, 2e-2, "Radio|Millimeter"),
])
def test_energy_bands(readonly_conn, lower, upper, bands):
    assert readonly_conn.execute("SELECT caom2.energy_bands(%s, %s)",
                                 (lower, upper)).fetchone()[0] == bands
