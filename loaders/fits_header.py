"""Read what the archive needs from an HST FITS file: headers and the sky corners of its data.

Speed matters here (an archive is millions of files), so the file is read once into memory
and its headers are scanned directly by the FITS rules (2880-byte blocks of 80-character cards,
data sizes from BITPIX/NAXISn/PCOUNT/GCOUNT): pixels are never decoded, and a file shorter than
its headers say is caught on the way. astropy does the rest: astropy.wcs computes the corners
(with SIP distortions from the header text, and with lookup-table distortions through
astropy.io.fits when the header points at WCSDVARR/D2IMARR extensions), and astropy.io.fits
reads association tables. Everything else (which plane, which level, the bounds of a plane) is
decided in the database.

Package copies of HST files often trim the data arrays to a few pixels and keep the true size in
SIZAXIS1/2: the footprint uses SIZAXIS when present, or the footprint would be a fraction of an
arcsecond wide.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import re
import warnings
import zlib
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
    checksum: str = ""  # md5 of the file as stored, "md5:<hex>"
    extensions: list[Extension] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # not fatal: e.g. a WCS that would not load

    @property
    def name(self) -> str:
        return self.path.name


BLOCK = 2880
CARD = 80
# header keywords that point a WCS at lookup-table extensions (WCSDVARR, D2IMARR)
LOOKUP_DISTORTION = ("CPDIS1", "CPDIS2", "D2IMDIS1", "D2IMDIS2")
CELESTIAL_CTYPES = ("RA--", "DEC-", "GLON", "GLAT", "ELON", "ELAT")
_WCS_CARD = re.compile(r"^(WCSAXES|NAXIS\d*|CTYPE\d|CUNIT\d|CRPIX\d|CRVAL\d|CDELT\d|CROTA\d|"
                       r"CD\d_\d|PC\d_\d|PV\d_\d+|LONPOLE|LATPOLE|RADESYS|EQUINOX|EPOCH|"
                       r"(A|B|AP|BP)_(\d_\d|ORDER|DMAX))$")
# the FITS WCS paper IV convention for distortion parameters: 'field.specifier: number'
_RECORD_VALUE = re.compile(r"^([a-zA-Z_]\w*(?:\.\w+)*)\s*:\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$")
_STRING = re.compile(r"'((?:[^']|'')*)'")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([EeDd][+-]?\d+)?$")


@dataclass
class RawHdu:
    """One HDU as scanned: its keywords, its header text and where its data lie."""

    header: dict[str, Any]
    cards: list[str]
    data_start: int
    data_size: int

    def wcs_text(self) -> str:
        """The cards astropy.wcs needs (primary WCS and SIP): parsing 20 cards instead of 200
        is most of the speed of reading a header-only file."""
        return "".join(card for card in self.cards if _WCS_CARD.match(card[:8].rstrip()))


def card_value(text: str) -> Any:
    """The value of a card's value field (bytes 11-80), as plain Python (FITS standard 4.2).

    Strings lose their quotes and trailing blanks, logicals become bool, numbers int or float
    (Fortran D exponents included; NaN and infinities, which FITS does not allow, None).
    """
    text = text.strip()
    if text.startswith("'"):
        return _string_value(text)
    return _plain_value(text.partition("/")[0].strip())


def _string_value(text: str) -> str:
    """A quoted value ('...' with '' for a quote), from its opening quote on."""
    end = text.find("'", 1)
    if end > 0 and text[end + 1:end + 2] != "'":  # the common case: no quote inside
        value = text[1:end]
    else:
        quoted = _STRING.match(text)
        value = quoted.group(1).replace("''", "'") if quoted else text[1:]
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value.strip()


def _plain_value(token: str) -> Any:
    """A logical, integer, real or other unquoted value (its comment already cut off)."""
    if token == "T" or token == "F":
        return token == "T"
    if not token:
        return None
    if token.isdigit() or (token[0] in "+-" and token[1:].isdigit()):
        return int(token)
    if _NUMBER.match(token):
        number = float(token.replace("D", "E").replace("d", "e"))
        return number if math.isfinite(number) else None
    return token  # complex numbers and oddities: kept as text


# Value cards already parsed, by their 80 characters: (key, value, whether a CONTINUE may
# extend it). HST headers repeat most of their cards from file to file (calibration switches,
# reference files, the instrument's configuration): on the shared samples, 39 files of every
# instrument, 59% of the value cards had been seen before, and within one instrument's files
# far more. A card is a whole keyword = value / comment, so its parse does not depend on where
# it is; values are immutable (str, int, float, bool, None) and may be shared between headers.
_PARSED_CARDS: dict[str, tuple[str, Any, bool]] = {}
_PARSED_CARDS_MAX = 100_000  # about 25 MB a reader; emptied when full


def _parse_cards(cards: list[str]) -> dict[str, Any]:
    """keyword -> value of a header's cards: COMMENT, HISTORY and blank cards dropped, the last
    value of a repeated keyword kept, long strings (CONTINUE) joined.

    This runs for some 300 cards per file and is most of the time a reader spends: a card seen
    before is looked up (_PARSED_CARDS), the usual cards (a keyword, '= ', a value) take a
    straight path, anything else goes through card_value."""
    header: dict[str, Any] = {}
    last = None
    parsed = _PARSED_CARDS
    if len(parsed) > _PARSED_CARDS_MAX:
        parsed.clear()
    for card in cards:
        known = parsed.get(card)
        if known is not None:
            key, value, extensible = known
            header[key] = value
            if extensible:
                last = key
            continue
        if card[8:10] != "= ":
            if card.startswith("CONTINUE") and card[:8].rstrip() == "CONTINUE" and last \
                    and isinstance(header.get(last), str) and header[last].endswith("&"):
                header[last] = header[last][:-1] + str(card_value(card[8:]) or "")
            continue  # commentary cards, HIERARCH and other non-value cards
        keyword = card[:8].rstrip()
        if not keyword:
            continue
        if keyword == "CONTINUE" and last and isinstance(header.get(last), str) \
                and header[last].endswith("&"):
            header[last] = header[last][:-1] + str(card_value(card[8:]) or "")
            continue
        text = card[10:].lstrip()
        value = _string_value(text.rstrip()) if text[:1] == "'" \
            else _plain_value(text.partition("/")[0].rstrip())
        if value.__class__ is str and ":" in value:
            record = _RECORD_VALUE.match(value)
            if record:  # a record-valued card (DP1 = 'AXIS.1: 1'), as astropy names it: DP1.AXIS.1
                key, number = f"{keyword}.{record.group(1)}", float(record.group(2))
                header[key] = number
                parsed[card] = (key, number, False)
                continue
        header[keyword] = value
        if keyword != "CONTINUE":  # (a CONTINUE card's meaning depends on the card before it)
            parsed[card] = (keyword, value, True)
        last = keyword
    return header


def _data_size(header: dict[str, Any], index: int) -> int:
    """Bytes of data after a header (FITS standard 4.4.1.1 and 7.1: random groups too)."""
    try:
        bitpix, naxis = int(header["BITPIX"]), int(header["NAXIS"])
        axes = [int(header[f"NAXIS{n}"]) for n in range(1, naxis + 1)]
    except (KeyError, TypeError, ValueError):
        raise FitsReadError(f"not a readable FITS file: HDU {index} lacks a valid "
                            "BITPIX, NAXIS or NAXISn") from None
    if bitpix not in (8, 16, 32, 64, -32, -64) or naxis < 0 or any(a < 0 for a in axes):
        raise FitsReadError(f"not a readable FITS file: HDU {index} has BITPIX {bitpix}, NAXIS {naxis}")
    if naxis == 0:
        return 0
    if axes[0] == 0 and header.get("GROUPS") is True:
        axes = axes[1:]  # random groups: NAXIS1 = 0 marks the format
    elements = math.prod(axes)
    if elements == 0 and not header.get("PCOUNT"):
        return 0
    return abs(bitpix) // 8 * int(header.get("GCOUNT", 1) or 1) * (int(header.get("PCOUNT", 0) or 0) + elements)


def _end_card(raw: bytes, block_start: int) -> int:
    """Where the END card of the block at block_start begins, or -1 without one: 'END' and
    77 blanks at a card boundary."""
    at = raw.find(b"END", block_start, block_start + BLOCK)
    while at >= 0:
        if (at - block_start) % CARD == 0 and not raw[at + 3:at + CARD].strip():
            return at
        at = raw.find(b"END", at + 1, block_start + BLOCK)
    return -1


def scan_hdus(raw: bytes) -> list[RawHdu]:
    """The HDUs of a FITS file in memory; FitsReadError when it is not FITS or is cut short."""
    if len(raw) < BLOCK or not raw.startswith(b"SIMPLE  ="):
        raise FitsReadError("not a readable FITS file: it does not start with a FITS block "
                            "(SIMPLE card)")
    hdus: list[RawHdu] = []
    offset = 0
    while offset + BLOCK <= len(raw) and (not hdus or raw.startswith(b"XTENSION=", offset)):
        index, end = len(hdus), -1
        start = offset
        while end < 0:
            if offset + BLOCK > len(raw):
                raise FitsReadError(f"truncated: the header of HDU {index} has no END card")
            end = _end_card(raw, offset)
            offset += BLOCK
        text = raw[start:end].decode("ascii", "replace")
        cards = [text[i:i + CARD] for i in range(0, len(text), CARD)]
        header = _parse_cards(cards)
        size = _data_size(header, index)
        if offset + size > len(raw):
            raise FitsReadError(f"truncated: HDU {index} ends at byte {offset + size}, "
                                f"the file has {len(raw)}")
        hdus.append(RawHdu(header, cards, offset, size))
        offset += -(-size // BLOCK) * BLOCK
    return hdus


def _declares_other_axes(header: dict[str, Any]) -> bool:
    """The extension's WCS is declared and is not celestial (a STIS spectrum: LAMBDA, ANGLE):
    having no sky corners is then what it is, not a problem to report."""
    ctype = str(header.get("CTYPE1") or "").strip().upper()
    return bool(ctype) and not ctype.startswith(CELESTIAL_CTYPES)


def _science_shape(header: dict[str, Any], instrument: str | None) -> tuple[int, int] | None:
    n1 = header.get("SIZAXIS1") or header.get("NAXIS1")
    n2 = header.get("SIZAXIS2") or header.get("NAXIS2")
    if (header.get("NAXIS") or 0) < 2 and not (header.get("SIZAXIS1") and header.get("SIZAXIS2")):
        return None  # no image, unless SIZAXIS declares one whose data were left out
    if not n1 and not n2 and instrument in DETECTOR_FORMATS:
        return DETECTOR_FORMATS[instrument]
    if not n1 or not n2:
        return None
    return int(n1), int(n2)


_PLAIN_TAN_KEYS = ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CD1_1", "CD1_2", "CD2_1", "CD2_2")
# what makes a WCS more than a plain TAN with a CD matrix: then astropy (wcslib) reads it
_NOT_PLAIN = re.compile(r"^(A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|PV\d_\d+|PC\d_\d|CDELT\d|CROTA\d|"
                        r"LONPOLE|LATPOLE|CPDIS\d|D2IMDIS\d)$")


def plain_tan_corners(header: dict[str, Any], shape: tuple[int, int]
                      ) -> list[tuple[float, float]] | None:
    """The corners astropy's calc_footprint(center=False) gives, computed directly for the WCS
    most synthetic and many drizzled files have: RA---TAN/DEC--TAN with a CD matrix in degrees
    and nothing else (no SIP, no PV, no lookup tables). The gnomonic projection of FITS WCS
    paper II (section 5.1.3) with the native pole at LONPOLE 180: the same numbers as wcslib's to
    about 1e-12 degrees, at a tenth of the time. None when the header is anything else."""
    if str(header.get("CTYPE1", "")).strip() != "RA---TAN" \
            or str(header.get("CTYPE2", "")).strip() != "DEC--TAN" \
            or header.get("WCSAXES", 2) != 2 or any(_NOT_PLAIN.match(key) for key in header) \
            or str(header.get("CUNIT1", "deg")).strip().lower() not in ("deg", "") \
            or str(header.get("CUNIT2", "deg")).strip().lower() not in ("deg", ""):
        return None
    try:
        crpix1, crpix2, crval1, crval2, cd11, cd12, cd21, cd22 = (
            float(header[key]) for key in _PLAIN_TAN_KEYS)
    except (KeyError, TypeError, ValueError):
        return None
    n1, n2 = shape
    alpha0, delta0 = math.radians(crval1), math.radians(crval2)
    corners = []
    for px, py in ((0.5, 0.5), (0.5, n2 + 0.5), (n1 + 0.5, n2 + 0.5), (n1 + 0.5, 0.5)):
        dx, dy = px - crpix1, py - crpix2
        x, y = cd11 * dx + cd12 * dy, cd21 * dx + cd22 * dy  # intermediate world, degrees
        r = math.hypot(x, y)
        phi = math.atan2(x, -y)  # native longitude
        theta = math.atan2(180.0 / math.pi, r)  # native latitude (90 degrees at the centre)
        # native to celestial, native pole at (phi_p = 180 deg): paper II, equation 2
        dphi = phi - math.pi
        sin_delta = math.sin(theta) * math.sin(delta0) + math.cos(theta) * math.cos(delta0) * math.cos(dphi)
        delta = math.asin(max(-1.0, min(1.0, sin_delta)))
        alpha = alpha0 + math.atan2(-math.cos(theta) * math.sin(dphi),
                                    math.sin(theta) * math.cos(delta0)
                                    - math.cos(theta) * math.sin(delta0) * math.cos(dphi))
        corners.append((math.degrees(alpha) % 360.0, math.degrees(delta)))
    return corners


def _corners(hdu: RawHdu, index: int, shape: tuple[int, int], astropy_file: "_AstropyFile"
             ) -> list[tuple[float, float]] | None:
    """Sky corners at the pixel edges (CAOM's convention), or None without a celestial WCS."""
    plain = plain_tan_corners(hdu.header, shape)
    if plain is not None and all(map(math.isfinite, (v for corner in plain for v in corner))):
        return plain
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        warnings.simplefilter("ignore", AstropyWarning)
        if any(k in hdu.header for k in LOOKUP_DISTORTION):
            hdul = astropy_file.hdul()
            wcs = WCS(hdul[index].header, fobj=hdul, relax=True)
        else:
            wcs = WCS(hdu.wcs_text(), relax=True)
        if not wcs.has_celestial or wcs.naxis < 2:
            return None
        # a 2-axis WCS keeps its SIP and lookup-table distortions; larger ones give their sky part
        sky = wcs if wcs.naxis == 2 else wcs.celestial
        footprint = sky.calc_footprint(axes=shape, center=False)
    if not np.all(np.isfinite(footprint)):
        return None
    return [(float(ra) % 360.0, float(dec)) for ra, dec in footprint]


class _AstropyFile:
    """astropy.io.fits on the bytes in memory, opened only when a table or a lookup-table
    distortion needs it."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._hdul: fits.HDUList | None = None

    def hdul(self) -> fits.HDUList:
        if self._hdul is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyWarning)
                self._hdul = fits.open(io.BytesIO(self._raw), memmap=False, lazy_load_hdus=False)
        return self._hdul

    def close(self) -> None:
        if self._hdul is not None:
            self._hdul.close()


def _asn_rows(hdu: fits.BinTableHDU) -> list[dict[str, Any]] | None:
    """The member rows of an association table (MEMNAME, MEMTYPE, MEMPRSNT)."""
    names = [name.upper() for name in hdu.columns.names]
    if not all(column in names for column in ASN_COLUMNS) or len(hdu.data) > MAX_ASN_ROWS:
        return None
    return [{"MEMNAME": str(row["MEMNAME"]).strip(), "MEMTYPE": str(row["MEMTYPE"]).strip(),
             "MEMPRSNT": bool(row["MEMPRSNT"])} for row in hdu.data]


def is_science_extension(index: int, header: dict[str, Any]) -> bool:
    """SCI extensions, or a primary HDU that holds an image itself (NICMOS, WFPC2 c0f...)."""
    if str(header.get("EXTNAME") or "").strip().upper() == "SCI":
        return True
    return index == 0 and (header.get("NAXIS") or 0) >= 2 and "CTYPE1" in header


def read_fits(path: str | os.PathLike) -> FitsFile:
    """Headers and footprints of one FITS file (.fits or .fits.gz); FitsReadError when it cannot
    be read."""
    path = Path(path)
    try:
        stored = path.read_bytes()
    except OSError as exc:
        raise FitsReadError(f"cannot read: {exc.strerror}") from None
    if not stored:
        raise FitsReadError("empty file")
    raw = stored
    if stored.startswith(b"\x1f\x8b"):
        try:
            raw = gzip.decompress(stored)
        except (OSError, EOFError, zlib.error) as exc:
            raise FitsReadError(f"not a readable gzip file: {exc}") from None
    hdus = scan_hdus(raw)
    astropy_file = _AstropyFile(raw)
    try:
        result = _read_hdus(path, len(stored), hdus, astropy_file)
    finally:
        astropy_file.close()
    result.checksum = "md5:" + hashlib.md5(stored, usedforsecurity=False).hexdigest()
    return result


def _read_hdus(path: Path, size: int, hdus: list[RawHdu], astropy_file: _AstropyFile) -> FitsFile:
    result = FitsFile(path=path, size=size, primary=hdus[0].header)
    instrument = result.primary.get("INSTRUME")
    for index, hdu in enumerate(hdus):
        header = hdu.header
        extension = Extension(index=index, name=str(header.get("EXTNAME") or "PRIMARY").strip(),
                              version=header.get("EXTVER"), header=header if index else {})
        if extension.name.upper() == "ASN" and header.get("XTENSION") == "BINTABLE":
            table = astropy_file.hdul()[index]
            extension.rows = _asn_rows(table) if isinstance(table, fits.BinTableHDU) else None
        if is_science_extension(index, header):
            extension.wcs = {key: header[key] for key in WCS_KEYWORDS if key in header}
            extension.shape = _science_shape(header, instrument)
            if extension.shape:
                try:
                    extension.corners = _corners(hdu, index, extension.shape, astropy_file)
                except Exception as exc:  # a broken WCS loses the footprint, not the file
                    result.problems.append(f"HDU {index}: WCS unusable: {exc}")
                if extension.corners is None and not _declares_other_axes(header):
                    result.problems.append(f"HDU {index} ({extension.name}): no celestial WCS")
        result.extensions.append(extension)
    return result
