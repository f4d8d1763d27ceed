"""/preview and /thumbnail: quick-look PNGs of the archive's files, made from their FITS data on
first request and cached (DataLink lists them as #preview and #thumbnail).

    GET /preview/{file_name}     512 pixels on the long side
    GET /thumbnail/{file_name}   128 pixels

An image is the first extension with two or more axes of pixels (SCI first), shown with an
asinh stretch between its 0.5th and 99.5th percentiles (as DS9's and STScI's quick looks do);
a spectrum (one axis, or a table with WAVELENGTH and FLUX columns) is drawn as a plot; a file
with no data (HST keeps many header-only products) gets a placeholder that says so. Access is
the file's: a proprietary file's preview is as closed as the file (hstvo.file_access).

The cache lies under HSTVO_STORAGE/previews, one PNG per file checksum and size: a
recalibrated file (a new checksum) gets a new preview, and an old one is never served for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from hstvo.config import load_settings

from .files import SAFE_NAME, inside_file_roots, refused
from .identity import caller_of, reading

log = logging.getLogger("hstvo.previews")

SIZES = {"preview": 512, "thumbnail": 128}
STRETCH_PERCENTILES = (0.5, 99.5)
ASINH_SOFTENING = 0.1  # of the range: the stretch is linear below, logarithmic above
MIN_PIXELS = 8  # a smaller image is a stub, shown as a placeholder that says its size
MAX_PIXELS_READ = 64_000_000  # a bigger image is read with a stride (memory stays bounded)


def image_array(data: np.ndarray) -> np.ndarray:
    """8-bit grey levels (0 black) of a 2-D array: asinh stretch between percentiles."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros(data.shape, dtype=np.uint8)
    low, high = np.percentile(finite, STRETCH_PERCENTILES)
    if high <= low:
        high = low + 1
    scaled = np.clip((np.nan_to_num(data, nan=low) - low) / (high - low), 0, 1)
    stretched = np.arcsinh(scaled / ASINH_SOFTENING) / np.arcsinh(1 / ASINH_SOFTENING)
    # FITS rows go up; images' rows go down
    return (np.flipud(stretched) * 255).astype(np.uint8)


def _image(data: np.ndarray, size: int):
    from PIL import Image

    while data.ndim > 2:  # a cube: its first plane
        data = data[0]
    finite = data[np.isfinite(data)]
    if finite.size == 0 or finite.min() == finite.max():  # nothing a stretch could show
        return _placeholder(size, "a flat image" + (f": every pixel {finite.min():g}" if finite.size else ""))
    picture = Image.fromarray(image_array(data.astype(np.float64)), mode="L")
    picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    if max(picture.size) < size:  # a small image is enlarged so that its pixels show
        scale = size / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * scale)),
                                  max(1, round(picture.height * scale))), Image.Resampling.NEAREST)
    return picture


def _plot(x: np.ndarray, y: np.ndarray, size: int, x_label: str):
    """A line plot of y against x, as a spectrum is looked at."""
    from PIL import Image, ImageDraw

    width, height = size, max(64, size * 5 // 8)
    margin = max(4, size // 16)
    picture = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(picture)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return _placeholder(size, "a spectrum with no finite values")
    low, high = np.percentile(y, (0.5, 99.5))
    high = high if high > low else low + 1
    xs = margin + (x - x.min()) / max(np.ptp(x), 1e-30) * (width - 2 * margin)
    ys = height - margin - (np.clip(y, low, high) - low) / (high - low) * (height - 2 * margin)
    draw.rectangle([margin - 1, margin - 1, width - margin, height - margin], outline=160)
    draw.line(list(zip(xs.tolist(), ys.tolist())), fill=0, width=1)
    if size >= 256:
        draw.text((margin, height - margin + 1), f"{x_label} {x.min():.6g} to {x.max():.6g}", fill=0)
    return picture


def _placeholder(size: int, why: str):
    from PIL import Image, ImageDraw

    picture = Image.new("L", (size, size), 235)
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, 0, size - 1, size - 1], outline=150)
    draw.line([(0, 0), (size - 1, size - 1)], fill=200)
    draw.line([(0, size - 1), (size - 1, 0)], fill=200)
    if size >= 256:
        for n, line in enumerate(["no preview:", why]):
            draw.text((size // 16, size // 2 - 12 + 14 * n), line, fill=40)
    return picture


def _spectrum_of_table(hdu) -> tuple[np.ndarray, np.ndarray] | None:
    names = {name.upper(): name for name in (hdu.columns.names or [])}
    if "WAVELENGTH" in names and "FLUX" in names and len(hdu.data):
        x = np.asarray(hdu.data[names["WAVELENGTH"]], dtype=np.float64).ravel()
        y = np.asarray(hdu.data[names["FLUX"]], dtype=np.float64).ravel()
        return x, y
    return None


def render(path: str, size: int):
    """The quick look of a FITS file (a PIL image)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdus:
            ordered = sorted(hdus, key=lambda hdu: hdu.name != "SCI")
            for hdu in ordered:
                shape = getattr(hdu, "shape", None) or ()
                if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) and len(shape) >= 2 \
                        and min(shape[-2:]) > 0:
                    if min(shape[-2:]) < MIN_PIXELS:  # a stub (trimmed samples): nothing to see
                        return _placeholder(size, f"an image of {shape[-1]} x {shape[-2]} pixels")
                    step = max(1, int(np.sqrt(shape[-1] * shape[-2] / MAX_PIXELS_READ)) + 1) \
                        if shape[-1] * shape[-2] > MAX_PIXELS_READ else 1
                    return _image(np.asarray(hdu.section[..., ::step, ::step]
                                             if step > 1 else hdu.data), size)
            for hdu in ordered:
                shape = getattr(hdu, "shape", None) or ()
                if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) and len(shape) == 1 \
                        and shape[0] > 1:
                    y = np.asarray(hdu.data, dtype=np.float64)
                    header = hdu.header
                    x = header.get("CRVAL1", 1.0) + (np.arange(y.size) + 1 - header.get("CRPIX1", 1.0)) \
                        * header.get("CDELT1", header.get("CD1_1", 1.0))
                    return _plot(x, y, size, header.get("CTYPE1", "pixel") or "pixel")
                if isinstance(hdu, fits.BinTableHDU):
                    spectrum = _spectrum_of_table(hdu)
                    if spectrum:
                        return _plot(*spectrum, size, "wavelength")
    except (OSError, ValueError, TypeError, IndexError) as exc:
        log.info("no preview of %s: %s", path, exc)
        return _placeholder(size, "the file cannot be read as FITS")
    return _placeholder(size, "header only, no pixels")


def cached_png(path: str, checksum: str | None, name: str, kind: str) -> Path:
    """The cached PNG of a file (made now if it is not yet): written whole, then renamed."""
    directory = load_settings().storage_dir / "previews"
    directory.mkdir(parents=True, exist_ok=True)
    key = (checksum or f"{os.stat(path).st_mtime_ns}").replace(":", "-")
    target = directory / f"{name}.{key}.{kind}.png"
    if not target.exists():
        picture = render(path, SIZES[kind])
        with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{name}.", suffix=".png",
                                         delete=False) as part:
            picture.save(part, format="PNG", optimize=True)
        os.replace(part.name, target)
    return target


async def _answer(request: Request, kind: str) -> Response:
    name = request.path_params["file_name"]
    if not SAFE_NAME.match(name):
        return PlainTextResponse(f"no file {name}\n", status_code=404)
    async with reading(request) as conn:
        cursor = await conn.execute("SELECT hstvo.file_access('HST', %s), hstvo.file_path('HST', %s),"
                                    " hstvo.file_checksum('HST', %s)", (name,) * 3)
        access, path, checksum = await cursor.fetchone()
        path = await inside_file_roots(conn, path) if access else None
    if path is None:
        return PlainTextResponse(f"no file HST/{name}\n", status_code=404)
    if access == "denied":
        return refused(request, f"HST/{name} is proprietary")
    png = await asyncio.to_thread(cached_png, path, checksum, name, kind)
    # a shared cache may keep only what an anonymous caller was given: a member's answer may be
    # of an observation whose metadata is still proprietary
    shared = access == "public" and caller_of(request).anonymous
    headers = {"Cache-Control": "public, max-age=86400" if shared else "private, max-age=3600"}
    return FileResponse(png, media_type="image/png", headers=headers)


async def preview(request: Request) -> Response:
    """GET /preview/{file_name}: the file's 512-pixel quick look."""
    return await _answer(request, "preview")


async def thumbnail(request: Request) -> Response:
    """GET /thumbnail/{file_name}: the file's 128-pixel quick look."""
    return await _answer(request, "thumbnail")
