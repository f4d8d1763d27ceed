"""/search: Advanced Search. The form's fields are read into constraints (constraints.py); the
database selects the rows the caller may see, counts the facets of exactly those rows and
returns a page of them (sql/89_portal_search.sql), under a time limit, in one transaction of the
caller's identity. Every search is its URL: the form is a GET.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import psycopg
from psycopg.types.json import Jsonb
from starlette.requests import Request
from starlette.responses import Response

from ..identity import reading
from . import templates
from .constraints import LIST_FIELDS, Search, adql, read_search
from .units import COLUMNS, formatted

log = logging.getLogger("hstvo.portal")

FACET_TITLES = {"collection": "Collection", "instrument": "Instrument", "band": "Band",
                "filter": "Filter", "calib_level": "Calibration level",
                "dataproduct_type": "Data type"}
SEARCH_SECONDS = 10
FACET_SECONDS = 0.25  # facet counts are worth waiting this long for, not more (Datasette: 200 ms)
TOTAL_CAP = 1_000  # a total is counted up to here: "1,000+"


async def _run(request: Request, search: Search) -> tuple[int, list[dict], dict[str, list] | None]:
    """(total, counted up to TOTAL_CAP; the page's rows; the facets, name -> [(value, rows)],
    or None when counting them took longer than FACET_SECONDS) of a search."""
    constraints = Jsonb(search.constraints)
    async with reading(request) as conn:
        await conn.execute("SELECT portal.begin_search(%s)", (SEARCH_SECONDS,))
        cursor = await conn.execute("SELECT * FROM portal.page(%s, %s, %s, %s, %s)",
                                    (constraints, search.sort, search.descending, search.page,
                                     search.page_size))
        rows = [row[0] for row in await cursor.fetchall()]
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
    try:
        total, rows, facets = await _run(request, search)
    except psycopg.errors.QueryCanceled:
        failure = (f"the search took longer than {SEARCH_SECONDS} s: add a constraint "
                   "(an instrument, a position, dates)")
    except psycopg.errors.InvalidParameterValue as exc:
        failure = exc.diag.message_primary
    except psycopg.errors.DataException:
        failure = "a value of the form cannot be used; check the numbers and dates"
    capped = total > TOTAL_CAP
    pages = None if capped else max(1, -(-total // search.page_size))
    context = {
        "section": "search", "search": search, "params": params, "failure": failure,
        "total": min(total, TOTAL_CAP), "capped": capped, "more": len(rows) == search.page_size,
        "rows": [formatted(row) for row in rows], "columns": COLUMNS,
        "facets": facets or {name: [] for name in FACET_TITLES}, "facets_cut": facets is None,
        "facet_titles": FACET_TITLES, "adql": adql(search, search.page_size),
        "page": search.page, "pages": pages,
        "link": lambda **changes: _link(params, **changes),
        "selected": lambda name, value: value in params.get(name, []),
    }
    return templates.TemplateResponse(request, "search.html", context)
