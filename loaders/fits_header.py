"""Read what the archive needs from an HST FITS file: headers and the sky corners of its data.

Only headers are read (astropy opens the file lazily and never touches the pixels); the corners
come from astropy.wcs, with the SIP and lookup-table distortions the file carries. Everything
else (which plane, which level, the bounds of a plane) is decided in the database.

Package copies of HST files often trim the data arrays to a few pixels and keep the true size in
SIZAXIS1/2: the footprint uses SIZAXIS when present, or the footprint would be a fraction of an
arcsecond wide.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning

SKIPPED_KEYWORDS = {"COMMENT", "HISTORY", ""}
# the linear WCS of a science extension, kept for CAOM's chunk function (the corners carry the
# distortions; these are what a client reproduces the grid with)
WCS_KEYWORDS = ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2",
                "CD1_1", "CD1_2", "CD2_1", "CD2_2")
# association tables are small and name the members of a composite observation
ASN_COLUMNS = ("MEMNAME", "MEMTYPE", "MEMPRSNT")
MAX_ASN_ROWS = 10_000
# the pixel grid of a detector whose header-only copies say NAXISn = 0 and carry no SIZAXIS:
# WFPC2 GEIS conversions keep the WCS of a chip but not its 800 x 800 format (stsynphot's
# detectors.dat has the same figure)
DETECTOR_FORMATS = {"WFPC2": (800, 800)}


class FitsReadError(ValueError):
    """The file is not a readable FITS file (the message says why)."""


@dataclass
class Extension:
    """One HDU: its place, its header and, for a data array with a celestial WCS, its corners."""

    index: int
    name: str
    version: int | None
    header: dict[str, Any]
    shape: tuple[int, int] | None = None  # (NAXIS1, NAXIS2), SIZAXIS when the data were trimmed
    corners: list[tuple[float, float]] | None = None  # (ra, dec) degrees, pixel-edge corners
    wcs: dict[str, Any] | None = None  # WCS_KEYWORDS present in the header
    rows: list[dict[str, Any]] | None = None  # an association table's member rows


@dataclass
class FitsFile:
    """The headers of a file and what its science extensions cover."""

    path: Path
    size: int
    primary: dict[str, Any]
    extensions: list[Extension] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # not fatal: e.g. a WCS that would not load

    @property
    def name(self) -> str:
        return self.path.name


def _header_dict(header: fits.Header) -> dict[str, Any]:
    """Keyword -> value, as plain JSON-able Python values (the last value of a repeated key)."""
    out: dict[str, Any] = {}
    for card in header.cards:
        key = card.keyword
        if key in SKIPPED_KEYWORDS:
            continue
        value = card.value
        if isinstance(value, fits.card.Undefined):
            value = None
        elif isinstance(value, (np.bool_, bool)):
            value = bool(value)
        elif isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (np.floating, float)):
            value = float(value) if np.isfinite(value) else None  # JSON has no NaN
        elif isinstance(value, str):
            value = value.replace("\x00", "").strip()
        elif not isinstance(value, (int, float)):
            value = str(value)
        out[key] = value
    return out


def _check_complete(hdul: fits.HDUList, size: int) -> None:
    """Raise when the file is shorter than its headers say (a truncated copy)."""
    for index, hdu in enumerate(hdul):
        info = hdu.fileinfo()
        if info is None:
            continue
        end = info["datLoc"] + info["datSpan"]
        if end > size:
            raise FitsReadError(f"truncated: HDU {index} ends at byte {end}, the file has {size}")


def _science_shape(header: fits.Header, instrument: str | None) -> tuple[int, int] | None:
    n1 = header.get("SIZAXIS1") or header.get("NAXIS1")
    n2 = header.get("SIZAXIS2") or header.get("NAXIS2")
    if header.get("NAXIS", 0) < 2:
        return None
    if not n1 and not n2 and instrument in DETECTOR_FORMATS:
        return DETECTOR_FORMATS[instrument]
    if not n1 or not n2:
        return None
    return int(n1), int(n2)


def _corners(header: fits.Header, hdul: fits.HDUList, shape: tuple[int, int]
             ) -> list[tuple[float, float]] | None:
    """Sky corners at the pixel edges (CAOM's convention), or None without a celestial WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", AstropyWarning)
        wcs = WCS(header, fobj=hdul, relax=True)
        if not wcs.has_celestial or wcs.naxis < 2:
            return None
        # a 2-axis WCS keeps its SIP and lookup-table distortions; larger ones give their sky part
        sky = wcs if wcs.naxis == 2 else wcs.celestial
        footprint = sky.calc_footprint(axes=shape, center=False)
    if not np.all(np.isfinite(footprint)):
        return None
    return [(float(ra) % 360.0, float(dec)) for ra, dec in footprint]


def _asn_rows(hdu: fits.BinTableHDU) -> list[dict[str, Any]] | None:
    """The member rows of an association table (MEMNAME, MEMTYPE, MEMPRSNT)."""
    names = [name.upper() for name in hdu.columns.names]
    if not all(column in names for column in ASN_COLUMNS) or len(hdu.data) > MAX_ASN_ROWS:
        return None
    return [{"MEMNAME": str(row["MEMNAME"]).strip(), "MEMTYPE": str(row["MEMTYPE"]).strip(),
             "MEMPRSNT": bool(row["MEMPRSNT"])} for row in hdu.data]


def is_science_extension(index: int, header: fits.Header) -> bool:
    """SCI extensions, or a primary HDU that holds an image itself (NICMOS, WFPC2 c0f...)."""
    if header.get("EXTNAME", "").strip().upper() == "SCI":
        return True
    return index == 0 and header.get("NAXIS", 0) >= 2 and "CTYPE1" in header


def read_fits(path: str | os.PathLike) -> FitsFile:
    """Headers and footprints of one FITS file; FitsReadError when it cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FitsReadError(f"cannot read: {exc.strerror}") from None
    if size == 0:
        raise FitsReadError("empty file")
    # our own file handle: astropy leaks its handle when it raises inside fits.open
    with path.open("rb") as handle:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", AstropyWarning)  # astropy warns on truncation
                hdul = fits.open(handle, memmap=False, lazy_load_hdus=False)
        except (OSError, ValueError, AstropyWarning, TypeError) as exc:
            raise FitsReadError(f"not a readable FITS file: {exc}") from None
        with hdul:
            if not path.name.endswith(".gz"):
                _check_complete(hdul, size)
            return _read_hdus(path, size, hdul)


def _read_hdus(path: Path, size: int, hdul: fits.HDUList) -> FitsFile:
    result = FitsFile(path=path, size=size, primary=_header_dict(hdul[0].header))
    for index, hdu in enumerate(hdul):
        header = hdu.header
        extension = Extension(index=index, name=str(header.get("EXTNAME", "PRIMARY")).strip(),
                              version=header.get("EXTVER"),
                              header=_header_dict(header) if index else {})
        if extension.name.upper() == "ASN" and isinstance(hdu, fits.BinTableHDU):
            extension.rows = _asn_rows(hdu)
        if is_science_extension(index, header):
            extension.wcs = {key: header[key] for key in WCS_KEYWORDS if key in header}
            extension.shape = _science_shape(header, result.primary.get("INSTRUME"))
            if extension.shape:
                try:
                    extension.corners = _corners(header, hdul, extension.shape)
                except Exception as exc:  # a broken WCS loses the footprint, not the file
                    result.problems.append(f"HDU {index}: WCS unusable: {exc}")
                if extension.corners is None:
                    result.problems.append(f"HDU {index} ({extension.name}): no celestial WCS")
        result.extensions.append(extension)
    return result
