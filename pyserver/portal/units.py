"""How a results table shows its values: right ascension in H:M:S, declination in D:M:S, dates
on the calendar, exposure times in seconds, wavelengths in Ångström."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

# (key, title, unit shown by default)
COLUMNS = [
    ("obs_id", "Observation ID", ""), ("target_name", "Target", ""),
    ("s_ra", "RA", "h:m:s"), ("s_dec", "Dec", "d:m:s"), ("t_min", "Start date", "UTC"),
    ("t_exptime", "Int. time", "s"), ("instrument_name", "Instrument", ""),
    ("filter", "Filter", ""), ("calib_level", "Cal. level", ""),
    ("dataproduct_type", "Data type", ""), ("proposal_id", "Proposal", ""),
    ("em_min", "Min. wavelength", "Å"), ("em_max", "Max. wavelength", "Å"),
]
# the unit a column shows under each choice of the form's Units (constraints.UNIT_CHOICES)
UNIT_LABELS = {("s_ra", "deg"): "°", ("s_dec", "deg"): "°", ("t_min", "mjd"): "MJD",
               ("em_min", "nm"): "nm", ("em_max", "nm"): "nm", ("em_min", "um"): "µm",
               ("em_max", "um"): "µm"}
UNIT_OF_COLUMN = {"s_ra": "ra_unit", "s_dec": "dec_unit", "t_min": "date_unit",
                  "em_min": "wl_unit", "em_max": "wl_unit"}


def columns(units: dict) -> list[tuple[str, str, str]]:
    """COLUMNS with the units chosen."""
    return [(key, title, UNIT_LABELS.get((key, units.get(UNIT_OF_COLUMN.get(key, ""))), unit))
            for key, title, unit in COLUMNS]


def hms(degrees: float | None) -> str:
    if degrees is None:
        return ""
    hours = (degrees % 360) / 15
    h, rest = divmod(hours * 3600, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:05.2f}"


def dms(degrees: float | None) -> str:
    if degrees is None:
        return ""
    sign = "-" if degrees < 0 else "+"
    d, rest = divmod(abs(degrees) * 3600, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{int(d):02d}:{int(m):02d}:{s:04.1f}"


MJD_ZERO = datetime(1858, 11, 17)


def calendar(mjd: float | None) -> str:
    """An MJD as a UTC calendar date and time (arithmetic: astropy's Time costs milliseconds a
    value, and a page shows fifty)."""
    if mjd is None or math.isnan(mjd):
        return ""
    return (MJD_ZERO + timedelta(days=mjd)).isoformat(sep=" ", timespec="seconds")


def wavelength(metres: float | None, unit: str = "angstrom") -> str:
    if metres is None:
        return ""
    if unit == "nm":
        return f"{metres * 1e9:,.1f}"
    if unit == "um":
        return f"{metres * 1e6:,.4f}"
    return f"{metres * 1e10:,.0f}"


def formatted(row: dict, units: dict | None = None) -> dict:
    """A result row with its values as the table shows them, in the units chosen (and the row
    itself as `raw`)."""
    units = units or {}
    shown = dict(row)
    ra, dec = row.get("s_ra"), row.get("s_dec")
    shown["s_ra"] = f"{ra:.5f}" if units.get("ra_unit") == "deg" and ra is not None else hms(ra)
    shown["s_dec"] = f"{dec:+.5f}" if units.get("dec_unit") == "deg" and dec is not None else dms(dec)
    t_min = row.get("t_min")
    shown["t_min"] = f"{t_min:.5f}" if units.get("date_unit") == "mjd" and t_min is not None \
        else calendar(t_min)
    shown["t_exptime"] = "" if row.get("t_exptime") is None else f"{row['t_exptime']:g}"
    for key in ("em_min", "em_max"):
        shown[key] = wavelength(row.get(key), units.get("wl_unit", "angstrom"))
    shown["raw"] = row
    return shown
