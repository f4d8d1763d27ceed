"""ObsCore's rows are stored written out (sql/64_obscore_written_rows.sql), and a full-width
query streams them: what it sends must be, byte for byte, what writing the rows out as the query
runs gives, in every format, for rows that hold what must be escaped, quoted or left empty."""

from __future__ import annotations

import base64
import re

import httpx
import psycopg
import pytest

from .conftest import served_samples

WHOLE = "SELECT * FROM ivoa.ObsCore ORDER BY obs_publisher_did"
# the same rows through a derived table: written out as the query runs (sql/63_votable.sql)
AS_IT_RUNS = "SELECT * FROM (SELECT * FROM ivoa.ObsCore) AS o ORDER BY obs_publisher_did"
AWKWARD_TARGET = 'M 31, "core" & <halo>\tüé'


@pytest.fixture(scope="module")
def served(pg_server, template_db, tmp_path_factory):
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("written"),
                        "hstvo_written") as (base, url):
        with psycopg.connect(url, autocommit=True) as conn:
            # a write through the CAOM tables: ObsCore's row is written out again with it
            conn.execute("UPDATE caom2.observation SET target_name = %s, proposal_title = %s "
                         "WHERE observationid = 'j94f05bgq'", (AWKWARD_TARGET, "two\nlines"))
            yield base + "/tap", conn


def rows_of(tap: str, query: str, fmt: str) -> bytes:
    """The rows of a result, without the document around them."""
    response = httpx.get(tap + "/sync", params={"LANG": "ADQL", "QUERY": query,
                                                "RESPONSEFORMAT": fmt}, timeout=60)
    assert response.status_code == 200, response.text[:300]
    body = response.text
    if fmt == "csv":
        return body.encode()
    if fmt == "votable":
        return re.search(r"<TABLEDATA>(.*)</TABLEDATA>", body, re.S).group(1).encode()
    return base64.b64decode(re.search(r"<STREAM encoding=\"base64\">(.*)</STREAM>",
                                      body, re.S).group(1))


@pytest.mark.parametrize("fmt", ["votable", "csv", "binary2"])
def test_a_stored_row_is_the_row_written_as_the_query_runs(served, fmt):
    tap, _ = served
    stored = rows_of(tap, WHOLE, fmt)
    assert stored == rows_of(tap, AS_IT_RUNS, fmt)
    assert stored.count(b"j94f05bgq") >= 1
    if fmt == "csv":
        assert '"M 31, ""core"" & <halo>\tüé"'.encode() in stored
    if fmt == "votable":
        assert "M 31, \"core\" &amp; &lt;halo&gt;\tüé".encode() in stored


def test_a_full_width_query_streams_the_stored_rows(served):
    tap, conn = served
    did = conn.execute("SELECT min(obs_publisher_did) FROM hstvo.obscore_rows").fetchone()[0]
    conn.execute("UPDATE hstvo.obscore_rows SET csv_tail = ',STORED' || csv_tail "
                 "WHERE obs_publisher_did = %s", (did,))
    try:
        assert b",STORED," in rows_of(tap, WHOLE, "csv")
        assert b",STORED," not in rows_of(tap, AS_IT_RUNS, "csv")
        # a row whose written-out text is missing is written out as the query runs
        conn.execute("UPDATE hstvo.obscore_rows SET csv_head = NULL WHERE obs_publisher_did = %s",
                     (did,))
        assert rows_of(tap, WHOLE, "csv") == rows_of(tap, AS_IT_RUNS, "csv")
        assert conn.execute("SELECT * FROM hstvo.obscore_differences()").fetchone() == (1, 1)
    finally:
        conn.execute("SELECT hstvo.refresh_obscore_all()")
    assert conn.execute("SELECT * FROM hstvo.obscore_differences()").fetchone() == (0, 0)


@pytest.mark.parametrize("output", ["RAD", "HMS"])
def test_writing_rows_keeps_the_sessions_sphere_output(served, output):
    _, conn = served
    conn.execute(f"SELECT set_sphere_output('{output}')")
    before = conn.execute("SELECT spoint(0.5, 0.25)::text").fetchone()[0]
    try:
        assert conn.execute("SELECT hstvo.write_obscore_rows(NULL)").fetchone()[0] > 0
        assert conn.execute("SELECT spoint(0.5, 0.25)::text").fetchone()[0] == before
        # the polygons are written in degrees all the same
        assert conn.execute("SELECT bool_and(csv_tail ~ ',Polygon ICRS [0-9.]+ -?[0-9.]+ ') "
                            "FROM hstvo.obscore_rows WHERE s_region IS NOT NULL").fetchone()[0]
        assert conn.execute("SELECT * FROM hstvo.obscore_differences()").fetchone() == (0, 0)
        assert conn.execute("SELECT spoint(0.5, 0.25)::text").fetchone()[0] == before
    finally:
        conn.execute("SELECT set_sphere_output('RAD')")
