"""Coverage MOCs (MOC 2.0) at /moc: where the archive has data.

    GET /moc?collection=HST[&instrument=ACS][&filter=F606W][&calib_level=2][&order=10]
            [&RESPONSEFORMAT=fits|ascii|json]

The MOC is the union of the matching planes' footprints, computed in the database
(hstvo.coverage_moc, sql/81_moc.sql, pgsphere's smoc) and cached there until planes change.
This module only writes it out: FITS (the default: a NUNIQ binary table, MOC 2.0 section 4.3.1),
ASCII (section 4.3.2) or JSON (section 4.3.3).
"""

from __future__ import annotations

import asyncio
import io
import re

import numpy as np
import psycopg
from astropy.io import fits
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from .identity import reading

DEFAULT_ORDER = 10
# MOC 2.0 allows order 29 (cells of 0.4 mas); the union of footprints at such orders costs
# minutes and gigabytes for no gain on arcminute footprints, so the service stops at 14
MAX_ORDER = 14
MAX_ORDER_CELL = "12.9 arcsec"
MOC_SECONDS = 60  # the statement timeout of one MOC computation
FORMATS = {"fits": "fits", "application/fits": "fits", "ascii": "ascii", "text/plain": "ascii",
           "json": "json", "application/json": "json"}


class MocRequestError(ValueError):
    """A parameter the service cannot use; the message says which and why."""


def parse_ascii(text: str) -> dict[int, list[int]]:
    """pgsphere's ASCII MOC ("9/2132600 2766547 10/8530365 8530408-8530410") as cells per
    order."""
    cells: dict[int, list[int]] = {}
    order = None
    for token in text.split():
        if "/" in token:
            head, _, token = token.partition("/")
            order = int(head)
            cells.setdefault(order, [])
            if not token:
                continue
        low, _, high = token.partition("-")
        cells[order].extend(range(int(low), int(high or low) + 1))
    return {o: c for o, c in cells.items() if c}


def as_ascii(cells: dict[int, list[int]], max_order: int) -> str:
    """MOC 2.0 ASCII: order/cells, ranges as a-b, and the MOC's order at the end."""
    parts = []
    for order in sorted(cells):
        numbers, run = [], []
        for cell in sorted(cells[order]):
            if run and cell == run[-1] + 1:
                run.append(cell)
                continue
            if run:
                numbers.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = [cell]
        if run:
            numbers.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        parts.append(f"{order}/" + " ".join(numbers))
    if not cells or max(cells) < max_order:
        parts.append(f"{max_order}/")
    return " ".join(parts) + "\n"


def as_fits(cells: dict[int, list[int]], max_order: int, description: str) -> bytes:
    """MOC 2.0 FITS: one NUNIQ column (uniq = 4 * 4**order + cell)."""
    uniq = np.array(sorted(4 * 4 ** order + cell for order, found in cells.items()
                           for cell in found), dtype=np.int64)
    table = fits.BinTableHDU.from_columns([fits.Column(name="UNIQ", format="K", array=uniq)])
    header = table.header
    for key, value, comment in [
            ("PIXTYPE", "HEALPIX", "HEALPix magic code"), ("ORDERING", "NUNIQ", "NUNIQ coding"),
            ("COORDSYS", "C", "ICRS"), ("MOCVERS", "2.0", "MOC version"),
            ("MOCDIM", "SPACE", "physical dimension"), ("MOCORD_S", max_order, "MOC order"),
            ("MOCORDER", max_order, "MOC order (MOC 1.x readers)"),
            ("MOCTOOL", "hstvo", "pgsphere smoc"), ("EXTNAME", "MOC", ""),
            ("MOCID", description[:68], "what it covers")]:
        header[key] = (value, comment)
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buffer)
    return buffer.getvalue()


def _parameters(request: Request) -> dict:
    params = {k.lower(): v.strip() for k, v in request.query_params.items()}
    try:
        order = int(params.get("order") or DEFAULT_ORDER)
        level = int(params["calib_level"]) if params.get("calib_level") else None
    except ValueError:
        raise MocRequestError("order and calib_level are whole numbers") from None
    if not 0 <= order <= MAX_ORDER:
        raise MocRequestError(f"order={order}: this service makes MOCs of order 0 to {MAX_ORDER} "
                              f"(cells of {MAX_ORDER_CELL}; HST footprints are arcminutes wide)")
    if level is not None and not -1 <= level <= 4:
        raise MocRequestError(f"calib_level={level}: CAOM calibration levels are -1 to 4")
    wanted = (params.get("responseformat") or params.get("format") or "fits").lower()
    if wanted not in FORMATS:
        raise MocRequestError(f"RESPONSEFORMAT={wanted}: use fits, ascii or json")
    return {"collection": params.get("collection") or "HST",
            "instrument": params.get("instrument") or None, "filter": params.get("filter") or None,
            "calib_level": level, "order": order, "format": FORMATS[wanted]}


async def moc(request: Request) -> Response:
    """GET /moc."""
    try:
        asked = _parameters(request)
    except MocRequestError as exc:
        return PlainTextResponse(f"UsageFault: {exc}\n", status_code=400)
    async with reading(request) as conn:  # the coverage of what the caller may see
        await conn.execute("SELECT set_config('statement_timeout', %s, true)",
                           (f"{MOC_SECONDS}s",))
        await conn.execute("SELECT set_smoc_output_type(0)")  # ASCII, whatever was set before
        try:
            cursor = await conn.execute(
                "SELECT moc::text, planes, cached FROM hstvo.coverage_moc(%s, %s, %s, %s, %s)",
                (asked["collection"], asked["instrument"], asked["filter"],
                 asked["calib_level"], asked["order"]))
        except psycopg.errors.QueryCanceled:
            return PlainTextResponse(f"Error: the MOC took longer than {MOC_SECONDS} s: ask "
                                     "for a lower order or fewer footprints\n", status_code=503,
                                     headers={"Retry-After": "60"})
        text, planes, cached = await cursor.fetchone()
    headers = {"X-Footprints": str(planes), "X-Cached": "true" if cached else "false"}
    # large MOCs take a while to write out: not on the event loop, which serves everybody
    return await asyncio.to_thread(_response, text, asked, headers)


def _response(text: str, asked: dict, headers: dict[str, str]) -> Response:
    """The MOC in the format asked for."""
    cells = parse_ascii(text)
    description = " ".join(f"{k}={v}" for k, v in asked.items() if v is not None and k != "format")
    # a FITS header holds printable ASCII only
    description = "".join(c if " " <= c <= "~" else "?" for c in description)
    if asked["format"] == "ascii":
        return PlainTextResponse(as_ascii(cells, asked["order"]), headers=headers)
    if asked["format"] == "json":
        return JSONResponse({str(o): sorted(c) for o, c in sorted(cells.items())}, headers=headers)
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", f"moc-{asked['collection']}-"
                      f"{asked['filter'] or asked['instrument'] or 'all'}") + ".fits"
    return Response(as_fits(cells, asked["order"], description), media_type="application/fits",
                    headers={**headers, "Content-Disposition": f'inline; filename="{filename}"'})

