"""TAP 1.1 sync queries and VOSI over real HTTP, with pyvo as the client."""

import io

import httpx
import numpy as np
import pytest
from astropy.io.votable import parse_single_table
from lxml import etree

from .conftest import run_hstvo, served_samples, tap_service


@pytest.fixture(scope="module")
def served(pg_server, template_db, tmp_path_factory):
    """The samples served once for the module (the tests only read): (base URL, database URL)."""
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("tap_sync"),
                        "hstvo_tap_sync") as found:
        yield found


@pytest.fixture
def tap(served):
    return served[0] + "/tap"


def _error_of(response: httpx.Response) -> str:
    tree = etree.fromstring(response.content)
    [info] = tree.xpath("//*[local-name()='INFO'][@name='QUERY_STATUS']")
    assert info.get("value") == "ERROR"
    return info.text


def test_pyvo_sync_query_returns_typed_columns(tap):
    with tap_service(tap) as service:
        result = service.run_sync("SELECT TOP 20 obs_id, t_min, t_exptime, calib_level, s_region, "
                              "obs_release_date FROM ivoa.ObsCore WHERE s_region IS NOT NULL "
                              "ORDER BY obs_id")
    table = result.to_table()
    assert len(table) == 7
    assert list(table["obs_id"])[:2] == ["ib4606c5q", "ib4606cpq"]
    assert table["t_min"].dtype.kind == "f" and table["calib_level"].dtype.kind == "i"
    assert table["t_min"].unit == "d"
    assert str(table["s_region"][0]).startswith("Polygon ICRS 137.9")
    fields = {f.name: f for f in result.resultstable.fields}
    assert fields["obs_release_date"].xtype == "timestamp"
    assert fields["obs_id"].ucd == "meta.id"


def test_cone_search_through_pyvo(tap):
    with tap_service(tap) as service:
        rows = service.run_sync("SELECT obs_id FROM ivoa.ObsCore WHERE 1 = CONTAINS("
                            "POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 6.02, -72.08, 0.05))")
    assert sorted(rows["obs_id"]) == ["j8bt05njq"]


def test_post_and_parameter_names_are_case_insensitive(tap):
    response = httpx.post(tap + "/sync", data={"lang": "ADQL", "Query": "SELECT COUNT(*) AS n "
                                               "FROM ivoa.ObsCore", "REQUEST": "doQuery"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert table["n"][0] == 11


def test_maxrec_overflow_is_announced_after_the_table(tap):
    response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "MAXREC": "3",
                                                "QUERY": "SELECT obs_id FROM ivoa.ObsCore"})
    tree = etree.fromstring(response.content)
    assert len(tree.xpath("//*[local-name()='TR']")) == 3
    statuses = [i.get("value") for i in tree.xpath("//*[local-name()='INFO'][@name='QUERY_STATUS']")]
    assert statuses == ["OK", "OVERFLOW"]
    exact = httpx.get(tap + "/sync", params={"LANG": "ADQL", "MAXREC": "11",
                                             "QUERY": "SELECT obs_id FROM ivoa.ObsCore"})
    assert b"OVERFLOW" not in exact.content
    metadata = httpx.get(tap + "/sync", params={"LANG": "ADQL", "MAXREC": "0",
                                                "QUERY": "SELECT obs_id FROM ivoa.ObsCore"})
    assert b"<FIELD" in metadata.content and b"<TR>" not in metadata.content


def test_csv_and_tsv(tap):
    query = "SELECT TOP 2 obs_id, POINT(s_ra, s_dec) AS p FROM ivoa.ObsCore WHERE s_ra IS NOT NULL ORDER BY obs_id"
    csv = httpx.get(tap + "/sync", params={"LANG": "ADQL", "RESPONSEFORMAT": "csv", "QUERY": query})
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "obs_id,p" and lines[1].startswith("ib4606c5q,137.8")
    tsv = httpx.get(tap + "/sync", params={"LANG": "ADQL", "FORMAT": "tsv", "QUERY": query})
    assert tsv.text.splitlines()[0] == "obs_id\tp"


@pytest.mark.parametrize("params, status, message", [
    ({"QUERY": "SELECT 1 FROM ivoa.ObsCore"}, 400, "LANG is missing"),
    ({"LANG": "SQL", "QUERY": "SELECT 1 FROM ivoa.ObsCore"}, 400, "LANG=SQL is not supported"),
    ({"LANG": "ADQL"}, 400, "QUERY is missing"),
    ({"LANG": "ADQL", "QUERY": "SELECT nothing FROM ivoa.ObsCore"}, 400, "unknown column nothing"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1 FROM ivoa.ObsCore", "RESPONSEFORMAT": "hdf5"}, 400,
     "RESPONSEFORMAT=hdf5 is not supported"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1 FROM ivoa.ObsCore", "MAXREC": "many"}, 400, "MAXREC=many"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1 / 0 FROM ivoa.ObsCore"}, 400,
     "division by zero"),
    ({"LANG": "ADQL", "QUERY": "DELETE FROM caom2.plane"}, 400, "only SELECT queries"),
    # the adql.* functions' own refusals reach the user in their words (DALI strings)
    ({"LANG": "ADQL", "QUERY": "SELECT CAST('10 x' AS POINT) FROM ivoa.ObsCore"}, 400,
     "a DALI point is two numbers (ra dec), not '10 x'"),
    ({"LANG": "ADQL", "QUERY": "SELECT CAST('1 2 3 4' AS POLYGON) FROM ivoa.ObsCore"}, 400,
     "a DALI polygon is three or more pairs of numbers (ra1 dec1 ra2 dec2 ...), not '1 2 3 4'"),
])
def test_errors_are_dali_error_documents(tap, params, status, message):
    response = httpx.get(tap + "/sync", params=params)
    assert response.status_code == status
    assert _error_of(response).startswith(message)


def test_a_hostile_query_leaves_the_database_unharmed(tap, served):
    import psycopg

    db_url = served[1]
    for query in ["SELECT 1 FROM ivoa.ObsCore; DELETE FROM caom2.plane",
                  "SELECT pg_terminate_backend(1) FROM ivoa.ObsCore",
                  "SELECT * FROM pg_catalog.pg_shadow"]:
        response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": query})
        assert response.status_code == 400
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM caom2.plane").fetchone()[0] == 11


def test_vosi_capabilities_availability_tables(tap):
    capabilities = etree.fromstring(httpx.get(tap + "/capabilities").content)
    standards = capabilities.xpath("//capability/@standardID")
    assert "ivo://ivoa.net/std/TAP" in standards
    assert "ivo://ivoa.net/std/VOSI#tables-1.1" in standards
    forms = capabilities.xpath("//languageFeatures/feature/form/text()")
    assert {"POINT", "CONTAINS", "OFFSET", "WITH", "CAST"} <= set(forms)
    availability = etree.fromstring(httpx.get(tap + "/availability").content)
    assert availability.xpath("//*[local-name()='available']/text()") == ["true"]
    tableset = etree.fromstring(httpx.get(tap + "/tables").content)
    names = tableset.xpath("//table/name/text()")
    assert {"ivoa.ObsCore", "caom2.Plane", "tap_schema.columns"} <= set(names)
    one = httpx.get(tap + "/tables/ivoa.ObsCore")
    assert one.status_code == 200 and b"<name>s_region</name>" in one.content
    assert httpx.get(tap + "/tables/nope.nothing").status_code == 404


def test_pyvo_reads_the_tableset(tap):
    with tap_service(tap) as service:
        assert "ivoa.ObsCore" in [t.name for t in service.tables]
        obscore = service.tables["ivoa.ObsCore"]
    assert "s_region" in [c.name for c in obscore.columns]


def test_queries_run_as_a_role_that_reads_only_what_is_published(db_url):
    """Even SQL that got past the translator could not read unpublished tables or columns."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        conn.execute("SET LOCAL ROLE hstvo_tap")
        assert conn.execute("SELECT count(*) FROM ivoa.obscore").fetchone()[0] == 0
        conn.execute("SELECT observationid FROM caom2.observation")
        conn.execute("SELECT obs_id, access_url FROM ivoa.obscore")  # URLs read the public configuration
        for forbidden in ("SELECT count(*) FROM hst.archive_file", "SELECT count(*) FROM uws.job",
                          "SELECT empty_elements FROM caom2.observation",
                          "SELECT description FROM hstvo.setting"):
            with conn.transaction():
                conn.execute("SAVEPOINT probe")
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(forbidden)
                conn.execute("ROLLBACK TO SAVEPOINT probe")


def test_binary2_reads_back_as_the_tabledata_does(tap):
    """astropy's VOTable parser is the oracle: BINARY2 carries the same values, NULLs included."""
    query = ("SELECT obs_id, calib_level, t_min, t_exptime, s_ra, s_region, obs_release_date, "
             "POINT(s_ra, s_dec) AS p, em_res_power FROM ivoa.ObsCore ORDER BY obs_id")
    tables = {}
    for fmt in ("votable", "votable/b2"):
        response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "RESPONSEFORMAT": fmt, "QUERY": query})
        assert response.status_code == 200
        tables[fmt] = parse_single_table(io.BytesIO(response.content)).to_table()
    assert b"<BINARY2>" in httpx.get(tap + "/sync", params={
        "LANG": "ADQL", "RESPONSEFORMAT": "votable/b2", "QUERY": query}).content
    text, binary = tables["votable"], tables["votable/b2"]
    assert len(binary) == len(text) == 11
    for name in text.colnames:
        for a, b in zip(text[name], binary[name]):
            assert str(a) == str(b), (name, a, b)


# astroquery's connections are left for the garbage collector: collected here, warnings ignored
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_astroquery_tapplus_sync_and_async(tap):
    import gc

    from astroquery.utils.tap.core import TapPlus

    client = TapPlus(url=tap, verbose=False)
    rows = client.launch_job("SELECT TOP 3 obs_id, t_exptime FROM ivoa.ObsCore ORDER BY obs_id").get_results()
    assert list(rows["obs_id"]) == ["ib4606c5q", "ib4606cpq", "ibc301qrq"]
    assert str(rows["t_exptime"].unit) == "s"
    counted = client.launch_job_async("SELECT COUNT(*) AS n FROM ivoa.ObsCore").get_results()
    assert counted["n"][0] == 11
    gc.collect()


def _votable(table) -> bytes:
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    return buffer.getvalue()


def test_upload_cross_match_with_pyvo(tap):
    from astropy.table import Table

    targets = Table({"name": ["47tuc", "omegacen", "nowhere"], "ra": [6.0236, 201.6967, 100.0],
                     "dec": [-72.0813, -47.4743, 10.0]})
    with tap_service(tap) as service:
        rows = service.run_sync(
            "SELECT u.name, o.obs_id FROM TAP_UPLOAD.targets AS u JOIN ivoa.ObsCore AS o "
            "ON 1 = INTERSECTS(o.s_region, CIRCLE('ICRS', u.ra, u.dec, 0.2)) ORDER BY o.obs_id",
            uploads={"targets": targets}).to_table()
    assert [(str(n), str(o)) for n, o in zip(rows["name"], rows["obs_id"])] == [
        ("omegacen", "ibc301qrq"), ("47tuc", "j8bt05njq"), ("47tuc", "j94f05bgq"), ("47tuc", "j9irw1rqq")]


@pytest.mark.parametrize("upload, files, message", [
    ("t,param:missing", {}, "UPLOAD t: the POST has no part of that name"),
    ("t,param:f", {"f": b"<VOTABLE>broken"}, "UPLOAD t: not a readable VOTable"),
    ("t,http://elsewhere.example/t.xml", {}, "UPLOAD t: only URLs of this service"),
    ("t,ftp://x/t.xml", {}, "UPLOAD t: ftp://x/t.xml is neither param:part nor an http(s) URL"),
    ("bad name,param:f", {"f": b""}, "UPLOAD=bad name,param:f is not name,param:part"),
])
def test_bad_uploads_are_refused(tap, upload, files, message):
    response = httpx.post(tap + "/sync", data={"LANG": "ADQL", "UPLOAD": upload,
                                               "QUERY": "SELECT * FROM TAP_UPLOAD.t"},
                          files={k: ("t.xml", v) for k, v in files.items()} or None)
    assert response.status_code == 400
    assert _error_of(response).startswith(message)


def test_upload_by_url_of_this_service_and_async(tap):
    """A table this service itself serves (an async result) can be uploaded by URL."""
    import time as clock

    first = httpx.post(tap + "/async", data={"LANG": "ADQL", "PHASE": "RUN",
                                              "QUERY": "SELECT obs_id, s_ra, s_dec FROM ivoa.ObsCore "
                                                       "WHERE s_ra IS NOT NULL"})
    job = first.headers["location"]
    deadline = clock.monotonic() + 30
    while httpx.get(job + "/phase").text != "COMPLETED":
        assert clock.monotonic() < deadline
        clock.sleep(0.1)
    query = "SELECT COUNT(*) AS n FROM TAP_UPLOAD.mine"
    sync = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": query,
                                            "UPLOAD": f"mine,{job}/results/result"})
    assert sync.status_code == 200, sync.text
    assert parse_single_table(io.BytesIO(sync.content)).to_table()["n"][0] == 7
    again = httpx.post(tap + "/async", data={"LANG": "ADQL", "PHASE": "RUN", "QUERY": query,
                                              "UPLOAD": "mine,param:f"},
                       files={"f": ("t.xml", httpx.get(job + "/results/result").content)})
    url = again.headers["location"]
    deadline = clock.monotonic() + 30
    while httpx.get(url + "/phase").text not in ("COMPLETED", "ERROR"):
        assert clock.monotonic() < deadline
        clock.sleep(0.1)
    result = parse_single_table(io.BytesIO(httpx.get(url + "/results/result").content)).to_table()
    assert result["n"][0] == 7


TRICKY = ["plain", "a <b> & 'c' \"d\"", "comma, and\nnew line", "tab\there", "ünïcødé ✓", "", None]


def _formats_of(tap: str, query: str, **extra) -> dict:
    """The result of `query` in every output format: astropy tables for the VOTables, rows of
    strings for CSV and TSV."""
    import csv

    results = {}
    for fmt in ("votable", "votable/b2", "csv", "tsv"):
        response = httpx.post(tap + "/sync", data={"LANG": "ADQL", "RESPONSEFORMAT": fmt,
                                                   "QUERY": query, **extra.get("data", {})},
                              files=extra.get("files"))
        assert response.status_code == 200, response.text
        if fmt.startswith("votable"):
            results[fmt] = parse_single_table(io.BytesIO(response.content)).to_table()
        else:
            delimiter = "," if fmt == "csv" else "\t"
            results[fmt] = list(csv.reader(io.StringIO(response.text, newline=""),
                                           delimiter=delimiter))
    return results


def test_every_format_carries_tricky_text_booleans_and_nulls(tap):
    """Rows are written by the database (sql/63_votable.sql): XML and CSV escaping, UTF-8,
    booleans and NULLs read back exactly in TABLEDATA, BINARY2, CSV and TSV."""
    from astropy.table import MaskedColumn, Table

    table = Table({"k": list(range(len(TRICKY))),
                   "s": MaskedColumn([t or "" for t in TRICKY], mask=[t is None for t in TRICKY]),
                   "b": MaskedColumn([True, False, True, False, True, False, True],
                                     mask=[False] * 6 + [True]),
                   "x": MaskedColumn([1.5, -2.0, 1e-300, 3e300, 0.0, 7.25, 0.0],
                                     mask=[False] * 6 + [True])})
    results = _formats_of(tap, "SELECT k, s, b, x FROM TAP_UPLOAD.t ORDER BY k",
                          data={"UPLOAD": "t,param:f"}, files={"f": ("t.xml", _votable(table))})
    for fmt in ("votable", "votable/b2"):
        got = results[fmt]
        # an empty string and NULL are both an empty char value in a VOTable
        assert ["" if v is np.ma.masked else str(v) for v in got["s"]] == [t or "" for t in TRICKY], fmt
        assert [None if v is np.ma.masked else bool(v) for v in got["b"]] == \
            [True, False, True, False, True, False, None], fmt
        assert list(got["x"][:6]) == [1.5, -2.0, 1e-300, 3e300, 0.0, 7.25], fmt
        assert got["x"][6] is np.ma.masked, fmt
    for fmt in ("csv", "tsv"):
        header, *rows = results[fmt]
        assert header == ["k", "s", "b", "x"]
        assert [r[1] for r in rows] == [t or "" for t in TRICKY], fmt
        assert [r[2] for r in rows] == ["T", "F", "T", "F", "T", "F", ""], fmt
        assert [r[3] for r in rows] == ["1.5", "-2", "1e-300", "3e+300", "0", "7.25", ""], fmt


def test_every_type_of_the_caom2_tables_reads_back_alike(tap):
    """uuids (char 36), char(1), timestamps, intervals (double 2), sample arrays (double *),
    points, circles and polygons: BINARY2 and TABLEDATA agree value for value, and CSV has the
    TABLEDATA text."""
    query = ("SELECT o.obsID, o.typeCode, o.lastModified, p.energy_bounds, p.time_bounds, "
             "p.position_bounds_samples, p.position_bounds, POINT(s.s_ra, s.s_dec) AS pt, "
             "CIRCLE(s.s_ra, s.s_dec, 0.5) AS c, s.s_region, p.calibrationLevel "
             "FROM caom2.Observation AS o JOIN caom2.Plane AS p ON p.obsID = o.obsID "
             "JOIN ivoa.ObsCore AS s ON s.obs_publisher_did = p.publisherID ORDER BY p.planeURI")
    results = _formats_of(tap, query)
    text, binary = results["votable"], results["votable/b2"]
    assert len(text) == len(binary) == 11
    for name in text.colnames:
        assert text[name].dtype == binary[name].dtype, name
        for a, b in zip(text[name], binary[name]):
            assert str(a) == str(b), (name, a, b)
    assert all(len(str(v)) == 36 for v in text["obsID"])
    assert set(map(str, text["typeCode"])) <= {"S", "C"}
    assert str(text["lastModified"][0])[10] == "T"
    assert text["pt"].shape == (11, 2) and text["c"].shape == (11, 3)
    header, *rows = results["csv"]
    assert header == list(text.colnames)
    for row, obsid, region in zip(rows, text["obsID"], text["s_region"]):
        assert row[0] == str(obsid)
        assert row[9] == str(region)
    assert sum(row[9].startswith("Polygon ICRS ") for row in rows) == 7  # as many as have s_ra


def test_every_type_the_service_declares_has_its_writers(db_url):
    """Each PostgreSQL type the service maps to a VOTable datatype has its text writer
    (votable.cell) and, unless it is text, its BINARY2 writer (votable.b2)."""
    import psycopg

    from pyserver.votable import PG_TYPES, TEXT_TYPES

    with psycopg.connect(db_url) as conn:
        have = {(name, typname) for name, typname in conn.execute(
            "SELECT p.proname, t.typname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " JOIN pg_type t ON t.oid = p.proargtypes[0]"
            " WHERE n.nspname = 'votable' AND p.proname IN ('cell', 'b2') AND p.pronargs = 1")}
    for pg_type, (datatype, _, _) in PG_TYPES.items():
        if pg_type in TEXT_TYPES:
            continue
        arg = "anyarray" if pg_type.startswith("_") else pg_type
        assert ("cell", arg) in have, pg_type
        if datatype != "char":
            assert ("b2", arg) in have, pg_type


def test_a_result_wider_than_a_hundred_columns(tap):
    """Over a hundred columns (more than a PostgreSQL function takes arguments, and many bytes
    of BINARY2 NULL mask) in every format."""
    results = _formats_of(tap, "SELECT * FROM caom2.Plane AS p JOIN caom2.Observation AS o "
                               "ON o.obsID = p.obsID JOIN ivoa.ObsCore AS s "
                               "ON s.obs_publisher_did = p.publisherID ORDER BY p.planeURI")
    text, binary = results["votable"], results["votable/b2"]
    assert len(text.colnames) > 100 and len(text) == len(binary) == 11
    for name in text.colnames:
        for a, b in zip(text[name], binary[name]):
            assert str(a) == str(b), (name, a, b)
    for fmt in ("csv", "tsv"):
        header, *rows = results[fmt]
        assert len(header) == len(text.colnames) and len(rows) == 11
        assert all(len(row) == len(header) for row in rows)


def test_in_unit_results_carry_the_unit_asked_for(tap):
    with tap_service(tap) as service:
        result = service.run_sync("SELECT TOP 3 obs_id, t_exptime, IN_UNIT(t_exptime, 'h') AS hours, "
                                  "IN_UNIT(em_min, 'nm') FROM ivoa.ObsCore WHERE em_min IS NOT NULL "
                                  "ORDER BY obs_id").to_table()
    assert str(result["hours"].unit) == "h" and str(result["em_min"].unit) == "nm"
    for seconds, hours in zip(result["t_exptime"], result["hours"]):
        assert hours == pytest.approx(seconds / 3600)
    capabilities = httpx.get(tap + "/capabilities").text
    assert "#features-adql-unit" in capabilities and "<form>BOX</form>" in capabilities


def test_uploaded_points_circles_and_polygons_are_geometry(tap):
    """DALI point/circle/polygon columns of an upload are pgsphere values: usable in CONTAINS and
    INTERSECTS, and they come back as they went in."""
    from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile

    votable = VOTableFile()
    resource = Resource()
    votable.resources.append(resource)
    table = TableElement(votable)
    resource.tables.append(table)
    table.fields.extend([
        Field(votable, name="name", datatype="char", arraysize="*"),
        Field(votable, name="pos", datatype="double", arraysize="2", xtype="point"),
        Field(votable, name="zone", datatype="double", arraysize="3", xtype="circle"),
        Field(votable, name="box", datatype="double", arraysize="*", xtype="polygon")])
    table.create_arrays(2)
    table.array[0] = ("47tuc", [6.0236, -72.0813], [6.0236, -72.0813, 0.2],
                      [5.0, -73.0, 7.0, -73.0, 7.0, -71.0, 5.0, -71.0])
    table.array[1] = ("nowhere", [100.0, 10.0], [100.0, 10.0, 0.2],
                      [99.0, 9.0, 101.0, 9.0, 101.0, 11.0])
    buffer = io.BytesIO()
    votable.to_xml(buffer)
    query = ("SELECT u.name, u.pos, u.zone, u.box, o.obs_id FROM TAP_UPLOAD.t AS u JOIN ivoa.ObsCore AS o "
             "ON 1 = CONTAINS(POINT(o.s_ra, o.s_dec), u.zone) "
             "AND 1 = CONTAINS(POINT(o.s_ra, o.s_dec), u.box) "
             "AND DISTANCE(u.pos, POINT(o.s_ra, o.s_dec)) < 0.2 ORDER BY o.obs_id")
    results = _formats_of(tap, query, data={"UPLOAD": "t,param:f"},
                          files={"f": ("t.xml", buffer.getvalue())})
    for fmt in ("votable", "votable/b2"):
        got = results[fmt]
        assert list(got["obs_id"]) == ["j8bt05njq", "j94f05bgq", "j9irw1rqq"], fmt
        assert got["pos"][0].tolist() == pytest.approx([6.0236, -72.0813]), fmt
        assert got["zone"][0].tolist() == pytest.approx([6.0236, -72.0813, 0.2]), fmt
        assert got["box"][0].tolist() == pytest.approx([5.0, -73.0, 7.0, -73.0, 7.0, -71.0, 5.0, -71.0]), fmt


def test_limits_are_settings_and_the_capabilities_declare_them(db_url, tmp_path):
    from .conftest import serving

    run_hstvo("samples", db_url=db_url, check=True)
    with serving(db_url, tmp_path / "serve.log", HSTVO_TAP_MAXREC="2", HSTVO_TAP_MAXREC_HARD="4",
                 HSTVO_TAP_SYNC_SECONDS="1", HSTVO_TAP_ASYNC_SECONDS="30") as base:
        tap = base + "/tap"
        capabilities = httpx.get(tap + "/capabilities").text
        assert '<default unit="row">2</default><hard unit="row">4</hard>' in capabilities
        assert "<executionDuration><default>30</default>" in capabilities

        def rows(**params) -> int:
            response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": "SELECT obs_id FROM ivoa.ObsCore",
                                                        **params})
            return len(etree.fromstring(response.content).xpath("//*[local-name()='TR']"))

        assert rows() == 2 and rows(MAXREC="3") == 3 and rows(MAXREC="100") == 4
        slow = httpx.get(tap + "/sync", params={
            "LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM ivoa.ObsCore AS a, ivoa.ObsCore AS b, "
                                     "ivoa.ObsCore AS c, ivoa.ObsCore AS d, ivoa.ObsCore AS e, "
                                     "ivoa.ObsCore AS f, ivoa.ObsCore AS g, ivoa.ObsCore AS h, "
                                     "ivoa.ObsCore AS i"})
        assert "ran longer than 1 s" in _error_of(slow)
