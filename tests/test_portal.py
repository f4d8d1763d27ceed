"""The portal's Advanced Search over HTTP, on the samples with one proprietary observation:
constraints, facet counts that match TAP's under the same access rules, sorting, paging,
sexagesimal and decimal cones, the ADQL it shows (which TAP runs to the same rows), bad input
as a message on the page, and the TAP service page."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest
from lxml import html
from psycopg.types.json import Jsonb

from .conftest import add_account, served_samples

MEMBER_TOKEN = "portal-member-token"


@pytest.fixture(scope="module")
def portal(pg_server, template_db, tmp_path_factory):
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("portal"),
                        "hstvo_portal") as (base, db_url):
        add_account(db_url, "member", MEMBER_TOKEN)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT auth.create_group('insiders', 'member')")
            conn.execute("SELECT auth.add_member('insiders', 'member')")
            conn.execute("UPDATE caom2.observation SET metarelease = '2099-01-01', "
                         "metareadgroups = auth.group_uri('insiders') WHERE observationid = 'j8bt05njq'")
        PORTAL_DB[base] = db_url
        yield base


PORTAL_DB: dict[str, str] = {}


def portal_urls(base: str) -> tuple[str, str]:
    return base, PORTAL_DB[base]


def page(portal: str, token: str | None = None, **params) -> html.HtmlElement:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(portal + "/search", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text
    return html.fromstring(response.text)


def obs_ids(document: html.HtmlElement) -> list[str]:
    return [td.text_content() for td in document.xpath('//table[@id="results"]/tbody/tr/td[@data-column="obs_id"]')]


def facet(document: html.HtmlElement, name: str) -> dict[str, int]:
    return {span.get("data-value"): int(span.text_content())
            for span in document.xpath(f'//span[@data-facet="{name}"]')}


def total(document: html.HtmlElement) -> int:
    return int(re.match(r"([\d,]+)", document.get_element_by_id("summary").text_content()).group(1).replace(",", ""))


def tap_counts(portal: str, token: str | None = None) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(portal + "/tap/sync", headers=headers, params={
        "LANG": "ADQL", "FORMAT": "csv",
        "QUERY": "SELECT instrument_name, COUNT(*) AS n FROM ivoa.ObsCore GROUP BY instrument_name"})
    lines = response.text.strip().splitlines()[1:]
    return {line.rsplit(",", 1)[0]: int(line.rsplit(",", 1)[1]) for line in lines}


def test_facet_counts_are_the_rows_the_caller_may_see(portal):
    anonymous = page(portal)
    assert facet(anonymous, "instrument") == tap_counts(portal)
    assert "j8bt05njq" not in obs_ids(anonymous)
    member = page(portal, MEMBER_TOKEN)
    assert facet(member, "instrument") == tap_counts(portal, MEMBER_TOKEN)
    assert "j8bt05njq" in obs_ids(member)
    assert total(member) == total(anonymous) + 1
    assert facet(member, "instrument")["ACS/HRC"] == facet(anonymous, "instrument").get("ACS/HRC", 0) + 1


def test_an_instrument_narrows_the_results_and_the_counts(portal):
    wfc3 = page(portal, instrument=["WFC3/UVIS", "WFC3/IR"])
    assert set(facet(wfc3, "instrument")) == {"WFC3/UVIS", "WFC3/IR"}
    assert total(wfc3) == sum(facet(wfc3, "instrument").values()) == len(obs_ids(wfc3))
    assert all(row.startswith("ib") for row in obs_ids(wfc3))
    assert sum(facet(wfc3, "calib_level").values()) == total(wfc3)


def test_a_cone_in_sexagesimal_or_degrees_finds_the_same(portal):
    sexagesimal = page(portal, ra="00:24:05.4", dec="-72:04:52", radius="0.2")
    decimal = page(portal, ra="6.0225", dec="-72.0811", radius="0.2")
    assert obs_ids(sexagesimal) == obs_ids(decimal) and obs_ids(decimal)
    assert all(i.startswith(("j8", "j9")) for i in obs_ids(decimal))
    nowhere = page(portal, ra="12:00:00", dec="+45:00:00", radius="0.01")
    assert total(nowhere) == 0


def test_sorting_and_paging(portal):
    by_time = page(portal, sort="t_min", order="desc")
    starts = [td.text_content() for td in by_time.xpath('//table[@id="results"]/tbody/tr/td[@data-column="t_min"]')]
    assert starts == sorted(starts, reverse=True, key=lambda s: s or "")
    everything = obs_ids(page(portal, sort="obs_id"))
    first, second = page(portal, sort="obs_id", size="5"), page(portal, sort="obs_id", size="5", page="2")
    assert obs_ids(first) + obs_ids(second) == everything[:10]
    assert first.xpath('//a[@rel="next"]') and second.xpath('//a[@rel="prev"]')


def test_the_adql_shown_runs_to_the_same_rows(portal):
    shown = page(portal, instrument="ACS/WFC", sort="obs_id")
    query = shown.get_element_by_id("adql-query").text_content()
    assert "instrument_name IN ('ACS/WFC')" in query
    result = httpx.get(portal + "/tap/sync", params={"LANG": "ADQL", "FORMAT": "csv", "QUERY": query})
    assert [line.split(",")[0] for line in result.text.strip().splitlines()[1:]] == obs_ids(shown)


@pytest.mark.parametrize("params, words", [
    ({"ra": "nonsense", "dec": "-72"}, "coordinates"),
    ({"date_from": "yesterday"}, "not a date"),
    ({"exptime_min": "lots"}, "not a number"),
    ({"ra": "10", "dec": "20", "radius": "nan"}, "not a number"),
    ({"exptime_max": "inf"}, "not a number"),
    ({"sort": "secret_column"}, "cannot sort by"),
    ({"calib_level": "x"}, "calibration level"),
    ({"target": "'; DROP TABLE caom2.plane; --"}, "0 data products"),
])
def test_bad_input_is_a_message_on_the_page(portal, params, words):
    document = page(portal, **params)
    assert words in document.text_content()


def test_the_tap_service_page_and_the_stylesheet(portal):
    tap = httpx.get(portal + "/tap")
    assert tap.status_code == 200 and tap.headers["content-type"].startswith("text/html")
    links = html.fromstring(tap.text).xpath("//a/@href")
    assert any(link.endswith("/tap/capabilities") for link in links)
    assert httpx.get(portal + "/static/portal.css").status_code == 200
    assert httpx.get(portal + "/static/../app.py").status_code == 404


def test_the_facet_cube_answers_as_the_rows_would_and_a_write_retires_it(portal):
    """Anonymous facet-only searches are answered from the refreshed cube, with the same counts
    as counting the rows; a write to ObsCore's rows makes it stale until the next refresh."""
    base, db_url = portal_urls(portal)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT portal.refresh_facets(true)")
        assert conn.execute("SELECT NOT stale FROM portal.facet_cube_state").fetchone()[0]
        answers = "SELECT portal.cube_answers(%s)"
        assert conn.execute(answers, (Jsonb({"instrument": ["ACS/WFC"]}),)).fetchone()[0]
        assert not conn.execute(answers, (Jsonb({"target": "NGC"}),)).fetchone()[0]
    searches = ({}, {"instrument": "WFC3/UVIS"}, {"band": "Infrared"}, {"calib_level": "2"})
    names = ("instrument", "band", "filter", "calib_level", "dataproduct_type", "collection")
    from_cube = [{n: facet(page(base, **params), n) for n in names} for params in searches]
    with psycopg.connect(db_url, autocommit=True) as conn:  # counted, not looked up
        conn.execute("UPDATE portal.facet_cube_state SET stale = true")
    counted = [{n: facet(page(base, **params), n) for n in names} for params in searches]
    assert from_cube == counted
    assert from_cube[0]["instrument"] == tap_counts(base)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT portal.refresh_facets(true)")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE caom2.plane SET time_exposure = time_exposure WHERE productid = 'j94f05bgq_flt'")
        conn.execute("UPDATE hstvo.obscore_rows SET t_exptime = t_exptime WHERE obs_id = 'j94f05bgq'")
        assert conn.execute("SELECT stale FROM portal.facet_cube_state").fetchone()[0]


def test_datalink_describes_itself_to_a_browser_and_answers_clients_in_votable(portal):
    browser = httpx.get(portal + "/datalink", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 200 and browser.headers["content-type"].startswith("text/html")
    form = html.fromstring(browser.text).xpath("//form")[0]
    assert form.get("action").endswith("/datalink") and form.xpath(".//input[@name='ID']")
    for accept in ("*/*", "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"):  # Java's
        client = httpx.get(portal + "/datalink", headers={"Accept": accept})
        assert client.headers["content-type"].startswith("application/x-votable+xml")
    asked = httpx.get(portal + "/datalink", params={"ID": "caom:HST/j94f05bgq/j94f05bgq_flt"},
                      headers={"Accept": "text/html"})
    assert asked.headers["content-type"].startswith("application/x-votable+xml")
