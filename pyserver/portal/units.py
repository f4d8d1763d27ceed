"""How a results table shows its values: right ascension in H:M:S, declination in D:M:S, dates
on the calendar, exposure times in seconds, wavelengths in Ångström."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

# (key, title, unit shown)
COLUMNS = [
    ("obs_id", "Observation ID", ""), ("target_name", "Target", ""),
    ("s_ra", "RA", "h:m:s"), ("s_dec", "Dec", "d:m:s"), ("t_min", "Start date", "UTC"),
    ("t_exptime", "Int. time", "s"), ("instrument_name", "Instrument", ""),
    ("filter", "Filter", ""), ("calib_level", "Cal. level", ""),
    ("dataproduct_type", "Data type", ""), ("proposal_id", "Proposal", ""),
    ("em_min", "Min. wavelength", "Å"), ("em_max", "Max. wavelength", "Å"),
]


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


def angstrom(metres: float | None) -> str:
    return "" if metres is None else f"{metres * 1e10:,.0f}"


def formatted(row: dict) -> dict:
    """A result row with its values as the table shows them (and the row itself as `raw`)."""
    shown = dict(row)
    shown["s_ra"], shown["s_dec"] = hms(row.get("s_ra")), dms(row.get("s_dec"))
    shown["t_min"] = calendar(row.get("t_min"))
    shown["t_exptime"] = "" if row.get("t_exptime") is None else f"{row['t_exptime']:g}"
    shown["em_min"], shown["em_max"] = angstrom(row.get("em_min")), angstrom(row.get("em_max"))
    shown["raw"] = row
    return shown
