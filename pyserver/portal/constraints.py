"""The Advanced Search form's fields as constraints: what a person types (coordinates in
sexagesimal or degrees, calendar dates, exposure times) made into typed values for
portal.condition (sql/89_portal_search.sql), and the ADQL query the same search is.

A field that cannot be read is a message for the form, never an error page.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

LIST_FIELDS = ("collection", "instrument", "band", "filter", "calib_level", "dataproduct_type")
TEXT_FIELDS = ("target", "obs_id", "proposal_id")
MAX_TEXT = 200


@dataclass
class Search:
    """A search as the form asked it: its constraints, and what could not be read."""

    constraints: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sort: str = "obs_id"
    descending: bool = False
    page: int = 1
    page_size: int = 50
    cutout: bool = False  # "Do Spatial Cutout": each row links a SODA cutout of the cone
    units: dict = field(default_factory=dict)  # how the table shows (and filters read) values
    resolved: str | None = None  # the target name a position was resolved from


# the units a column may be shown in (the first is the default)
UNIT_CHOICES = {"ra_unit": ("hms", "deg"), "dec_unit": ("dms", "deg"),
                "date_unit": ("calendar", "mjd"), "wl_unit": ("angstrom", "nm", "um")}
WAVELENGTH_METRES = {"angstrom": 1e-10, "nm": 1e-9, "um": 1e-6}
TEXT_COLUMNS = ("obs_id", "target_name", "instrument_name", "filter", "dataproduct_type",
                "proposal_id")
NUMBER_COLUMNS = ("s_ra", "s_dec", "t_min", "t_exptime", "calib_level", "em_min", "em_max")
COMPARISON = re.compile(r"^\s*(<=|>=|<|>|=)?\s*(.+?)\s*$")


def _angle(text: str, hours: bool) -> float:
    """Degrees from '10:05:20.5', '10h05m20.5s', '-72 04 52' or '151.335'."""
    from astropy.coordinates import Angle
    import astropy.units as u

    text = text.strip()
    sexagesimal = any(c in text for c in ":hmsd ") and not text.replace(".", "").lstrip("+-").isdigit()
    unit = u.hourangle if (hours and sexagesimal) else u.deg
    return float(Angle(text, unit=unit).degree)


def _mjd(text: str) -> float:
    from astropy.time import Time

    return float(Time(text.strip(), format="isot" if "T" in text else "iso", scale="utc").mjd)


def _number(params: QueryParams, name: str, problems: list[str]) -> float | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # nan and inf read as floats, and mean nothing here
        problems.append(f"{name.replace('_', ' ')}: {value!r} is not a number")
        return None
    return number


def read_search(params: QueryParams) -> Search:
    """The search a query string asks for."""
    search = Search()
    c, problems = search.constraints, search.problems
    for name in LIST_FIELDS:
        values = [v for v in params.getlist(name) if v.strip()][:50]
        if values:
            c[name] = [v.strip()[:MAX_TEXT] for v in values]
    if "calib_level" in c and not all(v.isdigit() for v in c["calib_level"]):
        problems.append("calibration level: 0, 1, 2, 3 or 4")
        del c["calib_level"]
    for name in TEXT_FIELDS:
        value = params.get(name, "").strip()
        if value:
            c[name] = value[:MAX_TEXT]
    ra, dec = params.get("ra", "").strip(), params.get("dec", "").strip()
    if ra or dec:
        try:
            c["ra"], c["dec"] = _angle(ra, hours=True), _angle(dec, hours=False)
            if not (0 <= c["ra"] < 360 and -90 <= c["dec"] <= 90):
                raise ValueError("outside the sky")
            radius = _number(params, "radius", problems)
            c["radius"] = min(max(radius if radius is not None else 0.05, 0.0), 30.0)
        except Exception:  # astropy's many ways of saying it cannot read an angle
            problems.append(f"coordinates: cannot read RA {ra!r}, Dec {dec!r} "
                            "(e.g. 00:24:05.4 -72:04:52 or 6.0225 -72.081)")
            c.pop("ra", None)
            c.pop("dec", None)
    for name, key in (("date_from", "date_min"), ("date_to", "date_max")):
        value = params.get(name, "").strip()
        if value:
            try:
                c[key] = _mjd(value)
            except ValueError:
                problems.append(f"{name.replace('_', ' ')}: {value!r} is not a date (2005-03-07)")
    for name in ("exptime_min", "exptime_max"):
        number = _number(params, name, problems)
        if number is not None:
            c[name] = number
    _read_column_filters(params, search)
    search.cutout = params.get("cutout") == "on"
    search.units = chosen_units(params)
    search.sort = params.get("sort", "obs_id")
    search.descending = params.get("order") == "desc"
    page = params.get("page", "1")
    search.page = int(page) if page.isdigit() and int(page) < 100_000 else 1
    size = params.get("size", "50")
    search.page_size = min(max(int(size), 5), 500) if size.isdigit() else 50
    return search


def chosen_units(params: QueryParams) -> dict[str, str]:
    """The units the form chose (each the default when it names none known)."""
    return {name: params.get(name) if params.get(name) in choices else choices[0]
            for name, choices in UNIT_CHOICES.items()}


def _column_value(column: str, text: str, units: dict) -> float:
    """A number typed under a column, in the unit the column shows, in the unit stored."""
    if column == "s_ra":
        return _angle(text, hours=True)  # sexagesimal: hours; a plain number: degrees
    if column == "s_dec":
        return _angle(text, hours=False)
    if column == "t_min":
        return float(text) if _is_number(text) else _mjd(text)
    if column in ("em_min", "em_max"):
        return float(text) * WAVELENGTH_METRES[units.get("wl_unit", "angstrom")]
    return float(text)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _read_column_filters(params: QueryParams, search: Search) -> None:
    """The filters typed under the results' columns (f_<column>): text a value contains, or
    for numbers a comparison (>100, <=2005-06-01) or a range (4000..6000), in the shown unit."""
    units = chosen_units(params)
    filters = []
    for column in TEXT_COLUMNS + NUMBER_COLUMNS:
        text = params.get(f"f_{column}", "").strip()[:MAX_TEXT]
        if not text:
            continue
        if column in TEXT_COLUMNS:
            filters.append({"column": column, "contains": text})
            continue
        try:
            if ".." in text:
                low, high = (part.strip() for part in text.split("..", 1))
                filters += [{"column": column, "op": ">=", "value": _column_value(column, low, units)},
                            {"column": column, "op": "<=", "value": _column_value(column, high, units)}]
            else:
                op, value = COMPARISON.match(text).groups()
                number = _column_value(column, value, units)
                if not math.isfinite(number):
                    raise ValueError(value)
                filters.append({"column": column, "op": op or "=", "value": number})
        except Exception:  # astropy's and float's many ways of refusing a value
            search.problems.append(f"filter of {column}: cannot read {text!r} "
                                   "(e.g. >100, <=2005-06-01, 4000..6000)")
    if filters:
        search.constraints["filters"] = filters


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# the constraints as ADQL on ivoa.ObsCore: (field, template of the value, how a value is written)
ADQL_LISTS = (("collection", "obs_collection IN ({})"), ("instrument", "instrument_name IN ({})"),
              ("dataproduct_type", "dataproduct_type IN ({})"), ("calib_level", "calib_level IN ({})"))
ADQL_VALUES = (("target", "target_name LIKE {}"), ("obs_id", "obs_id LIKE {}"),
               ("proposal_id", "proposal_id = {}"), ("date_min", "t_max >= {:.5f}"),
               ("date_max", "t_min <= {:.5f}"), ("exptime_min", "t_exptime >= {:g}"),
               ("exptime_max", "t_exptime <= {:g}"))


def adql(search: Search, top: int | None = 50) -> str:
    """The ADQL query on ivoa.ObsCore that the search is (the ADQL tab shows and runs it)."""
    c = search.constraints
    where = []
    for name, template in ADQL_LISTS:
        if name in c:
            values = c[name] if name == "calib_level" else [_quoted(v) for v in c[name]]
            where.append(template.format(", ".join(values)))
    for name, template in ADQL_VALUES:
        if name in c:
            value = c[name]
            if name in ("target", "obs_id"):
                value = _quoted(value + "%")
            elif name == "proposal_id":
                value = _quoted(value)
            where.append(template.format(value))
    for f in c.get("filters", []):
        column = ADQL_COLUMNS.get(f["column"])
        if column is None:
            continue
        if "contains" in f:
            where.append(f"{column} ILIKE {_quoted('%' + f['contains'] + '%')}")
        else:
            where.append(f"{column} {f['op']} {f['value']!r}")
    if "ra" in c:
        where.append(f"INTERSECTS(s_region, CIRCLE('ICRS', {c['ra']:.6f}, {c['dec']:.6f}, "
                     f"{c['radius']:g})) = 1")
    sort = search.sort if search.sort in ADQL_SORTABLE else "obs_id"
    query = (f"SELECT {f'TOP {top} ' if top else ''}obs_id, target_name, s_ra, s_dec, t_min, t_exptime, "
             "instrument_name, calib_level, dataproduct_type, obs_publisher_did\n"
             "FROM ivoa.ObsCore")
    if where:
        query += "\nWHERE " + "\n  AND ".join(where)
    return query + f"\nORDER BY {sort}{' DESC' if search.descending else ''}"


# what ivoa.ObsCore has of the portal's columns (filter and band are CAOM's)
ADQL_COLUMNS = {name: name for name in TEXT_COLUMNS + NUMBER_COLUMNS if name != "filter"}
ADQL_SORTABLE = ("obs_id", "target_name", "s_ra", "s_dec", "t_min", "t_exptime",
                 "instrument_name", "calib_level", "dataproduct_type", "proposal_id", "em_min",
                 "em_max", "obs_collection", "obs_publisher_did", "access_estsize")
