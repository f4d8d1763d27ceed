"""Async results live in the archive's storage (HSTVO_STORAGE/tap-results): any server process
sharing the storage serves any job's result, deleting a job removes its file, a file left by a
killed server is swept up, and a 5,000,000-row result is written and served with flat memory."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest
from lxml import etree

from .conftest import module_clone, serving_process

UWS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0"}
ORPHAN = "0123456789abcdef0123456789abcdef.xml.partial"  # a killed server's half result


@pytest.fixture(scope="module")
def servers(pg_server, template_db, tmp_path_factory):
    """Two server processes on one sample archive, sharing one storage directory (with a
    stale half-written result from a server that was killed), and that directory."""
    from loaders.fits_ingest import find_files, ingest
    from .conftest import SAMPLE_DATA

    storage = tmp_path_factory.mktemp("storage")
    (storage / "tap-results").mkdir()
    orphan = storage / "tap-results" / ORPHAN
    orphan.write_bytes(b"<VOTABLE>half")
    os.utime(orphan, (time.time() - 2 * 3600,) * 2)
    with module_clone(pg_server, template_db, "hstvo_results") as conn:
        ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        url = pg_server.url(conn.info.dbname)
        one, two = (tmp_path_factory.mktemp(name) for name in ("one", "two"))
        with serving_process(url, one / "serve.log", HSTVO_STORAGE=str(storage)) as first, \
                serving_process(url, two / "serve.log", HSTVO_STORAGE=str(storage)) as second:
            yield first, second, storage


def _run(base: str, query: str, **params: str) -> str:
    """Submit and run a job; its URL once it has ended."""
    created = httpx.post(base + "/tap/async", data={"LANG": "ADQL", "QUERY": query,
                                                     "PHASE": "RUN", **params})
    url = created.headers["location"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        phase = etree.fromstring(httpx.get(url, params={"WAIT": "30"}, timeout=60).content
                                 ).findtext("uws:phase", namespaces=UWS)
        if phase not in ("QUEUED", "EXECUTING"):
            assert phase == "COMPLETED", httpx.get(url + "/error").text
            return url
    raise AssertionError("the job did not end")


def test_any_server_serves_any_result_and_delete_removes_it(servers):
    (first, _), (second, _), storage = servers
    url = _run(first, "SELECT obs_id FROM ivoa.ObsCore ORDER BY obs_id")
    job_id = url.rsplit("/", 1)[1]
    stored = storage / "tap-results" / f"{job_id}.xml"
    assert stored.exists()
    from_first = httpx.get(url + "/results/result")
    from_second = httpx.get(f"{second}/tap/async/{job_id}/results/result")
    assert from_first.status_code == from_second.status_code == 200
    assert from_first.content == from_second.content == stored.read_bytes()
    assert b"j94f05bgq" in from_first.content
    assert from_first.headers["content-type"].startswith("application/x-votable+xml")
    csv = _run(second, "SELECT obs_id FROM ivoa.ObsCore", RESPONSEFORMAT="csv")
    assert (storage / "tap-results" / f"{csv.rsplit('/', 1)[1]}.csv").exists()
    assert httpx.delete(url).status_code == 303
    assert not stored.exists()
    assert httpx.get(url + "/results/result").status_code == 404


def test_a_killed_servers_half_result_is_swept_up(servers):
    *_, storage = servers
    deadline = time.monotonic() + 30
    while (storage / "tap-results" / ORPHAN).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (storage / "tap-results" / ORPHAN).exists()


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def test_five_million_rows_with_flat_server_memory(servers):
    (base, process), _, storage = servers
    before = _rss_mib(process.pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib(process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        rows = 5_000_000
        query = ("SELECT TOP 5000000 a.calib_level, b.t_exptime FROM ivoa.ObsCore AS a, "
                 "ivoa.ObsCore AS b, ivoa.ObsCore AS c, ivoa.ObsCore AS d, ivoa.ObsCore AS e, "
                 "ivoa.ObsCore AS f, ivoa.ObsCore AS g")
        url = _run(base, query, MAXREC=str(rows))
        size, head, tail = 0, b"", b""
        with httpx.stream("GET", url + "/results/result", timeout=120) as response:
            for chunk in response.iter_bytes(1 << 20):
                size += len(chunk)
                head = head or chunk[:4096]
                tail = (tail + chunk)[-4096:]
    finally:
        done.set()
        watcher.join()
    stored = storage / "tap-results" / f"{url.rsplit('/', 1)[1]}.xml"
    assert size == stored.stat().st_size > rows * 30
    assert b'name="QUERY_STATUS" value="OK"' in head
    assert tail.endswith(b"</VOTABLE>\n") and b"OVERFLOW" not in tail and b"ERROR" not in tail
    assert stored.read_bytes().count(b"<TR>") == rows  # what was served is this file
    grown = peak[0] - before
    print(f"server memory grew by {grown:.0f} MiB while writing and serving {size >> 20} MiB")
    assert grown < 100, f"the server grew by {grown:.0f} MiB for a {size >> 20} MiB result"
    httpx.delete(url)
