"""A synthetic HST archive: realistic, deterministic, header-only dataset families.

`write_archive(directory, count, seed)` writes `count` dataset families of ACS, WFC3, STIS,
WFPC2, COS and NICMOS. Each family is one exposure or an association of 2-4 dithered exposures
with its products, in the file set the pipeline delivers (raw, flt, flc, spt, trl, asn, drz...).

The headers are real HST layouts: every file starts from the primary header of a real file of
its instrument bundled in data/hst/science (see data/MANIFEST.md), and only the keywords that
differ between datasets are rewritten: names, pointing, target, proposal, filter, times,
calibration software version and reference files. Science extensions carry a plain TAN WCS
for each chip and SIZAXIS1/2 for the pixel grid; they hold no data, so the archive is small and
fast to read, as header-only package copies of HST files are.

The same (count, seed) gives byte-identical files: the only randomness is random.Random(seed),
and no keyword records the time of writing.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from hstvo.config import PROJECT_ROOT
from loaders.orphans import exit_with_parent

TEMPLATES = PROJECT_ROOT / "data" / "hst" / "science"
HEADER_ONLY = frozenset({"spt", "trl", "shm", "x0m", "q0m"})  # support files: a primary header
DRIZZLED = frozenset({"drz", "drc", "mos"})  # one combined image (here: the first chip's grid)
EXPOSURE_KEYWORDS = ("EXPSTART", "EXPEND", "EXPTIME", "TEXPTIME")
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# keywords of a real SCI header that a synthetic (undistorted, data-less) one must not carry
DISTORTION_KEYWORD = re.compile(r"^(A|B|AP|BP)_|^(CPDIS|CPERR|DP\d|D2IM|NPOL|WCSNAME|O[CR]|S[CN])")


@dataclass(frozen=True)
class Instrument:
    """How one instrument's datasets look: layout, detector, filters, epochs, files."""

    name: str  # INSTRUME
    detector: str
    letter: str  # first letter of its rootnames
    template: str  # bundled file whose primary header is the layout
    chips: tuple[tuple[int, int, float, float], ...]  # per SCI: size x, size y, x and y offset (px)
    scale: float  # arcsec per pixel
    filters: tuple[tuple[str, int | None], ...]  # (filter or grating, CENWAVE)
    exptimes: tuple[float, ...]
    mjd_range: tuple[float, float]  # when it observed
    exposure_files: tuple[str, ...]  # suffixes written per exposure
    product_files: tuple[str, ...]  # suffixes of an association's own products
    calibrated: frozenset[str]  # suffixes with CAL_VER set
    event_files: frozenset[str] = frozenset()  # suffixes written as event tables (no image)
    spectral: bool = False  # its SCI extensions have spectral, not celestial, axes
    association_share: float = 0.4
    cal_versions: tuple[str, ...] = ("1.0",)
    weight: int = 1
    reference_location: str | None = None  # when the template is another instrument's file


INSTRUMENTS = (
    Instrument("ACS", "WFC", "j", "2chipA.fits.gz", ((4096, 2048, 0, 1024), (4096, 2048, 0, -1074)),
               0.05, (("F435W", None), ("F475W", None), ("F555W", None), ("F606W", None),
                      ("F625W", None), ("F775W", None), ("F814W", None), ("F850LP", None)),
               (30.0, 339.0, 400.0, 500.0, 1200.0), (52340.0, 60600.0),
               ("raw", "flt", "flc", "spt", "trl"), ("asn", "drz", "drc"),
               frozenset({"flt", "flc", "drz", "drc"}), weight=4,
               cal_versions=("4.6.1 (13-Mar-2006)", "8.3.5 (03-Aug-2017)", "10.3.5 (13-Apr-2022)")),
    Instrument("WFC3", "UVIS", "i", "2chipC.fits.gz", ((4096, 2051, 0, 1025), (4096, 2051, 0, -1060)),
               0.04, (("F225W", None), ("F275W", None), ("F336W", None), ("F438W", None),
                      ("F555W", None), ("F606W", None), ("F814W", None)),
               (40.0, 170.0, 350.0, 700.0), (55000.0, 60600.0),
               ("raw", "flt", "flc", "spt", "trl"), ("asn", "drz", "drc"),
               frozenset({"flt", "flc", "drz", "drc"}), weight=4,
               cal_versions=("2.1 (15-May-2010)", "3.6.2 (27-May-2021)", "3.7.1 (Oct-18-2023)")),
    Instrument("WFC3", "IR", "i", "sample_ipppssoot_flt.fits.gz", ((1014, 1014, 0, 0),), 0.128,
               (("F105W", None), ("F110W", None), ("F125W", None), ("F140W", None), ("F160W", None)),
               (102.9, 302.9, 699.2), (55000.0, 60600.0),
               ("raw", "ima", "flt", "spt", "trl"), ("asn", "drz"),
               frozenset({"ima", "flt", "drz"}), weight=3,
               cal_versions=("2.1 (15-May-2010)", "3.7.1 (Oct-18-2023)")),
    Instrument("STIS", "CCD", "o", "o4sp040b0_raw.fits", ((1024, 1024, 0, 0),), 0.05,
               (("G430L", 4300), ("G750L", 7751), ("G750M", 6768), ("G430M", 5216)),
               (60.0, 120.0, 600.0, 1800.0), (50500.0, 60600.0),
               ("raw", "flt", "x2d", "x1d", "spt", "trl", "wav"), (), frozenset({"flt", "x2d", "x1d"}),
               spectral=True, association_share=0.0, weight=2,
               cal_versions=("2.27 (26-Jun-2008)", "3.4.2 (19-Jan-2018)")),
    Instrument("COS", "FUV", "l", "o4sp040b0_raw.fits", (), 0.0,
               (("G130M", 1291), ("G130M", 1309), ("G160M", 1600), ("G140L", 1105)),
               (300.0, 900.0, 2000.0), (55000.0, 60600.0),
               ("rawtag_a", "rawtag_b", "corrtag_a", "corrtag_b", "x1d", "spt", "trl"),
               ("asn", "x1dsum"), frozenset({"corrtag_a", "corrtag_b", "x1d", "x1dsum"}),
               event_files=frozenset({"rawtag_a", "rawtag_b", "corrtag_a", "corrtag_b"}),
               spectral=True, association_share=1.0, weight=2, reference_location="lref",
               cal_versions=("2.13.6 (15-Mar-2011)", "3.4.4 (15-Jun-2022)")),
    Instrument("WFPC2", "1", "u", "WFPC2u5780205r_c0fx.fits",
               ((800, 800, 0, 0), (800, 800, -800, 0), (800, 800, -800, -800), (800, 800, 0, -800)), 0.0996,
               (("F300W", None), ("F439W", None), ("F555W", None), ("F606W", None), ("F814W", None)),
               (160.0, 300.0, 500.0, 1000.0), (49000.0, 54590.0),
               ("d0m", "q0m", "c0m", "c1m", "shm", "x0m", "trl"), (), frozenset({"c0m", "c1m"}),
               association_share=0.0, weight=2, cal_versions=("1.4.2 (Nov 30, 1998)", "2.5.1")),
    Instrument("NICMOS", "NIC2", "n", "NICMOSn4hk12010_mos.fits", ((256, 256, 0, 0),), 0.075,
               (("F110W", None), ("F160W", None), ("F222M", None), ("F187N", None)),
               (63.96, 255.9, 511.97), (50500.0, 54430.0),
               ("raw", "ima", "cal", "spt", "trl"), ("asn", "mos"), frozenset({"ima", "cal", "mos"}),
               weight=1, cal_versions=("Version 2.7", "4.1.1")),
)
TARGETS = ("NGC104", "NGC4151", "OMEGACEN", "M31-HALO", "HUDF", "ABELL1689", "M16", "NGC6397",
           "HD101998", "GD71", "BD+17D4708", "SN1987A", "M87", "NGC5139", "ANY", "LMC-FIELD")
INVESTIGATORS = (("Riess", "Adam"), ("Brown", "Thomas"), ("Sabbi", "Elena"), ("Mack", "Jennifer"),
                 ("Bohlin", "Ralph"), ("Leitherer", "Claus"), ("Thompson", "Rodger"),
                 ("Anderson", "Jay"), ("Kalirai", "Jason"), ("Ferguson", "Harry"))


def base36(number: int, width: int) -> str:
    """`number` in base 36, zero-padded to `width` characters (rootname fields)."""
    digits = ""
    for _ in range(width):
        number, digit = divmod(number, 36)
        digits = BASE36[digit] + digits
    return digits


class _Header:
    """A FITS header being written: keyword -> (value, comment) in card order.

    Written out by _card directly: a synthetic archive of a million observations is some five
    million files, and astropy's Header (copied, verified and written per file) took 12 ms a
    file where this takes a few hundredths of one."""

    def __init__(self, cards: list[tuple[str, Any, str]] | None = None) -> None:
        self._cards: dict[str, list] = {keyword: [value, comment]
                                         for keyword, value, comment in cards or ()}

    def copy(self) -> "_Header":
        copied = _Header()
        copied._cards = {keyword: list(card) for keyword, card in self._cards.items()}
        return copied

    def without(self, pattern: re.Pattern) -> "_Header":
        """A copy without the keywords that match `pattern`."""
        kept = _Header()
        kept._cards = {keyword: list(card) for keyword, card in self._cards.items()
                       if not pattern.match(keyword)}
        return kept

    def __setitem__(self, keyword: str, value: Any) -> None:
        """A value (keeping the card's comment), or (value, comment)."""
        if isinstance(value, tuple):
            self._cards[keyword] = list(value)
        elif keyword in self._cards:
            self._cards[keyword][0] = value
        else:
            self._cards[keyword] = [value, ""]

    def update(self, **values: Any) -> None:
        for keyword, value in values.items():
            self[keyword] = value

    def remove(self, keyword: str) -> None:
        self._cards.pop(keyword, None)

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((keyword, card[0]) for keyword, card in self._cards.items())

    def tobytes(self, first: list[tuple[str, Any, str]]) -> bytes:
        """The header's blocks, after the mandatory cards `first` (FITS standard 4.4.1)."""
        leading = {keyword for keyword, _, _ in first}
        images = [_card(k, v, c) for k, v, c in first]
        images += [_card(k, v, c) for k, (v, c) in self._cards.items() if k not in leading]
        return _blocks("".join(images) + "END".ljust(80), b" ")


def _real(value: float) -> str:
    """A real value as FITS writes it: a decimal point always, E for the exponent, 20 columns
    at most (FITS standard 4.2.4)."""
    text = repr(float(value)).upper()
    precision = 16
    while len(text) > 20:
        text = f"{value:.{precision}G}"
        precision -= 1
    mantissa, e, exponent = text.partition("E")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


@lru_cache(maxsize=1 << 16, typed=True)  # most cards are the template's, file after file
def _card(keyword: str, value: Any, comment: str = "") -> str:
    """One 80-character card in the fixed format (FITS standard 4.2): strings quoted from
    column 11, other values right-aligned to column 30."""
    if isinstance(value, (bool, np.bool_)):
        text = f"{'T' if value else 'F':>20}"
    elif isinstance(value, (int, np.integer)):
        text = f"{int(value):>20}"
    elif isinstance(value, (float, np.floating)):
        text = f"{_real(value):>20}"
    else:
        escaped = str(value).replace("'", "''")
        if len(escaped) > 68:
            return _long_string(keyword, escaped)
        text = f"{chr(39) + f'{escaped:<8}' + chr(39):<20}"
    card = f"{keyword:<8}= {text}"
    if comment:
        card = f"{card} / {comment}"[:80]
    return f"{card:<80}"


def _long_string(keyword: str, escaped: str) -> str:
    """A string longer than a card, over CONTINUE cards (FITS standard 4.2.1.2): each part
    but the last ends with '&'. (Its comment is left out.)"""
    parts = [escaped[i:i + 67] for i in range(0, len(escaped), 67)]
    cards = [f"{keyword:<8}= '{parts[0]}&'"] + [f"CONTINUE  '{part}&'" for part in parts[1:]]
    cards[-1] = cards[-1][:-2] + "'"  # the last part has no '&'
    return "".join(f"{card:<80}" for card in cards)


def _blocks(text: str | bytes, fill: bytes) -> bytes:
    """Padded to whole 2880-byte FITS blocks."""
    data = text.encode("ascii") if isinstance(text, str) else text
    return data + fill * (-len(data) % 2880)


PRIMARY_FIRST = [("SIMPLE", True, "conforms to FITS standard"), ("BITPIX", 8, "array data type"),
                 ("NAXIS", 0, "number of array dimensions"), ("EXTEND", True, "")]
IMAGE_FIRST = [("XTENSION", "IMAGE", "Image extension"), ("BITPIX", 8, "array data type"),
               ("NAXIS", 0, "number of array dimensions"), ("PCOUNT", 0, "number of parameters"),
               ("GCOUNT", 1, "number of groups")]
# the structural cards a template's header has and a data-less synthetic one must not
STRUCTURAL = re.compile(r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|GROUPS)$")


def _table(columns: list[tuple[str, str, str]], rows: list[bytes], row_bytes: int,
           extra: list[tuple[str, Any, str]]) -> bytes:
    """A binary table extension (FITS standard 7.3): columns (name, TFORM, unit) and its rows
    already in FITS byte order."""
    cards = [("XTENSION", "BINTABLE", "binary table extension"), ("BITPIX", 8, "array data type"),
             ("NAXIS", 2, "number of array dimensions"), ("NAXIS1", row_bytes, "length of dimension 1"),
             ("NAXIS2", len(rows), "length of dimension 2"),
             ("PCOUNT", 0, "number of group parameters"), ("GCOUNT", 1, "number of groups"),
             ("TFIELDS", len(columns), "number of table fields")]
    for n, (name, form, unit) in enumerate(columns, start=1):
        cards += [(f"TTYPE{n}", name, ""), (f"TFORM{n}", form, "")]
        cards += [(f"TUNIT{n}", unit, "")] if unit else []
    header = _Header().tobytes(cards + extra)
    return header + (_blocks(b"".join(rows), b"\0") if rows else b"")


@lru_cache(maxsize=None)
def _template(name: str) -> tuple[_Header, _Header | None]:
    """The primary header of a bundled real file, and its first SCI header if any, without
    their structural, commentary and blank cards (a synthetic file has no data)."""
    with fits.open(TEMPLATES / name) as hdul:
        primary = _template_cards(hdul[0].header)
        sci = next((_template_cards(hdu.header) for hdu in hdul[1:]
                    if str(hdu.header.get("EXTNAME", "")).strip() == "SCI"), None)
    return primary, sci


def _template_cards(header: fits.Header) -> _Header:
    return _Header([(card.keyword, card.value, card.comment) for card in header.cards
                    if card.keyword not in ("HISTORY", "COMMENT", "", "CONTINUE", "END")
                    and not STRUCTURAL.match(card.keyword)
                    and isinstance(card.value, (str, bool, int, float))])


@dataclass
class Exposure:
    """One exposure (or an association product) of a family: what varies between datasets."""

    rootname: str
    ra: float
    dec: float
    orientation: float  # degrees east of north of the detector y axis
    start: float  # MJD
    exptime: float


def _reference_value(value: str, rng_token: str) -> str:
    """jref$p3v2228mj_bia.fits -> jref$<token>j_bia.fits: same location, type and instrument."""
    location, _, name = value.partition("$")
    if not name or name.lower() == "n/a" or len(name) < 9:
        return value
    return f"{location}${rng_token}{name[8:]}"


def _reference_files(primary: _Header, instrument: Instrument, start: float) -> dict[str, str]:
    """Reference files in use at `start`: one set per instrument, detector and year, as CRDS
    delivers new ones now and then (so datasets of one year share their reference files)."""
    epoch = int((start - instrument.mjd_range[0]) // 365)
    out = {}
    for keyword, value in primary.items():
        if isinstance(value, str) and re.match(r"^[a-z][a-z0-9]*\$", value.strip()):
            token_rng = random.Random(f"{instrument.name}/{instrument.detector}/{keyword}/{epoch}")
            token = "".join(token_rng.choice(BASE36) for _ in range(8))
            value = _reference_value(value.strip(), token)
            if instrument.reference_location:
                value = instrument.reference_location + value[value.index("$"):]
            out[keyword] = value
    return out


def _primary_header(instrument: Instrument, exposure: Exposure, suffix: str, family: dict,
                    asn_id: str, member_type: str) -> _Header:
    template, _ = _template(instrument.template)
    header = template.copy()
    end = exposure.start + (exposure.exptime + 3.0) / 86400.0
    day = _mjd_to_date(exposure.start)
    values = {
        "FILENAME": f"{exposure.rootname}_{suffix}.fits", "ROOTNAME": exposure.rootname,
        "INSTRUME": instrument.name, "TARGNAME": family["target"],
        "RA_TARG": family["ra"], "DEC_TARG": family["dec"],
        "PROPOSID": family["proposal"], "PR_INV_L": family["pi"][0], "PR_INV_F": family["pi"][1],
        "DATE-OBS": day[0], "TIME-OBS": day[1], "EXPSTART": round(exposure.start, 8),
        "EXPEND": round(end, 8), "EXPTIME": exposure.exptime,
        "ASN_ID": asn_id.upper(), "ASN_TAB": f"{asn_id}_asn.fits" if asn_id != "NONE" else "",
        "ASN_MTYP": member_type, "DATE": day[0], "NEXTEND": 0,
        "CAL_VER": family["cal_ver"] if suffix in instrument.calibrated else "",
        "OBSTYPE": "SPECTROSCOPIC" if instrument.spectral else "IMAGING",
    }
    filter_name, cenwave = family["filter"]
    if instrument.name == "ACS":
        values.update(FILTER1=filter_name, FILTER2="CLEAR2L", DETECTOR=instrument.detector)
    elif instrument.name == "WFPC2":
        values.update(FILTNAM1=filter_name, FILTNAM2="", DETECTOR=1)
    elif instrument.name == "NICMOS":
        values.update(FILTER=filter_name, CAMERA=2)
    elif instrument.spectral:
        values.update(OPT_ELEM=filter_name, CENWAVE=cenwave, DETECTOR=instrument.detector,
                      TEXPTIME=exposure.exptime)
    else:
        values.update(FILTER=filter_name, DETECTOR=instrument.detector)
    values.update(family["reference_files"])
    for keyword, value in values.items():
        # (a HAP mosaic's names are long: their cards keep no comment rather than a cut one)
        header[keyword] = (value, "") if keyword in ("FILENAME", "ROOTNAME") \
            and value.startswith("hst_") else value
    if instrument.spectral:
        # STIS and COS keep the exposure's times in the science extensions only
        for keyword in EXPOSURE_KEYWORDS:
            header.remove(keyword)
    return header


def _mjd_to_date(mjd: float) -> tuple[str, str]:
    """('YYYY-MM-DD', 'hh:mm:ss') of an MJD (UTC), without the clock of the machine."""
    days = int(mjd)
    seconds = round((mjd - days) * 86400.0)
    date = np.datetime64("1858-11-17") + np.timedelta64(days, "D")
    hours, rest = divmod(min(seconds, 86399), 3600)
    return str(date), f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _sci_header(instrument: Instrument, exposure: Exposure, chip: int) -> _Header:
    """A SCI extension: the template's keywords without distortion, a TAN WCS for this chip."""
    _, template = _template(instrument.template)
    header = template.without(DISTORTION_KEYWORD) if template is not None else _Header()
    size_x, size_y, offset_x, offset_y = instrument.chips[chip]
    header["EXTNAME"] = "SCI"
    header["EXTVER"] = chip + 1
    header["CCDCHIP"] = chip + 1
    header["SIZAXIS1"], header["SIZAXIS2"] = size_x, size_y
    header["EXPSTART"] = round(exposure.start, 8)
    header["EXPEND"] = round(exposure.start + (exposure.exptime + 3.0) / 86400.0, 8)
    header["EXPTIME"] = exposure.exptime
    if instrument.spectral:
        header.update(WCSAXES=2, CTYPE1="LAMBDA", CTYPE2="ANGLE", CRPIX1=size_x / 2,
                      CRPIX2=size_y / 2, CRVAL1=float(size_x), CRVAL2=0.0, CD1_1=0.554,
                      CD1_2=0.0, CD2_1=0.0, CD2_2=1.38889e-05)
        return header
    scale = instrument.scale / 3600.0
    theta = math.radians(exposure.orientation)
    header.update(
        WCSAXES=2, CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CUNIT1="deg", CUNIT2="deg",
        CRPIX1=size_x / 2 + 0.5 - offset_x, CRPIX2=size_y / 2 + 0.5 - offset_y,
        CRVAL1=exposure.ra, CRVAL2=exposure.dec,
        CD1_1=-scale * math.cos(theta), CD1_2=scale * math.sin(theta),
        CD2_1=scale * math.sin(theta), CD2_2=scale * math.cos(theta),
        ORIENTAT=round(exposure.orientation, 4))
    return header


def _asn_table(asn_id: str, members: list[str], product_suffix: str | None) -> bytes:
    names = [m.upper() for m in members] + ([asn_id.upper()] if product_suffix else [])
    types = ["EXP-DTH"] * len(members) + (["PROD-DTH"] if product_suffix else [])
    rows = [name.ljust(14).encode("ascii") + kind.ljust(14).encode("ascii") + b"T"
            for name, kind in zip(names, types)]
    return _table([("MEMNAME", "14A", ""), ("MEMTYPE", "14A", ""), ("MEMPRSNT", "L", "")],
                  rows, 29, [("EXTNAME", "ASN", "")])


def _event_table(exposure: Exposure) -> bytes:
    """COS time-tag events (none: the file is header-only), with the exposure's times."""
    return _table([("TIME", "E", "s"), ("RAWX", "I", ""), ("RAWY", "I", "")], [], 8,
                  [("EXTNAME", "EVENTS", ""), ("EXPSTART", round(exposure.start, 8), ""),
                   ("EXPEND", round(exposure.start + (exposure.exptime + 3.0) / 86400.0, 8), ""),
                   ("EXPTIME", exposure.exptime, "")])


def _write_file(path: Path, instrument: Instrument, exposure: Exposure, suffix: str,
                family: dict, asn_id: str, member_type: str, members: list[str]) -> Path:
    primary = _primary_header(instrument, exposure, suffix, family, asn_id, member_type)
    extensions: list[bytes] = []
    if suffix == "asn":
        extensions.append(_asn_table(asn_id, members, instrument.product_files[1]
                                     if len(instrument.product_files) > 1 else None))
    elif suffix in HEADER_ONLY:
        pass
    elif suffix in instrument.event_files or not instrument.chips:
        extensions.append(_event_table(exposure))  # COS: time-tag events, or a 1-D spectrum table
    else:
        chips = instrument.chips[:1] if suffix in DRIZZLED else instrument.chips
        extensions += [_sci_header(instrument, exposure, chip).tobytes(IMAGE_FIRST)
                       for chip in range(len(chips))]
    primary["NEXTEND"] = len(extensions)
    if not extensions and instrument.spectral and suffix != "asn":
        # a support file of a spectrograph: the exposure keywords stay in its primary header
        primary.update(EXPSTART=round(exposure.start, 8), EXPTIME=exposure.exptime,
                       EXPEND=round(exposure.start + (exposure.exptime + 3.0) / 86400.0, 8))
    path.write_bytes(primary.tobytes(PRIMARY_FIRST) + b"".join(extensions))
    return path


def _family(rng: random.Random, index: int) -> tuple[Instrument, dict]:
    instrument = rng.choices(INSTRUMENTS, weights=[i.weight for i in INSTRUMENTS])[0]
    start = rng.uniform(*instrument.mjd_range)
    pi = rng.choice(INVESTIGATORS)
    family = {
        "target": rng.choice(TARGETS),
        "ra": round(rng.uniform(0.0, 360.0), 6),
        "dec": round(math.degrees(math.asin(rng.uniform(-1.0, 1.0))), 6),
        "proposal": 5000 + (index * 7919 + rng.randrange(100)) % 12000,
        "pi": pi, "filter": rng.choice(instrument.filters),
        "start": start, "exptime": rng.choice(instrument.exptimes),
        "orientation": rng.uniform(0.0, 360.0),
        "cal_ver": instrument.cal_versions[min(len(instrument.cal_versions) - 1,
                                               int(rng.random() * len(instrument.cal_versions)))],
    }
    # ipppssoot: the family's index is its program (ppp) and, past 36^3 families, its visit
    # (ss): a million observations' names stay unique
    family["visit"] = base36(1 + index // 36 ** 3, 2)
    family["reference_files"] = _reference_files(_template(instrument.template)[0], instrument, start)
    return instrument, family


def hap_mosaic_name(instrument: Instrument, family: dict, program: str) -> str:
    """HAP's single-visit mosaic name of a family's visit (sql/55_hst_single_visit.sql's rule:
    proposal, visit, instrument, detector, filter, ipppss)."""
    return (f"hst_{family['proposal']}_{family['visit']}_{instrument.name.lower()}_"
            f"{instrument.detector.lower()}_{family['filter'][0].lower()}_{program}{family['visit']}")


def _write_mosaic(family_dir: Path, instrument: Instrument, family: dict, program: str,
                  exposures: list, members: list[str]) -> Path | None:
    """The HAP single-visit mosaic of an ACS or WFC3 visit: _drc when its exposures have a
    CTE-corrected _flc, else _drz; the visit's combined image on the first chip's grid."""
    if instrument.name not in ("ACS", "WFC3"):
        return None
    suffix = "drc" if "flc" in instrument.exposure_files else "drz"
    name = hap_mosaic_name(instrument, family, program)
    product = Exposure(rootname=name, ra=exposures[0].ra, dec=exposures[0].dec,
                       orientation=family["orientation"], start=exposures[0].start,
                       exptime=sum(e.exptime for e in exposures))
    return _write_file(family_dir / f"{name}_{suffix}.fits", instrument, product, suffix, family,
                       "NONE", "", members)


def write_family(directory: Path, rng: random.Random, index: int,
                 hap_mosaics: bool = False) -> list[Path]:
    """Write dataset family `index` (one exposure or an association) into `directory`, with
    its visit's HAP single-visit mosaic when `hap_mosaics` (ACS and WFC3)."""
    instrument, family = _family(rng, index)
    program = instrument.letter + base36(index, 3)
    associated = rng.random() < instrument.association_share
    count = rng.randint(2, 4) if associated else 1
    exposures = []
    for n in range(count):
        # a small dither: a few arcseconds between exposures of one association
        dither = n * 2.5 / 3600.0
        last = "q" if instrument.name != "STIS" else "0"
        exposures.append(Exposure(
            rootname=f"{program}{family['visit']}{base36(10 * 36 + n + 1, 2)}{last}",
            ra=(family["ra"] + dither / max(0.05, math.cos(math.radians(family["dec"])))) % 360.0,
            dec=max(-89.9, min(89.9, family["dec"] + dither)), orientation=family["orientation"],
            start=family["start"] + n * (family["exptime"] + 120.0) / 86400.0,
            exptime=family["exptime"]))
    asn_id = f"{program}{family['visit']}010" if associated else "NONE"
    written = []
    family_dir = directory / program
    family_dir.mkdir(parents=True, exist_ok=True)
    members = [e.rootname for e in exposures]
    for exposure in exposures:
        for suffix in instrument.exposure_files:
            written.append(_write_file(family_dir / f"{exposure.rootname}_{suffix}.fits",
                                       instrument, exposure, suffix, family, asn_id,
                                       "EXP-DTH" if associated else "", members))
    if associated:
        product = Exposure(rootname=asn_id, ra=exposures[0].ra, dec=exposures[0].dec,
                           orientation=family["orientation"], start=exposures[0].start,
                           exptime=sum(e.exptime for e in exposures))
        for suffix in instrument.product_files:
            written.append(_write_file(family_dir / f"{asn_id}_{suffix}.fits", instrument,
                                       product, suffix, family, asn_id,
                                       "PROD-DTH" if suffix != "asn" else "", members))
    if hap_mosaics:
        mosaic = _write_mosaic(family_dir, instrument, family, program, exposures, members)
        written += [mosaic] if mosaic else []
    return written


def write_archive(directory: str | Path, count: int, seed: int = 1,
                  progress: Callable[[int], None] | None = None,
                  hap_mosaics: bool = False) -> list[Path]:
    """Write `count` dataset families under `directory`; returns the files written.
    `progress`, when given, is called with the number of files each family added;
    `hap_mosaics` adds each ACS and WFC3 visit's HAP single-visit mosaic.

    Deterministic: the same count and seed give the same files, byte for byte.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written: list[Path] = []
    for index in range(count):
        family = write_family(directory, rng, index, hap_mosaics)
        written += family
        if progress is not None:
            progress(len(family))
    return written


STREAM_CHECKPOINT = ".synth-stream.json"
# the layout of the files written (bumped when the same seed would write other bytes): a
# benchmark keeping an archive between runs writes it again when this changes
FORMAT = 2


def _write_chunk(directory: Path, rng: random.Random, start: int, end: int,
                 hap_mosaics: bool) -> tuple[list[Path], random.Random]:
    """Families start..end-1 into directory/chunk-<start>/, from the generator as it stands
    after family start - 1; returns the files and the generator after them."""
    target = directory / f"chunk-{start:08d}"
    shutil.rmtree(target, ignore_errors=True)  # a chunk cut off halfway is written again
    files: list[Path] = []
    for index in range(start, end):
        files += write_family(target, rng, index, hap_mosaics)
    return files, rng


def stream_progress(directory: str | Path) -> dict[str, Any]:
    """How far the stream in `directory` got: families, files, seconds (summed over every run),
    seed, hap_mosaics and the generator's state; zeros before its first chunk."""
    checkpoint = Path(directory) / STREAM_CHECKPOINT
    if not checkpoint.exists():
        return {"families": 0, "files": 0, "seconds": 0.0}
    return json.loads(checkpoint.read_text())


def stream_archive(directory: str | Path, count: int, seed: int, chunk: int,
                   store: Callable[[list[Path]], None], keep: bool = False,
                   hap_mosaics: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> int:
    """Write the archive write_archive would, `chunk` families at a time, handing each chunk's
    files to `store` (an ingest) and then removing them unless `keep`: an archive of millions
    of files in the disk of two chunks. Returns the families written by this call.

    The next chunk is written by a process of its own while `store` takes the current one.
    Resumable: after each stored chunk, `directory`/.synth-stream.json records how far it got
    (and the random generator's state), and a later call with the same seed goes on from
    there. A chunk cut off halfway is written and stored again (an ingest of the same files
    changes nothing). `progress` is called with the families and files of each chunk.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng, saved = random.Random(seed), stream_progress(directory)
    done, seconds, files_written = saved["families"], saved["seconds"], saved["files"]
    if "rng_state" in saved:
        if (saved["seed"], saved["hap_mosaics"]) != (seed, hap_mosaics):
            raise ValueError(f"{directory} holds a stream of seed {saved['seed']}"
                             f"{' with' if saved['hap_mosaics'] else ' without'} HAP mosaics: "
                             "give the same, or another directory")
        version, state, gauss = saved["rng_state"]
        rng.setstate((version, tuple(state), gauss))
    for leftover in directory.glob("chunk-*"):  # written ahead, never stored: written again
        if not keep or int(leftover.name.split("-")[1]) >= done:
            shutil.rmtree(leftover, ignore_errors=True)
    started, clock = done, time.perf_counter()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=exit_with_parent,
                             initargs=(os.getpid(),)) as writer:
        ahead = writer.submit(_write_chunk, directory, rng, done, min(count, done + chunk),
                              hap_mosaics) if done < count else None
        while ahead is not None:
            files, rng = ahead.result()
            upto = min(count, done + chunk)
            ahead = writer.submit(_write_chunk, directory, rng, upto, min(count, upto + chunk),
                                  hap_mosaics) if upto < count else None
            store(files)
            if not keep:
                shutil.rmtree(directory / f"chunk-{done:08d}")
            if progress is not None:
                progress(upto - done, len(files))
            done = upto
            files_written += len(files)
            now = time.perf_counter()
            seconds, clock = seconds + now - clock, now
            # (written aside and renamed: a run killed while writing it keeps the last one)
            pending = directory / (STREAM_CHECKPOINT + ".new")
            pending.write_text(json.dumps({"seed": seed, "hap_mosaics": hap_mosaics,
                                           "families": done, "files": files_written,
                                           "seconds": round(seconds, 1),  # over every call
                                           "rng_state": rng.getstate()}))
            os.replace(pending, directory / STREAM_CHECKPOINT)
    return done - started
