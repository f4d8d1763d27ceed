"""Hostile input over real HTTP: no 5xx, no request that stalls the service, the async runner
survives every bad job, and every error is the protocol's document.

One server for the module (the sample archive, two async slots); each test leaves it as it
found it, and the last test checks that nothing was left behind in the database.
"""

from __future__ import annotations

import io
import socket
import threading
import time

import httpx
import numpy as np
import psycopg
import pytest
from astropy.io import fits
from astropy.io.votable import from_table, writeto
from astropy.table import Table
from lxml import etree

from .conftest import SAMPLE_DATA, served_samples

TOKEN = "hostile-token"
RAW_ID = "caom:HST/j8bt05njq/j8bt05njq_raw"
VOTABLE = "application/x-votable+xml"


@pytest.fixture(scope="module")
def service(pg_server, template_db, tmp_path_factory):
    """The sample archive served by one server for the whole module; yields (base, db url)."""
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("hostile"),
                        "hstvo_hostile", HSTVO_TOKEN=TOKEN, HSTVO_TAP_ASYNC_SLOTS="2",
                        HSTVO_TAP_SYNC_SECONDS="20") as (base, url):
        yield base, url


def _votable(rows: int = 3, columns: int = 1, **extra) -> bytes:
    """A small VOTable upload: columns c0..cN of integers, plus the `extra` columns."""
    table = Table({f"c{i}": np.arange(rows) for i in range(columns)})
    for name, values in extra.items():
        table[name] = values
    buffer = io.BytesIO()
    writeto(from_table(table), buffer)
    return buffer.getvalue()


def _dali_error(response: httpx.Response) -> str:
    """The message of a DALI error document (a VOTable with QUERY_STATUS=ERROR)."""
    tree = etree.fromstring(response.content)
    info = tree.xpath("//*[local-name()='INFO'][@name='QUERY_STATUS']")[-1]  # DALI: the last
    assert info.get("value") == "ERROR"
    return info.text or ""


def _sync(base: str, query: str, **params) -> httpx.Response:
    return httpx.post(base + "/tap/sync", data={"LANG": "ADQL", "QUERY": query, **params},
                      timeout=60)


# ---------------------------------------------------------------------------------------------
# inputs that answered a bare 500: each is a 4xx with the protocol's error document
# ---------------------------------------------------------------------------------------------

DEEP = "SELECT " + "(" * 48 + "1" + ")" * 48 + " FROM ivoa.ObsCore"
SUBQUERIES = "SELECT * FROM " + "(SELECT * FROM " * 200 + "ivoa.ObsCore" + ") AS t" * 200

BAD_REQUESTS = [
    # (what, method, path, params, files, DALI error document?)
    ("48 nested parentheses", "POST", "/tap/sync", {"LANG": "ADQL", "QUERY": DEEP}, None, True),
    ("200 nested subqueries", "POST", "/tap/sync", {"LANG": "ADQL", "QUERY": SUBQUERIES}, None, True),
    ("a NUL in a DataLink ID", "GET", "/datalink", {"ID": "caom:HST/x\x00"}, None, True),
    ("a NUL in a SODA ID", "GET", "/soda/sync", {"ID": "a\x00", "POS": "CIRCLE 1 2 3"}, None, True),
    ("a NUL in a MOC parameter", "GET", "/moc", {"instrument": "ACS\x00"}, None, False),
    ("a NUL in an async parameter", "POST", "/tap/async", {"LANG": "ADQL",
                                                          "QUERY": "SELECT 1\x00"}, None, True),
    ("a NUL in a DataLink POST", "POST", "/datalink", {"ID": "caom:\x00"}, None, True),
    ("SODA POS=RANGE of words", "GET", "/soda/sync", {"ID": RAW_ID, "POS": "RANGE a b c d"}, None, False),
    ("SODA ragged BAND", "GET", "/soda/sync", {"ID": RAW_ID, "BAND": "1e-7", "POS": "CIRCLE 6 -72 1"},
     None, False),
    ("SODA empty BAND", "GET", "/soda/sync", {"ID": RAW_ID, "BAND": "", "POS": "CIRCLE 6 -72 1"}, None,
     False),
    ("SODA POL=(", "GET", "/soda/sync", {"ID": RAW_ID, "POL": "(", "POS": "CIRCLE 6 -72 1"}, None, False),
    ("SODA POL as a pattern", "GET", "/soda/sync", {"ID": RAW_ID, "POL": ".*", "POS": "CIRCLE 6 -72 1"},
     None, False),
    ("MOC calib_level too large", "GET", "/moc", {"calib_level": "99999999999"}, None, False),
    ("MOC order 29", "GET", "/moc", {"order": "29"}, None, False),
    ("repository START with an offset but a bad MAXREC", "GET", "/caom2repo/observations/HST",
     {"START": "2020-01-01T00:00:00+02:00", "MAXREC": "many"}, None, False),
]


def _request(base: str, method: str, path: str, params: dict, files=None) -> httpx.Response:
    if method == "GET":
        return httpx.get(base + path, params=params, timeout=60)
    return httpx.post(base + path, data=params, files=files, timeout=60)


@pytest.mark.parametrize("what, method, path, params, files, dali", BAD_REQUESTS,
                         ids=[r[0] for r in BAD_REQUESTS])
def test_bad_input_is_a_4xx_with_the_protocols_document(service, what, method, path, params,
                                                       files, dali):
    base, _ = service
    response = _request(base, method, path, params, files)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if dali:
        assert response.headers["content-type"].startswith(VOTABLE)
        assert _dali_error(response)
    else:
        assert response.text.strip()


@pytest.mark.parametrize("what, upload, message", [
    ("more than 1,600 columns", _votable(columns=1700), "more than"),
    ("columns a and A", _votable(a=[1, 2, 3], A=[4, 5, 6]), "two columns are called"),
    ("a bad timestamp", None, "cannot be stored"),
    ("a circle of two numbers", None, "circle of 2 numbers"),
])
def test_bad_uploads_are_refused_with_reasons(service, what, upload, message):
    base, _ = service
    if what == "a bad timestamp":
        upload = (b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/'
                  b'VOTable/v1.3"><RESOURCE><TABLE><FIELD name="t" datatype="char" arraysize="*" '
                  b'xtype="timestamp"/><DATA><TABLEDATA><TR><TD>not a time</TD></TR></TABLEDATA>'
                  b'</DATA></TABLE></RESOURCE></VOTABLE>')
    if what == "a circle of two numbers":
        upload = (b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/'
                  b'VOTable/v1.3"><RESOURCE><TABLE><FIELD name="c" datatype="double" arraysize="*" '
                  b'xtype="circle"/><DATA><TABLEDATA><TR><TD>1 2</TD></TR></TABLEDATA>'
                  b'</DATA></TABLE></RESOURCE></VOTABLE>')
    response = httpx.post(base + "/tap/sync", data={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t",
                                                    "UPLOAD": "t,param:t"},
                          files={"t": ("t.xml", upload)}, timeout=60)
    assert response.status_code == 400, response.text[:300]
    assert message in _dali_error(response)


def test_two_upload_tables_t_and_T_are_refused(service):
    base, _ = service
    table = _votable()
    response = httpx.post(base + "/tap/sync", data={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t",
                                                    "UPLOAD": "t,param:a;T,param:b"},
                          files={"a": ("a.xml", table), "b": ("b.xml", table)}, timeout=60)
    assert response.status_code == 400 and "two tables" in _dali_error(response)


@pytest.mark.parametrize("path", ["/caom2repo/observations/HST/j94f05bgq%00",
                                  "/tap/async/abc%00def", "/tap/async/abc%00/phase",
                                  "/files/HST/x%00.fits"])
def test_a_nul_in_a_path_is_a_400(service, path):
    base, _ = service
    response = httpx.get(base + path)
    assert response.status_code == 400, response.text


def test_a_repository_start_with_an_offset_is_honoured(service):
    base, _ = service
    listing = httpx.get(base + "/caom2repo/observations/HST",
                        params={"START": "2000-01-01T02:00:00+02:00"})
    assert listing.status_code == 200 and len(listing.text.splitlines()) == 11
    later = httpx.get(base + "/caom2repo/observations/HST",
                      params={"START": "2999-01-01T00:00:00-05:00"})
    assert later.status_code == 200 and later.text == ""


def test_deleting_an_unknown_job_is_a_404(service):
    base, _ = service
    assert httpx.delete(base + "/tap/async/nosuchjob").status_code == 404
    assert httpx.post(base + "/tap/async/nosuchjob", data={"ACTION": "DELETE"}).status_code == 404


def test_a_body_over_the_limit_is_refused(service):
    base, _ = service
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /tap/sync HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                     f"application/x-www-form-urlencoded\r\nContent-Length: {10 ** 9}\r\n\r\n"
                     "LANG=ADQL".encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_an_upload_cut_off_halfway_leaves_nothing(service):
    base, db_url = service
    with psycopg.connect(db_url) as conn:
        jobs_before = conn.execute("SELECT count(*) FROM uws.job").fetchone()[0]
    boundary = "cutoff"
    table = _votable(rows=2000)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"LANG\"\r\n\r\nADQL\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"QUERY\"\r\n\r\n"
            f"SELECT * FROM TAP_UPLOAD.t\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"UPLOAD\"\r\n\r\nt,param:t\r\n--{boundary}\r\nContent-Disposition: "
            f"form-data; name=\"t\"; filename=\"t.xml\"\r\n\r\n").encode() + table + \
        f"\r\n--{boundary}--\r\n".encode()
    host, port = base.removeprefix("http://").split(":")
    for path in ("/tap/async", "/tap/sync"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/"
                         f"form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
                         .encode() + body[:len(body) // 2])
    time.sleep(1)
    assert httpx.get(base + "/tap/availability").status_code == 200
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM uws.job").fetchone()[0] == jobs_before


def test_a_query_over_the_size_limit_is_refused(service):
    base, _ = service
    for ors in (14_000, 30_000):  # over the query limit; over the limit of a form's size
        response = _sync(base, "SELECT obs_id FROM ivoa.ObsCore WHERE " + " OR ".join(["1 = 1"] * ors))
        assert response.status_code in (400, 413) and "longer than" in _dali_error(response)


# ---------------------------------------------------------------------------------------------
# the async runner survives bad jobs
# ---------------------------------------------------------------------------------------------

def _job(base: str, query: str, files: dict | None = None, **params) -> str:
    response = httpx.post(base + "/tap/async", data={"LANG": "ADQL", "QUERY": query,
                                                     "PHASE": "RUN", **params},
                          files=files, follow_redirects=False, timeout=60)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _finished(job_url: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        phase = httpx.get(job_url + "/phase").text
        if phase in ("COMPLETED", "ERROR", "ABORTED"):
            return phase
        time.sleep(0.2)
    raise AssertionError(f"{job_url} still {phase}")


def test_bad_async_jobs_end_in_error_and_the_next_job_runs(service):
    base, db_url = service
    bad_time = (b'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/'
                b'VOTable/v1.3"><RESOURCE><TABLE><FIELD name="t" datatype="char" arraysize="*" '
                b'xtype="timestamp"/><DATA><TABLEDATA><TR><TD>31 Smarch 2020</TD></TR></TABLEDATA>'
                b'</DATA></TABLE></RESOURCE></VOTABLE>')
    jobs = [
        _job(base, "SELECT " + "(" * 60 + "1" + ")" * 60 + " FROM ivoa.ObsCore"),
        _job(base, "SELECT * FROM TAP_UPLOAD.t", files={"t": ("t.xml", bad_time)},
             UPLOAD="t,param:t"),
        _job(base, "SELECT * FROM TAP_UPLOAD.t", files={"t": ("t.xml", _votable(columns=1700))},
             UPLOAD="t,param:t"),
        _job(base, "SELECT 1 / 0 FROM ivoa.ObsCore"),
    ]
    for url in jobs:
        assert _finished(url) == "ERROR", httpx.get(url).text
        message = httpx.get(url + "/error").text
        assert message and "Traceback" not in message and "psycopg" not in message
    good = _job(base, "SELECT COUNT(*) AS n FROM ivoa.ObsCore")
    assert _finished(good) == "COMPLETED"
    assert b"<TD>11</TD>" in httpx.get(good + "/results/result").content


def test_only_the_parts_upload_names_are_kept(service):
    base, db_url = service
    table = _votable()
    response = httpx.post(base + "/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t",
                                                     "UPLOAD": "t,param:t"},
                          files={"t": ("t.xml", table), "junk1": ("a", b"x" * 100_000),
                                 "junk2": ("b", b"y" * 100_000)}, follow_redirects=False)
    assert response.status_code == 303
    job_id = response.headers["location"].rsplit("/", 1)[-1]
    with psycopg.connect(db_url) as conn:
        parts = [p for (p,) in conn.execute("SELECT part FROM uws.job_upload WHERE job_id = %s",
                                            (job_id,))]
    assert parts == ["t"]
    httpx.delete(response.headers["location"])


def test_time_limits_tell_what_to_do(service):
    base, _ = service
    slow = ("SELECT COUNT(*) FROM ivoa.ObsCore AS a, ivoa.ObsCore AS b, ivoa.ObsCore AS c, "
            "ivoa.ObsCore AS d, ivoa.ObsCore AS e, ivoa.ObsCore AS f, ivoa.ObsCore AS g, "
            "ivoa.ObsCore AS h, ivoa.ObsCore AS i WHERE a.s_ra + b.s_ra > c.s_ra - d.s_dec")
    job = _job(base, slow, EXECUTIONDURATION="1")
    assert _finished(job) == "ERROR"
    message = httpx.get(job + "/error").text
    assert "EXECUTIONDURATION" in message and "/tap/async" not in message
    httpx.delete(job)


# ---------------------------------------------------------------------------------------------
# clients that stop reading, heavy requests, self-referential uploads
# ---------------------------------------------------------------------------------------------

def _stalled_reader(base: str, source: str, query: str) -> socket.socket:
    """A client (from its own loopback address) that sends a sync query and never reads."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), source_address=(source, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = httpx.QueryParams({"LANG": "ADQL", "QUERY": query, "MAXREC": "10000000"}).__str__()
    sock.sendall(f"POST /tap/sync HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                 f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body}"
                 .encode())
    return sock


def test_clients_that_stop_reading_take_nothing_down(service):
    base, _ = service
    big = ("SELECT a.obs_id, b.obs_id, c.access_url, d.s_region FROM ivoa.ObsCore AS a, "
           "ivoa.ObsCore AS b, ivoa.ObsCore AS c, ivoa.ObsCore AS d, ivoa.ObsCore AS e")
    stalled = [_stalled_reader(base, f"127.0.0.{10 + n}", big) for n in range(12)]
    try:
        time.sleep(2)
        for _ in range(3):
            assert httpx.get(base + "/datalink", params={"ID": RAW_ID}, timeout=10).status_code == 200
            available = httpx.get(base + "/tap/availability", timeout=10)
            assert available.status_code == 200 and b"true" in available.content
        # a sync query is served, or told to come back: never a 500
        answer = _sync(base, "SELECT TOP 1 obs_id FROM ivoa.ObsCore")
        assert answer.status_code in (200, 503), answer.text[:200]
        assert _finished(_job(base, "SELECT COUNT(*) FROM ivoa.ObsCore")) == "COMPLETED"
    finally:
        for sock in stalled:
            sock.close()


def _latency_while(base: str, heavy) -> float:
    """The worst latency of a cheap request (the landing page) while `heavy` runs."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: (heavy(), done.set()))
    worker.start()
    latencies = []
    try:
        time.sleep(0.05)
        while not done.is_set() and len(latencies) < 50:
            started = time.perf_counter()
            assert httpx.get(base + "/tap/availability", timeout=10).status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
    finally:
        worker.join()
    return max(latencies) if latencies else 0.0


@pytest.mark.parametrize("heavy", ["long query", "wide upload", "moc of order 14",
                                   "nested upload"])
def test_a_cheap_request_answers_while_heavy_ones_run(service, heavy):
    base, _ = service
    long_query = "SELECT obs_id FROM ivoa.ObsCore WHERE " + " OR ".join(
        f"obs_id = 'x{i}'" for i in range(5_000))
    actions = {
        "long query": lambda: _sync(base, long_query),
        "wide upload": lambda: httpx.post(base + "/tap/sync", data={
            "LANG": "ADQL", "QUERY": "SELECT TOP 1 * FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t"},
            files={"t": ("t.xml", _votable(rows=200, columns=1000))}, timeout=120),
        "moc of order 14": lambda: httpx.get(base + "/moc", params={"order": 14,
                                                                    "calib_level": 1}, timeout=120),
        "nested upload": lambda: _nested_upload(base),
    }
    worst = _latency_while(base, actions[heavy])
    # the goal is 100 ms (bench/hostile.py prints it); a loaded CI machine gets some slack
    assert worst < 1.0, f"{heavy}: a cheap request waited {worst:.3f} s"


def _nested_upload(base: str) -> httpx.Response:
    inner = httpx.URL(base + "/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT TOP 3 obs_id FROM ivoa.ObsCore"})
    middle = httpx.URL(base + "/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.a",
                                                    "UPLOAD": f"a,{inner}"})
    return _sync(base, "SELECT * FROM TAP_UPLOAD.b", UPLOAD=f"b,{middle}")


def test_uploads_by_url_go_one_level_deep(service):
    base, _ = service
    inner = httpx.URL(base + "/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT TOP 3 obs_id FROM ivoa.ObsCore"})
    one = _sync(base, "SELECT * FROM TAP_UPLOAD.a", UPLOAD=f"a,{inner}")
    assert one.status_code == 200 and one.text.count("<TR>") == 3
    started = time.monotonic()
    two = _nested_upload(base)
    assert two.status_code == 400 and "cannot itself upload" in _dali_error(two)
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------------------------------
# wrong or silent errors
# ---------------------------------------------------------------------------------------------

def _failing_upload(rows: int) -> bytes:
    """A table whose last value makes 1 / x fail, after more rows than the first fetch."""
    return _votable(rows=rows, x=np.concatenate([np.ones(rows - 1, dtype=int), [0]]))


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_csv_that_fails_midway_is_cut_off(service, fmt):
    base, _ = service
    with pytest.raises(httpx.RemoteProtocolError):
        response = httpx.post(base + "/tap/sync", data={
            "LANG": "ADQL", "QUERY": "SELECT 1 / x AS y FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t",
            "RESPONSEFORMAT": fmt, "MAXREC": "100000"},
            files={"t": ("t.xml", _failing_upload(30_000))}, timeout=60)
        response.read()


def test_a_votable_that_fails_midway_says_so(service):
    base, _ = service
    response = httpx.post(base + "/tap/sync", data={
        "LANG": "ADQL", "QUERY": "SELECT 1 / x AS y FROM TAP_UPLOAD.t", "UPLOAD": "t,param:t",
        "MAXREC": "100000"}, files={"t": ("t.xml", _failing_upload(30_000))}, timeout=60)
    assert response.status_code == 200
    assert "division by zero" in _dali_error(response)


def test_soda_range_of_the_whole_sky_is_the_whole_image(service):
    base, _ = service
    response = httpx.get(base + "/soda/sync", params={"ID": RAW_ID, "POS": "RANGE 0 360 -90 90"},
                         timeout=60)
    assert response.status_code == 200, response.text
    with fits.open(io.BytesIO(response.content)) as cut, \
            fits.open(SAMPLE_DATA / "hst" / "science" / "j8bt05njq_raw.fits.gz") as whole:
        assert cut["SCI"].data.shape == whole["SCI"].data.shape


def test_soda_pol_matches_states_exactly(service):
    base, _ = service
    for pol in (".*", "I|Q", "i.*"):
        response = httpx.get(base + "/soda/sync", params={"ID": RAW_ID, "POL": pol,
                                                          "POS": "CIRCLE 6.0348 -72.0875 0.001"})
        assert response.status_code == 400 and "UsageError" in response.text
    ok = httpx.get(base + "/soda/sync", params={"ID": RAW_ID, "POL": "I",
                                                "POS": "CIRCLE 6.0348 -72.0875 0.001"}, timeout=60)
    assert ok.status_code == 200


def test_rand_with_a_seed_runs(service):
    base, _ = service
    response = _sync(base, "SELECT TOP 2 RAND(7) AS r, RAND() AS s FROM ivoa.ObsCore")
    assert response.status_code == 200, response.text
    values = Table.read(io.BytesIO(response.content), format="votable")["r"]
    assert values[0] == values[1] and 0 <= values[0] < 1


def test_datalink_post_of_too_many_ids_is_an_overflow(service):
    base, _ = service
    response = httpx.post(base + "/datalink", data={"ID": [RAW_ID] * 1500}, timeout=60)
    assert response.status_code == 200 and b'value="OVERFLOW"' in response.content


def test_a_caom_document_with_a_dtd_is_refused(service):
    base, _ = service
    document = (SAMPLE_DATA / "caom2" / "j94f05bgq.xml").read_bytes()
    hostile = document.replace(b"?>", b'?>\n<!DOCTYPE x [<!ENTITY e "boom">]>', 1)
    response = httpx.post(base + "/caom2repo/observations/HST/j94f05bgq", content=hostile,
                         headers={"Authorization": f"Bearer {TOKEN}",
                                  "Content-Type": "application/xml"})
    assert response.status_code == 400 and "DTD" in response.text


def test_files_outside_the_file_roots_are_not_served(service):
    base, db_url = service
    with psycopg.connect(db_url, autocommit=True) as conn:
        name, path = conn.execute("SELECT file_name, path FROM hst.archive_file "
                                  "ORDER BY file_name LIMIT 1").fetchone()
        assert httpx.get(f"{base}/files/HST/{name}").status_code == 200
        try:
            for forged in ("/etc/passwd", path.rsplit("/", 1)[0] + "/../../../../etc/passwd",
                           "../../etc/passwd"):
                conn.execute("UPDATE hst.archive_file SET path = %s WHERE file_name = %s",
                             (forged, name))
                assert httpx.get(f"{base}/files/HST/{name}").status_code == 404
        finally:
            conn.execute("UPDATE hst.archive_file SET path = %s WHERE file_name = %s", (path, name))
    assert httpx.get(f"{base}/files/HST/..%2F..%2Fetc%2Fpasswd").status_code == 404


# ---------------------------------------------------------------------------------------------
# after everything: nothing left behind
# ---------------------------------------------------------------------------------------------

def test_zz_nothing_is_left_behind_and_the_runner_still_runs(service):
    base, db_url = service
    time.sleep(1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'hstvo-tap%%' AND state IN ('active', "
            "'idle in transaction', 'idle in transaction (aborted)') "
            "AND query NOT LIKE '%%LISTEN%%' AND pid <> pg_backend_pid()").fetchone()[0]
        assert busy == 0
    assert _finished(_job(base, "SELECT TOP 1 obs_id FROM ivoa.ObsCore")) == "COMPLETED"
