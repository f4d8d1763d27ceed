"""/search: Advanced Search. The form's fields are read into constraints (constraints.py); the
database selects the rows the caller may see, counts the facets of exactly those rows and
returns a page of them (sql/89_portal_search.sql), under a time limit, in one transaction of the
caller's identity. Every search is its URL: the form is a GET.
"""

from __future__ import annotations

import contextlib
import logging
import math
from urllib.parse import quote, urlencode

import psycopg
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..identity import reading
from . import templates
from .constraints import LIST_FIELDS, UNIT_CHOICES, Search, adql, read_search
from .sky import sky_svg
from .units import columns, formatted

log = logging.getLogger("hstvo.portal")

FACET_TITLES = {"collection": "Collection", "instrument": "Instrument", "band": "Band",
                "filter": "Filter", "calib_level": "Calibration level",
                "dataproduct_type": "Data type"}
SEARCH_SECONDS = 10
FACET_SECONDS = 0.25  # facet counts are worth waiting this long for, not more (Datasette: 200 ms)
IN_ORDER_SECONDS = 0.3  # a page read in its sort order takes milliseconds, or is the wrong way
TOTAL_CAP = 1_000  # a total is counted up to here: "1,000+"


async def _resolve_target(conn, search: Search, radius: float | None) -> None:
    """A target name with a radius and no coordinates is a cone about where the archive's
    observations of that name are (portal.resolve_target): the archive is its own resolver."""
    c = search.constraints
    if "target" not in c or "ra" in c or radius is None:
        return
    cursor = await conn.execute("SELECT * FROM portal.resolve_target(%s)", (c["target"],))
    found = await cursor.fetchone()
    if found is None:
        cursor = await conn.execute("SELECT target_name FROM portal.target_suggestions(%s, 5)",
                                    (c["target"],))
        names = [name for (name,) in await cursor.fetchall()]
        search.problems.append(f"no target named {c['target']!r} in the archive"
                               + (f"; did you mean {', '.join(names)}?" if names else ""))
        return
    name, c["ra"], c["dec"], _ = found
    c["radius"] = min(max(radius, 0.0), 30.0)
    del c["target"]
    search.resolved = name


async def _page(conn, search: Search, constraints: Jsonb) -> list[dict]:
    """A page of the search's rows: read in the sort column's order for at most IN_ORDER_SECONDS
    (milliseconds, where the rows selected are spread over that order), else every row
    selected found first and sorted (where they are bunched at its far end: portal.page)."""
    arguments = (constraints, search.sort, search.descending, search.page, search.page_size)
    rows = None
    try:
        async with conn.transaction():  # a savepoint: a cancel is not fatal
            await conn.execute("SELECT portal.begin_search(%s)", (IN_ORDER_SECONDS,))
            cursor = await conn.execute("SELECT * FROM portal.page(%s, %s, %s, %s, %s, true)",
                                        arguments)
            rows = [row[0] for row in await cursor.fetchall()]
    except psycopg.errors.QueryCanceled:
        log.info("search %s: rows not found in %s order within %s s, found first and sorted",
                 search.constraints, search.sort, IN_ORDER_SECONDS)
    # (a time limit set in a savepoint that was released holds to the end of the transaction)
    await conn.execute("SELECT portal.begin_search(%s)", (SEARCH_SECONDS,))
    if rows is None:
        cursor = await conn.execute("SELECT * FROM portal.page(%s, %s, %s, %s, %s, false)",
                                    arguments)
        rows = [row[0] for row in await cursor.fetchall()]
    return rows


async def _run(request: Request, search: Search,
               radius: float | None = None) -> tuple[int, list[dict], dict[str, list] | None]:
    """(total, counted up to TOTAL_CAP; the page's rows; the facets, name -> [(value, rows)],
    or None when counting them took longer than FACET_SECONDS) of a search."""
    async with reading(request) as conn:
        await conn.execute("SELECT portal.begin_search(%s)", (SEARCH_SECONDS,))
        await _resolve_target(conn, search, radius)
        constraints = Jsonb(search.constraints)
        rows = await _page(conn, search, constraints)
        cursor = await conn.execute("SELECT portal.total(%s, %s)", (constraints, TOTAL_CAP))
        total = (await cursor.fetchone())[0]
        facets: dict[str, list] | None = {name: [] for name in FACET_TITLES}
        try:
            async with conn.transaction():  # a savepoint: a facet count cut short is not fatal
                await conn.execute("SELECT portal.begin_search(%s)", (FACET_SECONDS,))
                cursor = await conn.execute("SELECT * FROM portal.facets(%s)", (constraints,))
                for facet, value, count in await cursor.fetchall():
                    if value is not None:
                        facets[facet].append((value, count))
        except psycopg.errors.QueryCanceled:
            facets = None
    return total, rows, facets


def _link(params: dict, **changes) -> str:
    """This search's URL with some parameters changed (None: removed)."""
    merged = {**params, **changes}
    pairs = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for each in value if isinstance(value, list) else [value]:
            pairs.append((key, each))
    return "/search?" + urlencode(pairs)


async def search_page(request: Request) -> Response:
    """GET /search."""
    search = read_search(request.query_params)
    params = {key: request.query_params.getlist(key) for key in request.query_params.keys()}
    params = {k: v if k in LIST_FIELDS else v[0] for k, v in params.items()}
    total, rows, facets, failure = 0, [], {name: [] for name in FACET_TITLES}, None
    radius = None
    if request.query_params.get("radius", "").strip():
        with contextlib.suppress(ValueError):
            radius = float(request.query_params["radius"])
            radius = radius if math.isfinite(radius) else None
    try:
        total, rows, facets = await _run(request, search, radius)
    except psycopg.errors.QueryCanceled:
        failure = (f"the search took longer than {SEARCH_SECONDS} s: add a constraint "
                   "(an instrument, a position, dates)")
    except psycopg.errors.InvalidParameterValue as exc:
        failure = exc.diag.message_primary
    except psycopg.errors.DataException:
        failure = "a value of the form cannot be used; check the numbers and dates"
    c = search.constraints
    cone = (c["ra"], c["dec"], c["radius"]) if "ra" in c else None
    capped = total > TOTAL_CAP
    pages = None if capped else max(1, -(-total // search.page_size))
    context = {
        "section": "search", "search": search, "params": params, "failure": failure,
        "total": min(total, TOTAL_CAP), "capped": capped, "more": len(rows) == search.page_size,
        "rows": [formatted(row, search.units) for row in rows], "columns": columns(search.units),
        "unit_choices": UNIT_CHOICES, "cone": cone, "sky": sky_svg(rows, cone),
        "cutout": (lambda did: f"/soda/sync?ID={quote(did, safe='')}&CIRCLE="
                   + quote(f"{cone[0]:.6f} {cone[1]:.6f} {cone[2]:g}")) if search.cutout and cone else None,
        "full_result": {fmt: "/tap/sync?" + urlencode({"REQUEST": "doQuery", "LANG": "ADQL",
                                                       "FORMAT": fmt, "QUERY": adql(search, None)})
                        for fmt in ("votable", "csv")},
        "facets": facets or {name: [] for name in FACET_TITLES}, "facets_cut": facets is None,
        "facet_titles": FACET_TITLES, "adql": adql(search, search.page_size),
        "page": search.page, "pages": pages,
        "link": lambda **changes: _link(params, **changes),
        "selected": lambda name, value: value in params.get(name, []),
    }
    return templates.TemplateResponse(request, "search.html", context)


async def target_names(request: Request) -> Response:
    """GET /search/targets?q=BEGINNING: the archive's target names that begin so (the form's
    suggestions), the most observed first, as JSON [[name, observations], ...]."""
    beginning = request.query_params.get("q", "").strip()[:100]
    if not beginning:
        return JSONResponse([])
    async with reading(request) as conn:
        await conn.execute("SELECT portal.begin_search(%s)", (2,))
        cursor = await conn.execute("SELECT * FROM portal.target_suggestions(%s, 10)", (beginning,))
        return JSONResponse([list(row) for row in await cursor.fetchall()])


# the product types a download may take, as DataLink's semantics name them
PRODUCT_SEMANTICS = {"science": ("#this",), "calibration": ("#calibration",),
                     "auxiliary": ("#auxiliary",), "info": ("#documentation",),
                     "preview": ("#preview", "#thumbnail")}
MAX_DOWNLOAD_ROWS = 1000


async def download_script(request: Request) -> Response:
    """POST /search/download (the results' checked rows as `did`, the product types as
    `types`): a shell script of curl lines, one per file DataLink lists for them, under the
    caller's access rules. Proprietary files are fetched with $HSTVO_TOKEN when it is set."""
    form = await request.form()
    dids = [str(d) for d in form.getlist("did") if str(d).strip()][:MAX_DOWNLOAD_ROWS]
    types = [str(t) for t in form.getlist("types") if str(t) in PRODUCT_SEMANTICS] or ["science"]
    if not dids:
        return PlainTextResponse("no rows were selected: tick the rows to download\n",
                                 status_code=400)
    wanted = {s for t in types for s in PRODUCT_SEMANTICS[t]}
    async with reading(request) as conn:
        await conn.execute("SELECT portal.begin_search(%s)", (SEARCH_SECONDS,))
        cursor = await conn.execute(
            "SELECT id, access_url, semantics, link_authorized FROM hstvo.datalink_links(%s)",
            (dids,))
        links = await cursor.fetchall()
    lines = ["#!/bin/sh", "# hstvo: the files of the rows you selected, one curl line each.",
             "# Proprietary files need a token: HSTVO_TOKEN=... sh this-script",
             'AUTH=${HSTVO_TOKEN:+"Authorization: Bearer $HSTVO_TOKEN"}', "set -e"]
    seen = set()
    for did, url, semantics, authorized in links:
        if semantics not in wanted or not url or url in seen or authorized is False:
            continue
        seen.add(url)
        # --compressed: a file kept gzipped travels with Content-Encoding: gzip, and is saved
        # as the FITS file it is
        lines.append(f"curl -f -L -O -R --compressed ${{AUTH:+-H \"$AUTH\"}} "
                     f"'{url.replace(chr(39), '%27')}'")
    if len(lines) == 5:
        lines.append("# nothing to download: the selected rows have no files of those types")
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/x-shellscript",
                             headers={"Content-Disposition": 'attachment; filename="hstvo-download.sh"'})
