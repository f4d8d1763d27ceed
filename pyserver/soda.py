"""SODA 1.0 sync cutouts at /soda/sync (GET and POST).

    /soda/sync?ID=caom:HST/j8bt05njq/j8bt05njq_raw&POS=CIRCLE 6.02 -72.08 0.001

ID names a plane as DataLink does (its CAOM URI or publisher DID). The sky filters are POS
(CIRCLE ra dec radius, RANGE ra1 ra2 dec1 dec2, POLYGON ra1 dec1 ...), CIRCLE and POLYGON, all
ICRS degrees; several combine into their common region. BAND (metres), TIME (MJD) and POL
select whole planes: a plane outside them is NoOverlap. Every science extension that overlaps
the region is cut (astropy's Cutout2D, its WCS kept right), with the ERR and DQ extensions of
the same EXTVER; the result is a FITS file with the original primary header. Pixels are read
through HDU sections of a memory-mapped file, so a large file costs no more memory than the
cutout (a gzipped file is read through, but not held).
"""

from __future__ import annotations

import asyncio
import io
import math
import warnings

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .files import inside_file_roots, refused
from .identity import reading

CIRCLE_POINTS = 36  # vertices of the polygon a circle is cut as
RANGE_SAMPLES = 65  # pixels sampled along each axis to find what a RANGE contains
# SODA 1.0 section 3.3.6 (the states of ObsCore pol_states)
POLARIZATION_STATES = ("I", "Q", "U", "V", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX",
                       "POLI", "POLA")


class SodaError(Exception):
    """A SODA error: the message starts with its kind (UsageError, NoOverlap, NotFound)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _numbers(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise SodaError(f"UsageError: {name}={text} is not a list of numbers") from None


def sky_shape(name: str, value: str) -> tuple[str, list[float]]:
    """A POS, CIRCLE or POLYGON value as ('circle', [ra, dec, r]), ('range', [...]) or
    ('polygon', [...])."""
    if name == "POS":
        kind, _, rest = value.strip().partition(" ")
        kind = kind.upper()
        if kind not in ("CIRCLE", "RANGE", "POLYGON"):
            raise SodaError(f"UsageError: POS={value}: use CIRCLE, RANGE or POLYGON")
        return sky_shape(kind, rest) if kind != "RANGE" else ("range", _range(rest))
    numbers = _numbers(value, name)
    if not all(math.isfinite(n) for n in numbers):
        raise SodaError(f"UsageError: {name}={value}: coordinates are finite numbers")
    if name == "CIRCLE":
        if len(numbers) != 3 or numbers[2] <= 0 or not -90 <= numbers[1] <= 90:
            raise SodaError(f"UsageError: CIRCLE={value}: ra dec radius (degrees, radius > 0)")
        return ("circle", numbers)
    if len(numbers) < 6 or len(numbers) % 2:
        raise SodaError(f"UsageError: POLYGON={value}: at least three ra dec pairs")
    return ("polygon", numbers)


def _range(text: str) -> list[float]:
    """RANGE ra1 ra2 dec1 dec2 (DALI: +Inf and -Inf are open ends)."""
    usage = f"UsageError: RANGE {text}: ra1 ra2 dec1 dec2 in degrees, each pair in order"
    try:
        numbers = [float(v) for v in text.split()]
    except ValueError:
        raise SodaError(usage) from None
    if len(numbers) != 4 or any(math.isnan(n) for n in numbers) \
            or numbers[0] > numbers[1] or numbers[2] > numbers[3]:
        raise SodaError(usage)
    return numbers


def interval(text: str, name: str) -> list[float]:
    """A BAND or TIME value: DALI's interval, two numbers, lower first."""
    numbers = _numbers(text, name)
    if len(numbers) != 2 or any(math.isnan(n) for n in numbers) or numbers[0] > numbers[1]:
        raise SodaError(f"UsageError: {name}={text}: an interval is two numbers, lower first")
    return numbers


def polarization(text: str) -> str:
    """A POL value: one of the polarization states SODA 1.0 names (exactly, not a pattern)."""
    state = text.strip().upper()
    if state not in POLARIZATION_STATES:
        raise SodaError(f"UsageError: POL={text}: use one of {' '.join(POLARIZATION_STATES)}")
    return state


def outline(shape: tuple[str, list[float]]) -> np.ndarray:
    """A circle or polygon as sky vertices (N x 2, degrees) to map into pixels (a range is
    found from the pixels instead: _range_box)."""
    kind, numbers = shape
    if kind == "polygon":
        return np.array(numbers).reshape(-1, 2)
    ra, dec, radius = numbers
    angles = np.linspace(0, 2 * np.pi, CIRCLE_POINTS, endpoint=False)
    # a small circle on the sphere: offsets along the local east and north directions
    decs = dec + radius * np.sin(angles)
    ras = ra + radius * np.cos(angles) / max(np.cos(np.radians(dec)), 1e-6)
    return np.column_stack([ras % 360, np.clip(decs, -90, 90)])


def _range_box(wcs: WCS, numbers: list[float], shape: tuple[int, int]):
    """The pixel bounding box of the image's pixels that lie in an RA/Dec range (a range can
    hold the whole image, or the whole sky: its outline says nothing then); None when none do.
    Pixels are sampled on a grid, and the box grows by one grid step to hold the edges."""
    ra1, ra2, dec1, dec2 = numbers
    ys = np.linspace(0, shape[0] - 1, min(RANGE_SAMPLES, shape[0]))
    xs = np.linspace(0, shape[1] - 1, min(RANGE_SAMPLES, shape[1]))
    x, y = np.meshgrid(xs, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra, dec = wcs.all_pix2world(x.ravel(), y.ravel(), 0)
    ra = np.mod(ra, 360.0)
    inside = (dec >= dec1) & (dec <= dec2) & (
        (ra >= ra1) & (ra <= ra2) if ra2 - ra1 < 360 else np.isfinite(ra))
    if not inside.any():
        return None
    step_x, step_y = xs[1] - xs[0] if len(xs) > 1 else 1, ys[1] - ys[0] if len(ys) > 1 else 1
    px, py = x.ravel()[inside], y.ravel()[inside]
    return (max(int(np.floor(px.min() - step_x)), 0), min(int(np.ceil(px.max() + step_x)), shape[1] - 1),
            max(int(np.floor(py.min() - step_y)), 0), min(int(np.ceil(py.max() + step_y)), shape[0] - 1))


def _shape_box(wcs: WCS, shape_of_sky: tuple[str, list[float]], shape: tuple[int, int]):
    """The pixel box of one sky shape on an image, None when it misses the image."""
    if shape_of_sky[0] == "range":
        return _range_box(wcs, shape_of_sky[1], shape)
    return _pixel_box(wcs, outline(shape_of_sky), shape)


def _pixel_box(wcs: WCS, vertices: np.ndarray, shape: tuple[int, int]):
    """The pixel bounding box (x0, x1, y0, y1, inclusive) of the vertices, clipped to the image;
    None when they miss it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = wcs.all_world2pix(vertices[:, 0], vertices[:, 1], 0)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return None
    x0, x1 = max(int(np.floor(x.min())), 0), min(int(np.ceil(x.max())), shape[1] - 1)
    y0, y1 = max(int(np.floor(y.min())), 0), min(int(np.ceil(y.max())), shape[0] - 1)
    if x0 > x1 or y0 > y1:
        return None
    return x0, x1, y0, y1


def _image_shape(hdu) -> tuple[int, int] | None:
    """(rows, columns) of a 2-D image extension, from its header (the data stays on disk)."""
    header = hdu.header
    if header.get("NAXIS") != 2 or not header.get("NAXIS1") or not header.get("NAXIS2"):
        return None
    return header["NAXIS2"], header["NAXIS1"]


def _scaled(hdu, rows: slice, columns: slice) -> np.ndarray:
    """The pixels of a section, with BSCALE/BZERO applied (unsigned integers stay integers)."""
    raw = np.array(hdu.section[rows, columns])
    scale, zero = hdu.header.get("BSCALE", 1), hdu.header.get("BZERO", 0)
    for keyword in ("BSCALE", "BZERO", "BLANK"):
        hdu.header.remove(keyword, ignore_missing=True)
    if scale == 1 and zero == 0:
        return raw
    if scale == 1 and raw.dtype.kind == "i" and zero == 2 ** (8 * raw.dtype.itemsize - 1):
        return (raw.astype(np.int64) + zero).astype(f"u{raw.dtype.itemsize}")  # FITS unsigned
    return raw * scale + zero


def cut(path: str, shapes: list[tuple[str, list[float]]]) -> bytes:
    """The cutout of every science extension of the file that overlaps all the shapes. Pixels
    are read through HDU sections: only the cutout's rows leave the disk (memory-mapped for a
    plain file), and scaled integer data (BZERO/BSCALE) comes out scaled."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (AstropyWarning, FITSFixedWarning))
        # unscaled: memory-mapping refuses BZERO/BSCALE data, so the piece is scaled here
        with fits.open(path, memmap=True, do_not_scale_image_data=True) as hdus:
            out = [fits.PrimaryHDU(header=hdus[0].header)]
            for hdu in hdus:
                shape = _image_shape(hdu)
                if hdu.name != "SCI" or shape is None:
                    continue
                wcs = WCS(hdu.header, hdus)
                boxes = [_shape_box(wcs, s, shape) for s in shapes]
                if any(b is None for b in boxes):
                    continue
                x0, x1 = max(b[0] for b in boxes), min(b[1] for b in boxes)
                y0, y1 = max(b[2] for b in boxes), min(b[3] for b in boxes)
                if x0 > x1 or y0 > y1:
                    continue
                rows, columns = slice(y0, y1 + 1), slice(x0, x1 + 1)
                piece_wcs = wcs.slice((rows, columns))  # CRPIX moved with the corner
                version = hdu.header.get("EXTVER", 1)
                for companion in hdus:
                    if companion.name in ("SCI", "ERR", "DQ") and \
                            companion.header.get("EXTVER", 1) == version and \
                            _image_shape(companion) == shape:
                        header = companion.header.copy()
                        header.update(piece_wcs.to_header(relax=True))
                        out.append(fits.ImageHDU(_scaled(companion, rows, columns), header=header))
            if len(out) == 1:
                raise SodaError("NoOverlap: the region does not overlap the data of this product")
            buffer = io.BytesIO()
            fits.HDUList(out).writeto(buffer)
            return buffer.getvalue()


async def _parameters(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    for key, value in items:
        params.setdefault(key.upper(), []).append(value)
    return params


async def soda_sync(request: Request) -> Response:
    """GET/POST /soda/sync."""
    try:
        params = await _parameters(request)
        ids = params.get("ID", [])
        if len(ids) != 1:
            raise SodaError("UsageError: give exactly one ID (a plane URI or publisher DID)")
        shapes = [sky_shape(name, value) for name in ("POS", "CIRCLE", "POLYGON")
                  for value in params.get(name, [])]
        bands = [interval(b, "BAND") for b in params.get("BAND", [])]
        times = [interval(t, "TIME") for t in params.get("TIME", [])]
        pols = [polarization(p) for p in params.get("POL", [])]
        async with reading(request) as conn:
            cursor = await conn.execute("SELECT * FROM hstvo.soda_target(%s, %s, %s, %s)", (
                ids[0], bands or None, times or None, pols or None))
            target = await cursor.fetchone()
            path = await inside_file_roots(conn, target[0] if target else None)
        if path is None:
            raise SodaError(f"NotFound: no data product with ID {ids[0]}", status=404)
        _, overlaps, why, access = target
        if access == "denied":
            return refused(request, f"AuthorizationError: the data of {ids[0]} are proprietary")
        if not overlaps:
            raise SodaError(f"NoOverlap: {why}")
        if not shapes:
            raise SodaError("UsageError: give POS, CIRCLE or POLYGON: this service cuts images")
        data = await asyncio.to_thread(cut, path, shapes)
    except SodaError as exc:
        return PlainTextResponse(str(exc) + "\n", status_code=exc.status)
    return Response(data, media_type="application/fits",
                    headers={"Content-Disposition": 'inline; filename="cutout.fits"'})
