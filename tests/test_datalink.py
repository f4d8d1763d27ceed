"""DataLink 1.1 at /datalink over real HTTP: the links of every kind of plane in the sample data,
checked by STILTS datalinklint, by pyvo, and against the database."""

import shutil
import subprocess

import httpx
import psycopg
import pytest
from lxml import etree
from pyvo.dal.adhoc import DatalinkResults

from .conftest import served_samples, tap_service


@pytest.fixture(scope="module")
def served(pg_server, template_db, tmp_path_factory):
    """The sample archive served over HTTP once for the module (the tests only read), its
    links pointing at this server (the server publishes its URL as service_url)."""
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("datalink"),
                        "hstvo_datalink") as found:
        yield found


@pytest.fixture
def service(served):
    return served[0]


@pytest.fixture
def db_url(served):
    return served[1]


def links(base: str, *ids: str, method: str = "GET") -> DatalinkResults:
    if method == "GET":
        response = httpx.get(base + "/datalink", params=[("ID", i) for i in ids])
    else:
        response = httpx.post(base + "/datalink", data={"ID": list(ids)})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-votable+xml;content=datalink"
    return DatalinkResults.from_result_url(str(response.url)) if method == "GET" else response


def test_datalinklint_finds_no_error_for_any_kind_of_plane(service, db_url):
    if shutil.which("stilts") is None:
        pytest.fail("stilts is missing: `make test` installs it (apt-get install stilts)")
    with psycopg.connect(db_url) as conn:
        dids = [d for (d,) in conn.execute("SELECT obs_publisher_did FROM ivoa.obscore ORDER BY 1")]
    assert len(dids) == 11
    for ids in [[d] for d in dids] + [["no-such-product"], [], dids]:
        url = str(httpx.URL(service + "/datalink", params=[("ID", i) for i in ids]))
        report = subprocess.run(["stilts", "datalinklint", f"votable={url}"], capture_output=True,
                                text=True, timeout=120).stdout
        assert "Totals: Errors: 0; Warnings: 0" in report, (ids, report)


def test_the_links_of_an_acs_exposure(service, db_url):
    did = "caom:HST/j94f05bgq/j94f05bgq_flt"
    result = links(service, did)
    rows = list(result)
    this = [r for r in rows if r.semantics == "#this"]
    assert len(this) == 1 and this[0].access_url == service + "/files/HST/j94f05bgq_flt.fits"
    assert this[0]["content_qualifier"] == "#image"
    with psycopg.connect(db_url) as conn:
        size = conn.execute("SELECT contentlength FROM caom2.artifact WHERE uri = "
                            "'mast:HST/product/j94f05bgq_flt.fits'").fetchone()[0]
        references = {k.lower(): f for k, f in conn.execute(
            "SELECT r.keyword, r.file_name FROM hst.plane_reference_file r JOIN caom2.plane p "
            "USING (planeid) WHERE p.planeuri = %s AND r.file_name IS NOT NULL", (did,))}
    assert this[0]["content_length"] == size
    calibration = {r["local_semantics"]: r.access_url.rsplit("/", 1)[1] for r in rows
                   if r.semantics == "#calibration"}
    assert calibration == references and "biasfile" in calibration
    [cutout] = [r for r in rows if r.semantics == "#cutout"]
    assert cutout["service_def"] == "soda"
    soda = {p.name: str(p.value) for p in result.get_adhocservice_by_id("soda").params}
    assert soda["accessURL"] == service + "/soda/sync"
    assert soda["standardID"] == "ivo://ivoa.net/std/SODA#sync-1.0"


def test_many_ids_keep_their_order_and_unknown_ones_get_an_error_row(service):
    ids = ["ivo://hstvo.example/HST?ib4606cpq/ib4606cpq_flt", "nothing-here",
           "caom:HST/o4sp040b0/o4sp040b0_raw"]
    rows = list(links(service, *ids))
    seen = []
    for row in rows:
        if not seen or seen[-1] != row["ID"]:
            seen.append(row["ID"])
    assert seen == ids, "each ID's rows together, in the order asked"
    [error] = [r for r in rows if r["ID"] == "nothing-here"]
    assert error["error_message"].startswith("NotFoundFault: ")
    spectrum = [r for r in rows if r["ID"] == ids[2]]
    assert not any(r.semantics == "#cutout" for r in spectrum), "a spectrum has no footprint"
    assert [r["content_qualifier"] for r in spectrum if r.semantics == "#this"] == ["#spectrum"]


def test_post_and_bad_response_formats(service):
    response = links(service, "caom:HST/j9irw1rqq/j9irw1rqq_flt", method="POST")
    tree = etree.fromstring(response.content)
    assert len(tree.xpath("//*[local-name()='TR']")) > 5
    bad = httpx.get(service + "/datalink", params={"ID": "x", "RESPONSEFORMAT": "text/csv"})
    assert bad.status_code == 400 and b"UsageFault" in bad.content


def test_obscore_access_url_is_the_products_datalink(service):
    """TAP and DataLink cannot disagree: every ObsCore row's access_url answers with that
    product's links, its files first (#this, or #auxiliary for a plane of auxiliary files only,
    as FOS's c1f)."""
    with tap_service(service + "/tap") as tap:
        rows = tap.run_sync("SELECT obs_publisher_did, access_url, access_format FROM ivoa.ObsCore").to_table()
    assert len(rows) == 11
    for did, url, fmt in zip(rows["obs_publisher_did"], rows["access_url"], rows["access_format"]):
        assert fmt == "application/x-votable+xml;content=datalink"
        result = DatalinkResults.from_result_url(str(url))
        first = list(result)[0]
        assert first["ID"] == did and first.semantics in ("#this", "#auxiliary")
        assert first.access_url.startswith(service + "/files/HST/")


def test_files_serves_what_the_links_name(service):
    rows = list(links(service, "caom:HST/j94f05bgq/j94f05bgq_flt"))
    [this] = [r for r in rows if r.semantics == "#this"]
    response = httpx.get(this.access_url)
    assert response.status_code == 200 and len(response.content) > 2880
    assert httpx.get(service + "/files/HST/nothing.fits").status_code == 404
    assert httpx.get(service + "/files/HST/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_files_answer_range_requests_and_unpack_as_fits(service):
    url = service + "/files/HST/j8bt05njq_raw.fits"  # kept gzipped in the archive
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/fits"
    assert whole.headers["content-encoding"] == "gzip" and whole.headers["etag"].startswith('"')
    assert whole.content[:30] == b"SIMPLE  =                    T"  # httpx unpacked it
    with httpx.stream("GET", url, headers={"Range": "bytes=0-99"}) as part:
        raw = b"".join(part.iter_raw())  # the stored (gzip) bytes, not unpacked
        assert part.status_code == 206 and part.headers["content-range"].startswith("bytes 0-99/")
    assert len(raw) == 100 and raw[:2] == b"\x1f\x8b"
