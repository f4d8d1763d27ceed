"""Site-to-site harvest over HTTP (loaders/harvest_http.py): one running hstvo harvests another
through its repository service, with a token; a source that answers some requests with an error
or a malformed document leaves those in the skip table and the rest arrive; the incremental run
brings the changes and deletions; without the token only the public observations come."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg
import pytest

from bench.synthetic_caom import add_observations
from loaders.fits_ingest import find_files, ingest

from .conftest import SAMPLE_DATA, add_writer, module_clone, run_hstvo, serving

TOKEN = "harvest-token-0123456789"
BROKEN = {"syn7": "error", "syn8": "malformed"}


@pytest.fixture(scope="module")
def source(pg_server, template_db, tmp_path_factory):
    """A served archive (the real samples and 300 synthetic observations) behind a proxy that,
    while `broken` is set, answers 500 for one observation and half a document for another."""
    with module_clone(pg_server, template_db, "hstvo_http_source") as conn:
        ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        add_observations(conn, 300, "syn", planes=2)
        url = pg_server.url(conn.info.dbname)
        add_writer(url, TOKEN, "harvester")
        with serving(url, tmp_path_factory.mktemp("http_source") / "serve.log") as base:
            proxy = BreakingProxy(base)
            try:
                yield conn, proxy
            finally:
                proxy.close()


class BreakingProxy:
    """A real HTTP server forwarding GETs to `upstream`, breaking some documents on request."""

    def __init__(self, upstream: str) -> None:
        self.broken = True
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.split("?")[0].rsplit("/", 1)[-1]
                if owner.broken and name in BROKEN and "/observations/HST/" in self.path:
                    if BROKEN[name] == "error":
                        return self._send(500, b"the source failed", "text/plain")
                    answer = httpx.get(upstream + self.path, headers=self._auth())
                    return self._send(200, answer.content[: len(answer.content) // 2], "text/xml")
                answer = httpx.get(upstream + self.path, headers=self._auth(), timeout=60)
                self._send(answer.status_code, answer.content,
                           answer.headers.get("content-type", "text/plain"))

            def _auth(self):
                value = self.headers.get("Authorization")
                return {"Authorization": value} if value else {}

            def _send(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def destination(pg_server, template_db):
    with module_clone(pg_server, template_db, "hstvo_http_dest") as conn:
        yield pg_server.url(conn.info.dbname), conn


def states(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return set(conn.execute("SELECT observationid, accmetachecksum FROM caom2.observation"))


def test_a_harvest_over_http_brings_every_observation_but_the_broken_ones(source, destination):
    src, proxy = source
    url, dst = destination
    added = run_hstvo("harvest", "add-source", "web", "--url", proxy.url, "--token", TOKEN,
                      "--batch-size", "100", db_url=url)
    assert added.returncode == 0, added.stderr
    run = run_hstvo("harvest", "run", "web", db_url=url)
    assert run.returncode == 0, run.stderr
    assert "309 copied, 0 deleted, 2 skipped" in run.stdout
    assert states(src) - states(dst) == {s for s in states(src) if s[0] in BROKEN}
    skipped = run_hstvo("harvest", "skips", "web", db_url=url).stdout
    assert "HST/syn7" in skipped and "500" in skipped
    assert "HST/syn8" in skipped and "not valid CAOM2 XML" in skipped
    assert dst.execute("SELECT stale, missing FROM hstvo.obscore_differences()").fetchone() == (0, 0)


def test_the_skipped_ones_arrive_when_the_source_mends(source, destination):
    _, proxy = source
    url, dst = destination
    proxy.broken = False
    retried = run_hstvo("harvest", "retry", "web", db_url=url)
    assert retried.returncode == 0 and "2 copied, 0 still skipped" in retried.stdout
    assert states(dst) == states(source[0])


def test_the_next_run_brings_the_changes_and_the_deletions(source, destination):
    src, _ = source
    url, dst = destination
    src.execute("UPDATE caom2.plane SET time_exposure = 99 WHERE productid IN "
                "('syn10_1', 'syn11_2', 'syn12_1', 'syn13_1', 'syn14_2')")
    for name in ("syn20", "syn21", "syn22"):
        src.execute("SELECT caom2.delete_observation('HST', %s)", (name,))
    run = run_hstvo("harvest", "run", "web", db_url=url)
    assert run.returncode == 0 and "5 copied, 3 deleted, 0 skipped" in run.stdout
    assert states(dst) == states(src)
    assert dst.execute("SELECT stale, missing FROM hstvo.obscore_differences()").fetchone() == (0, 0)


def test_without_the_token_only_public_observations_come(source, pg_server, template_db):
    src, proxy = source
    with module_clone(pg_server, template_db, "hstvo_http_anon") as dst:
        url = pg_server.url(dst.info.dbname)
        run_hstvo("harvest", "add-source", "anon", "--url", proxy.url, db_url=url, check=True)
        assert run_hstvo("harvest", "run", "anon", db_url=url).returncode == 0
        proprietary = src.execute("SELECT count(*) FROM caom2.observation "
                                  "WHERE metarelease > now()").fetchone()[0]
        assert proprietary > 0
        assert dst.execute("SELECT count(*) FROM caom2.observation").fetchone()[0] == \
            src.execute("SELECT count(*) FROM caom2.observation").fetchone()[0] - proprietary


def test_an_unreachable_source_fails_the_run_plainly(destination):
    url, _ = destination
    run_hstvo("harvest", "add-source", "nowhere", "--url", "http://127.0.0.1:1", db_url=url,
              check=True)
    run = run_hstvo("harvest", "run", "nowhere", db_url=url)
    assert run.returncode == 1 and "did not answer" in run.stdout and "Traceback" not in run.stderr


def test_diff_over_http_finds_and_repair_mends_exactly_the_differences(source, destination):
    src, _ = source
    url, dst = destination
    dst.execute("SELECT caom2.delete_observation('HST', 'syn30')")            # missing here
    dst.execute("UPDATE caom2.observation SET target_name = 'LOCAL EDIT' "   # differs
                "WHERE observationid = 'syn31'")
    add_observations(dst, 1, "localonly", planes=1)                          # deleted there
    found = run_hstvo("harvest", "diff", "web", db_url=url)
    assert found.returncode == 1, found.stderr
    for expected in ("missing", "syn30", "differs", "syn31", "deleted there", "localonly1",
                     "3 differences"):
        assert expected in found.stdout
    mended = run_hstvo("harvest", "diff", "web", "--repair", db_url=url)
    assert mended.returncode == 0 and "3 mended, 0 differences left" in mended.stdout
    assert states(dst) == states(src)
    assert "identical" in run_hstvo("harvest", "diff", "web", db_url=url).stdout
