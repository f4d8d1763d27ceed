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
    as counting the rows; a write to ObsCore's rows retires it until the next refresh."""
    base, db_url = portal_urls(portal)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT portal.refresh_facets(true)")
        assert conn.execute("SELECT portal.facet_cube_current()").fetchone()[0]
        answers = "SELECT portal.cube_answers(%s)"
        assert conn.execute(answers, (Jsonb({"instrument": ["ACS/WFC"]}),)).fetchone()[0]
        assert not conn.execute(answers, (Jsonb({"target": "NGC"}),)).fetchone()[0]
    searches = ({}, {"instrument": "WFC3/UVIS"}, {"band": "Infrared"}, {"calib_level": "2"})
    names = ("instrument", "band", "filter", "calib_level", "dataproduct_type", "collection")
    from_cube = [{n: facet(page(base, **params), n) for n in names} for params in searches]
    with psycopg.connect(db_url, autocommit=True) as conn:  # a write: counted, not looked up
        conn.execute("UPDATE hstvo.obscore_rows SET t_exptime = t_exptime WHERE obs_id = 'j94f05bgq'")
        assert not conn.execute("SELECT portal.facet_cube_current()").fetchone()[0]
    counted = [{n: facet(page(base, **params), n) for n in names} for params in searches]
    assert from_cube == counted
    assert from_cube[0]["instrument"] == tap_counts(base)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT portal.refresh_facets(true)")
        assert conn.execute("SELECT portal.facet_cube_current()").fetchone()[0]
        conn.execute("UPDATE caom2.plane SET time_exposure = time_exposure WHERE productid = 'j94f05bgq_flt'")
        conn.execute("UPDATE hstvo.obscore_rows SET t_exptime = t_exptime WHERE obs_id = 'j94f05bgq'")
        assert not conn.execute("SELECT portal.facet_cube_current()").fetchone()[0]


def test_a_refresh_of_the_facet_cube_and_writes_never_wait_for_each_other(portal):
    """The cube is refreshed while a write is under way (not put off), and a write goes on
    while a refresh is under way (a refresh of a million rows takes seconds); a write the
    refresh did not see leaves the cube not current once it commits."""
    _, db_url = portal_urls(portal)
    write = "UPDATE hstvo.obscore_rows SET t_exptime = t_exptime WHERE obs_id = 'j94f05bgq'"
    current = "SELECT portal.facet_cube_current()"
    with psycopg.connect(db_url) as writer, psycopg.connect(db_url, autocommit=True) as service:
        writer.execute("SET lock_timeout = '2s'")
        service.execute("SET lock_timeout = '2s'")
        writer.execute(write)  # under way
        assert service.execute("SELECT portal.refresh_facets(true)").fetchone()[0]
        assert service.execute(current).fetchone()[0]  # (no one sees the write yet)
        writer.commit()
        assert not service.execute(current).fetchone()[0]
        with psycopg.connect(db_url) as refresher:
            assert refresher.execute("SELECT portal.refresh_facets(true)").fetchone()[0]
            writer.execute(write)  # while the refresh is under way: no wait
            writer.commit()
            refresher.commit()
        assert not service.execute(current).fetchone()[0]
        assert service.execute("SELECT portal.refresh_facets(true)").fetchone()[0]
        assert service.execute(current).fetchone()[0]


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


# ---------------------------------------------------------------------------------------------
# Previews, the download script, column filters, target names (HTTP; the browser tests drive
# the same pages in Chromium: tests/test_browser.py)
# ---------------------------------------------------------------------------------------------

MEMBER = {"Authorization": f"Bearer {MEMBER_TOKEN}"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def png_size(body: bytes) -> tuple[int, int]:
    from PIL import Image
    import io

    picture = Image.open(io.BytesIO(body))
    assert picture.format == "PNG"
    return picture.size


def test_obscore_preview_is_a_quick_look_of_this_service(portal):
    rows = httpx.get(portal + "/tap/sync", params={
        "LANG": "ADQL", "FORMAT": "csv",
        "QUERY": "SELECT obs_id, preview FROM ivoa.ObsCore WHERE obs_id = 'j94f05bgq'"}).text
    preview = rows.strip().splitlines()[1].split(",")[1]
    assert preview == portal + "/preview/j94f05bgq_flt.fits"
    answer = httpx.get(preview)
    assert answer.headers["content-type"] == "image/png" and png_size(answer.content)[0] == 512
    assert png_size(httpx.get(portal + "/thumbnail/j94f05bgq_flt.fits").content) == (128, 128)
    # the same URL in every format, the written rows' too (VOTable of the whole width)
    votable = httpx.get(portal + "/tap/sync", params={
        "LANG": "ADQL", "QUERY": "SELECT * FROM ivoa.ObsCore WHERE obs_id = 'j94f05bgq'"}).text
    assert f"<TD>{preview}</TD>" in votable


def test_a_previews_access_is_its_files(portal):
    # its metadata is proprietary too: to outsiders the file is not there (as /files answers)
    anonymous = httpx.get(portal + "/preview/j8bt05njq_raw.fits")
    assert anonymous.status_code == 404 and "Traceback" not in anonymous.text
    member = httpx.get(portal + "/preview/j8bt05njq_raw.fits", headers=MEMBER)
    assert member.status_code == 200 and png_size(member.content)[0] == 512  # its long side
    assert "private" in member.headers["cache-control"]
    for name in ("no_such_file.fits", "..%2F..%2Fetc%2Fpasswd", ".hidden"):
        assert httpx.get(portal + "/preview/" + name).status_code == 404


def test_a_header_only_file_gets_a_placeholder(portal):
    from PIL import Image
    import io

    answer = httpx.get(portal + "/preview/y19g0309t_c2f.fits")  # FOS: NAXIS1 = 0, no pixels
    assert answer.status_code == 200
    picture = Image.open(io.BytesIO(answer.content)).convert("L")
    assert picture.size == (512, 512) and picture.getpixel((256, 100)) == 235  # the plain ground
    data = Image.open(io.BytesIO(httpx.get(portal + "/preview/ib4606c5q_flc.fits").content)).convert("L")
    assert len(set(data.tobytes())) > 2  # pixels, stretched


def test_datalink_lists_the_quick_looks(portal):
    votable = httpx.get(portal + "/datalink", params={"ID": "caom:HST/j94f05bgq/j94f05bgq_flt"}).text
    assert "/preview/j94f05bgq_flt.fits" in votable and "/thumbnail/j94f05bgq_flt.fits" in votable
    assert votable.count("#preview") == 2 and "image/png" in votable


def test_the_download_script_lists_what_the_caller_may_read(portal):
    dids = ["ivo://hstvo.example/HST?j94f05bgq/j94f05bgq_flt", "ivo://hstvo.example/HST?j8bt05njq/j8bt05njq_raw"]
    dids = [did for did in obs_dids(portal) if did.split("?")[-1].split("/")[0] in ("j94f05bgq", "j8bt05njq")] or dids
    form = {"did": dids, "types": ["science", "preview"]}
    anonymous = httpx.post(portal + "/search/download", data=form)
    member = httpx.post(portal + "/search/download", data=form, headers=MEMBER)
    assert anonymous.headers["content-type"].startswith("text/x-shellscript")
    assert "j94f05bgq_flt.fits" in anonymous.text and "j8bt05njq" not in anonymous.text
    assert "/files/HST/j8bt05njq_raw.fits" in member.text and "/preview/j8bt05njq_raw.fits" in member.text
    assert all(line.startswith("curl -f -L -O -R --compressed") for line in member.text.splitlines()
               if line.startswith("curl"))
    assert httpx.post(portal + "/search/download", data={"types": "science"}).status_code == 400


def obs_dids(portal: str) -> list[str]:
    csv = httpx.get(portal + "/tap/sync", params={
        "LANG": "ADQL", "FORMAT": "csv", "QUERY": "SELECT obs_publisher_did FROM ivoa.ObsCore"},
        headers=MEMBER).text
    return csv.strip().splitlines()[1:]


def test_column_filters_read_the_shown_units(portal):
    long = page(portal, f_t_exptime=">300")
    times = [float(td.text_content()) for td in long.xpath('//td[@data-column="t_exptime"]')]
    assert times and all(t > 300 for t in times)
    assert "t_exptime > 300" in long.get_element_by_id("adql-query").text_content()
    in_nm = page(portal, f_em_min="<500", wl_unit="nm")
    in_angstrom = page(portal, f_em_min="<5000")
    assert obs_ids(in_nm) == obs_ids(in_angstrom) and obs_ids(in_nm)
    shown = [float(td.text_content().replace(",", "")) for td in in_nm.xpath('//td[@data-column="em_min"]')]
    assert all(v < 500 for v in shown)  # shown in nm too
    since = page(portal, f_t_min=">2009-01-01")
    assert all(td.text_content() >= "2009" for td in since.xpath('//td[@data-column="t_min"]'))
    assert "filter of t_exptime" in page(portal, f_t_exptime=">lots").text_content()
    targets = page(portal, f_target_name="ngc")
    assert all("NGC" in td.text_content() for td in targets.xpath('//td[@data-column="target_name"]'))


def test_target_names_are_suggested_and_resolved_from_the_archive(portal):
    suggested = httpx.get(portal + "/search/targets", params={"q": "ngc"}).json()
    assert ["NGC104", 2] in suggested or any(name == "NGC104" for name, _ in suggested)
    assert httpx.get(portal + "/search/targets", params={"q": ""}).json() == []
    resolved = page(portal, target="ngc104", radius="0.1")
    assert "NGC104: RA" in resolved.get_element_by_id("resolved").text_content()
    assert obs_ids(resolved) and "INTERSECTS" in resolved.get_element_by_id("adql-query").text_content()
    unknown = page(portal, target="Vulcan", radius="0.1")
    assert "no target named 'Vulcan'" in unknown.text_content()


def test_the_processing_pages_hide_proprietary_datasets_and_refuse_non_operators(portal):
    _, db_url = portal_urls(portal)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for dataset in ("j94f05bgq", "j8bt05njq"):
            conn.execute("SELECT queue.enqueue('calibrate', %s)", (dataset,))
        secret = conn.execute("SELECT id FROM queue.job WHERE dataset = 'j8bt05njq'").fetchone()[0]
        public = conn.execute("SELECT id FROM queue.job WHERE dataset = 'j94f05bgq'").fetchone()[0]
    anonymous = httpx.get(portal + "/processing").text
    assert "j94f05bgq" in anonymous and "j8bt05njq" not in anonymous
    assert "j8bt05njq" in httpx.get(portal + "/processing", headers=MEMBER).text
    assert httpx.get(portal + f"/processing/{secret}").status_code == 404
    assert httpx.get(portal + f"/processing/{secret}", headers=MEMBER).status_code == 200
    same_site = {**MEMBER, "Origin": portal}
    refused = httpx.post(portal + f"/processing/{public}", data={"action": "hold"}, headers=same_site,
                         follow_redirects=True)
    assert "may not act on jobs" in refused.text
    cross_site = httpx.post(portal + f"/processing/{public}", data={"action": "hold"},
                            headers={**MEMBER, "Origin": "https://elsewhere.example"})
    assert cross_site.status_code == 403
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status FROM queue.job WHERE id = %s", (public,)).fetchone()[0] == "idle"
    too_big = "/processing/99999999999999999999"  # past a bigint: no job, not a failure
    assert httpx.get(portal + too_big).status_code == 404
    assert httpx.post(portal + too_big, data={"action": "hold"}, headers=same_site).status_code == 404
    monitor = httpx.get(portal + "/processing/monitor?span=week")
    assert monitor.status_code == 200 and monitor.text.count("<svg") == 4


def test_logging_in_from_the_portal_sends_the_browser_on_and_only_here(portal):
    _, db_url = portal_urls(portal)
    run = __import__("tests.conftest", fromlist=["run_hstvo"]).run_hstvo
    run("users", "add", "portal-person", "--password-stdin", db_url=db_url, input="pw-portal-1\n")
    went = httpx.post(portal + "/login", data={"username": "portal-person", "password": "pw-portal-1",
                                               "next": "/processing"})
    assert went.status_code == 303 and went.headers["location"] == "/processing"
    assert "hstvo_session" in went.headers["set-cookie"]
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        away = httpx.post(portal + "/login", data={"username": "portal-person",
                                                   "password": "pw-portal-1", "next": elsewhere})
        assert away.headers["location"] == "/search"
    wrong = httpx.post(portal + "/login", data={"username": "portal-person", "password": "nope",
                                                "next": "/search"})
    assert wrong.status_code == 401 and "do not match" in wrong.text and wrong.headers["www-authenticate"]
    client = httpx.post(portal + "/login", data={"username": "portal-person", "password": "pw-portal-1"})
    assert client.status_code == 200 and client.headers["x-vo-bearer"] == client.text.strip()
    # a user made with a token only (member) is given a password, and logs in with it
    set_password = run("users", "password", "member", "--password-stdin", db_url=db_url,
                       input="pw-member-2\n")
    assert set_password.returncode == 0, set_password.stderr
    assert httpx.post(portal + "/login", data={"username": "member", "password": "pw-member-2",
                                               "next": "/groups"}).status_code == 303
    assert run("users", "password", "nobody-here", "--password-stdin", db_url=db_url,
               input="x\n").returncode != 0
    cookie = {"hstvo_session": went.cookies["hstvo_session"]}
    assert 'id="logged-in">portal-person<' in httpx.get(portal + "/search", cookies=cookie).text


def test_groups_and_storage_ask_for_a_login_and_keep_to_the_rules(portal):
    assert httpx.get(portal + "/groups").status_code == 303
    assert httpx.get(portal + "/groups").headers["location"].startswith("/login?next=")
    others = httpx.get(portal + "/groups/hstvo-writers", headers=MEMBER)
    assert others.status_code == 404 and "Traceback" not in others.text
    assert httpx.get(portal + "/storage/home/member", headers=MEMBER).status_code == 200
    for path in ("/storage/home/writer", "/storage/home/member/../writer", "/storage/home/%2e%2e/etc"):
        answer = httpx.get(portal + path, headers=MEMBER)
        assert answer.status_code in (400, 403, 404) and "Traceback" not in answer.text, path
    cross_site = httpx.post(portal + "/storage/home/member", data={"action": "folder", "name": "x"},
                            headers={**MEMBER, "Origin": "https://elsewhere.example"})
    assert "another site" in cross_site.text
    _, db_url = portal_urls(portal)
    with psycopg.connect(db_url) as conn:
        assert not conn.execute("SELECT 1 FROM vospace.node WHERE name = 'x'").fetchone()


def test_tap_tables_and_examples_are_pages_for_browsers_and_xml_for_clients(portal):
    tables = httpx.get(portal + "/tap/tables", headers=BROWSER)
    assert tables.headers["content-type"].startswith("text/html") and "ivoa.ObsCore" in tables.text
    assert httpx.get(portal + "/tap/tables").headers["content-type"].startswith("text/xml")
    examples = httpx.get(portal + "/tap/examples", headers=BROWSER)
    document = html.fromstring(examples.text)
    assert document.xpath('//*[@property="query"]') and document.xpath('//a[@class="button"]')
    assert httpx.get(portal + "/tap/examples").headers["content-type"] == "application/xhtml+xml"


@pytest.mark.parametrize("params, adql_condition", [
    ({"target": "ngc10"}, "target_name ILIKE 'ngc10%'"),     # a name by its beginning
    ({"target": "NgC104"}, "target_name ILIKE 'ngc104%'"),   # in any case
    ({"target": "NGC_04"}, None),                            # '_' is itself, not any letter
    ({"target": "%"}, None),                                 # '%' is itself, not anything
    ({"obs_id": "Ib"}, "obs_id ILIKE 'ib%'"),
    ({"instrument": "ACS/WFC"}, "instrument_name = 'ACS/WFC'"),
])
def test_names_match_by_their_beginning_in_any_case(portal, params, adql_condition):
    expected = 0
    if adql_condition:
        response = httpx.get(portal + "/tap/sync", params={
            "LANG": "ADQL", "FORMAT": "csv",
            "QUERY": f"SELECT COUNT(*) FROM ivoa.ObsCore WHERE {adql_condition}"})
        expected = int(response.text.splitlines()[1])
        assert expected > 0
    assert total(page(portal, **params)) == expected


@pytest.mark.parametrize("constraints, index, ordered", [
    ({"target": "Nowhere-Near"}, "obscore_rows_target_key_idx", False),
    ({"target": "ngc1"}, "obscore_rows_target_key_idx", False),
    ({"obs_id": "Ib"}, "obscore_rows_obs_id_key_idx", False),
    ({"instrument": ["ACS/WFC"]}, "obscore_rows_instrument_idx", True),
])
def test_a_search_reads_an_index_of_its_constraint_not_every_row(portal, constraints, index,
                                                                  ordered):
    """At archive scale a name that matches nothing read all 2.9 million rows (ILIKE), and a
    refinement to one instrument read the obs_id index through every other instrument's rows
    first: each constraint is one an index answers under the row policies, and one
    instrument's page comes from its index in obs_id order (no sort of all its rows)."""
    with psycopg.connect(PORTAL_DB[portal]) as conn:
        conn.execute("SET ROLE hstvo_reader")  # as the portal reads: under the row policies
        # the samples are few: any plan would do there, so the ones that read every row (or,
        # for a page in order, sort every row selected) are ruled out to see whether another
        # is at hand
        conn.execute("SET enable_seqscan = off")
        conn.execute(f"SET enable_sort = {'off' if ordered else 'on'}")
        condition = conn.execute("SELECT portal.condition(%s)", (Jsonb(constraints),)).fetchone()[0]
        query = f"SELECT s.obs_id FROM portal.searchable s WHERE {condition}"
        if ordered:
            query += " ORDER BY s.obs_id NULLS LAST, s.obs_publisher_did LIMIT 50"
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
    assert index in plan and "Seq Scan on obscore_rows" not in plan, plan
    assert not ordered or "Presorted Key: o.obs_id" in plan, plan


@pytest.mark.parametrize("beginning, after", [
    ("ngc", "ngd"),
    ("m3", "m4"),
    ("é", "ê"),                      # byte order is code point order in UTF-8
    ("a\ud7ff", "a\ue000"),          # the successor skips the surrogates, which are no characters
    ("a\U0010ffff", None),           # nothing follows the last code point: no upper bound
    ("", None),
])
def test_the_range_of_names_that_begin_so_ends_at_the_next_character(portal, beginning, after):
    with psycopg.connect(PORTAL_DB[portal]) as conn:
        assert conn.execute("SELECT portal.after_beginning(%s)", (beginning,)).fetchone()[0] == after


@pytest.mark.parametrize("constraints, sort_by, descending, page_number", [
    ({}, "obs_id", False, 1),
    ({}, "obs_id", True, 2),
    ({"filter": ["F606W"]}, "obs_id", False, 1),
    ({"instrument": ["WFC3/UVIS", "ACS/WFC"]}, "t_min", True, 1),
    ({"target": "ngc"}, "target_name", False, 1),
    ({"calib_level": [2]}, "em_min", False, 2),
])
def test_a_page_found_first_and_sorted_is_the_page_read_in_order(portal, constraints, sort_by,
                                                                  descending, page_number):
    with psycopg.connect(PORTAL_DB[portal]) as conn:
        conn.execute("SET ROLE hstvo_reader")
        pages = [[row[0] for row in conn.execute(
                     "SELECT * FROM portal.page(%s, %s, %s, %s, 5, %s)",
                     (Jsonb(constraints), sort_by, descending, page_number, in_order))]
                 for in_order in (True, False)]
    assert pages[0] == pages[1] and pages[0]


def test_a_page_not_read_in_order_in_time_is_found_first_and_sorted(portal, caplog):
    """A page read in its sort order is given IN_ORDER_SECONDS (the rows it wants may lie at the
    far end of that order); then the rows selected are found first and sorted. Here the first
    read waits behind a lock until it is cut off; the second gets the table once it is free."""
    import asyncio
    import threading

    from pyserver.portal import search as portal_search
    from starlette.datastructures import QueryParams

    from pyserver.portal.constraints import read_search

    db_url = PORTAL_DB[portal]
    wanted = read_search(QueryParams("filter=F606W"))

    async def the_page() -> list[dict]:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            await conn.execute("SET ROLE hstvo_reader")
            return await portal_search._page(conn, wanted, Jsonb(wanted.constraints))

    expected = asyncio.run(the_page())
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        with psycopg.connect(db_url) as conn:
            conn.execute("LOCK TABLE hstvo.obscore_rows IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    locked.wait(10)
    threading.Timer(2 * portal_search.IN_ORDER_SECONDS, release.set).start()
    with caplog.at_level("INFO", logger="hstvo.portal"):
        found = asyncio.run(the_page())
    holder.join()
    assert found == expected and found
    assert "found first and sorted" in caplog.text
