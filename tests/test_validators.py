"""STILTS taplint and datalinklint against the served sample archive, anonymous and
authenticated: 0 errors and 0 warnings either way (TAP 1.1, VOSI, UWS, ObsCore 1.1, TAP_SCHEMA;
DataLink 1.1). tests/test_datalink.py runs datalinklint on every kind of plane, anonymous.

Debian's STILTS (3.4) cannot send credentials, so the authenticated run goes through a small
forwarding proxy that adds the user's bearer token to every request, and the server is told
that its public URL is the proxy's: the capabilities, job URLs and result links all lead back
through it. The audit trail shows that the server took every one of taplint's requests as that
user.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg
import pytest
from pyvo.dal.adhoc import DatalinkResults

from .conftest import add_account, free_port, served_samples, serving

TOKEN = "taplint-token"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
              "content-encoding", "authorization"}


class TokenAddingProxy(BaseHTTPRequestHandler):
    """Forwards each request to the server (server.target) with `Authorization: Bearer`."""

    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def _forward(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Authorization"] = f"Bearer {TOKEN}"
        response = httpx.request(self.command, self.server.target + self.path, headers=headers,
                                 content=self._body(), timeout=300)
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.content)

    do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _forward

    def log_message(self, *args) -> None:  # quiet: the server logs what it was asked
        pass


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    directory = tmp_path_factory.mktemp("taplint")
    with served_samples(pg_server, template_db, directory, "hstvo_taplint") as (base, db_url):
        yield base, db_url, directory / "storage"


@pytest.fixture
def proxied(archive, tmp_path) -> Iterator[str]:
    """The archive served again, its public URL the proxy's; yields the proxy's URL. (It shares
    the first server's storage: either may run an async job, and the other serve its result.)"""
    _, db_url, storage = archive
    add_account(db_url, "taplint-user", TOKEN)
    port = free_port()
    proxy = ThreadingHTTPServer(("127.0.0.1", port), TokenAddingProxy)
    public = f"http://127.0.0.1:{port}"
    with serving(db_url, tmp_path / "serve.log", HSTVO_PUBLIC_URL=public,
                 HSTVO_STORAGE=str(storage)) as base:
        proxy.target = base
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            yield public
        finally:
            proxy.shutdown()
            proxy.server_close()


def taplint(tap_url: str) -> str:
    return stilts("taplint", f"tapurl={tap_url}", "report=EW")


def stilts(*args: str) -> str:
    if shutil.which("stilts") is None:
        pytest.fail("stilts is missing: `make test` installs it (apt-get install stilts)")
    return subprocess.run(["stilts", *args], capture_output=True, text=True, timeout=600).stdout


def test_taplint_anonymous(archive):
    base, _, _ = archive
    report = taplint(base + "/tap")
    assert "Totals: Errors: 0; Warnings: 0" in report, report


def test_taplint_authenticated(archive, proxied):
    _, db_url, _ = archive
    report = taplint(proxied + "/tap")
    assert "Totals: Errors: 0; Warnings: 0" in report, report
    with psycopg.connect(db_url) as conn:
        # the audit is written in batches twice a second: the server has stopped, all is in
        queries = conn.execute("SELECT count(*) FROM auth.audit WHERE user_name = 'taplint-user'"
                               " AND endpoint LIKE '%/tap/sync' AND status < 400").fetchone()[0]
    assert queries > 20


def test_datalinklint_authenticated_on_proprietary_data(archive, proxied):
    """The links of a plane whose files only its group may read, to a member of the group
    (link_authorized true) through the proxy."""
    _, db_url, _ = archive
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT auth.create_group('taplint-readers', 'taplint-user')")
        conn.execute("SELECT auth.add_member('taplint-readers', 'taplint-user')")
        conn.execute("UPDATE caom2.plane SET datarelease = '2099-01-01', datareadgroups = "
                     "auth.group_uri('taplint-readers') WHERE productid = 'j94f05bgq_flt'")
    did = "caom:HST/j94f05bgq/j94f05bgq_flt"
    url = str(httpx.URL(proxied + "/datalink", params={"ID": did}))
    this = [row for row in DatalinkResults.from_result_url(url) if row.semantics == "#this"]
    assert [str(row["link_authorized"]).lower() for row in this] == ["true"]   # as the member
    report = stilts("datalinklint", f"votable={url}")
    assert "Totals: Errors: 0; Warnings: 0" in report, report
