"""Test fixtures: a real PostgreSQL + pgsphere, a template database, a real HTTP server.

The session starts a throw-away cluster under var/test-cluster (as the unprivileged `hstvo` user
when run as root), or uses HSTVO_TEST_DATABASE_URL's server. The migrations run once, into a
template database; every test gets its own clone of it (CREATE DATABASE ... TEMPLATE), which
takes milliseconds, so tests never share state and never re-run migrations.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from hstvo.cluster import Cluster
from hstvo.config import PROJECT_ROOT
from hstvo.db import upgrade

CAOM2_TEST_DATA = Path(__import__("caom2").__file__).parent / "tests" / "data"
SHARED = PROJECT_ROOT.parent / "shared"
SAMPLE_DATA = PROJECT_ROOT / "data"
# the test cluster's pg_cron keeps its jobs here (tests/test_harvest_schedule.py makes it)
CRON_DATABASE = "hstvo_cron"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str | None

    def url(self, dbname: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def janitor(self, dbname: str, **kw) -> DatabaseJanitor:
        return DatabaseJanitor(user=self.user, host=self.host, port=self.port, dbname=dbname,
                               password=self.password, **kw)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    external = os.environ.get("HSTVO_TEST_DATABASE_URL")
    if external:
        parts = urlsplit(external)
        yield Server(parts.hostname or "127.0.0.1", parts.port or 5432,
                     parts.username or "postgres", parts.password)
        return
    cluster = Cluster(PROJECT_ROOT / "var" / "test-cluster",
                      int(os.environ.get("HSTVO_TEST_PG_PORT", "54329")), dbname="postgres",
                      fast_and_unsafe=True, cron_database=CRON_DATABASE)
    cluster.start()
    yield Server("127.0.0.1", cluster.port, "postgres", None)
    cluster.stop()


@pytest.fixture(scope="session")
def template_db(pg_server: Server) -> Iterator[str]:
    """A database with every migration applied, used as the template of each test database."""
    name = f"hstvo_template_{os.getpid()}"
    janitor = pg_server.janitor(name, as_template=True)
    janitor.init()
    upgrade(pg_server.url(name))
    with psycopg.connect(pg_server.url(name), autocommit=True) as conn:
        # the suite's archives make no HAP mosaics (their rebuilds would be jobs in every
        # queue test); tests/test_single_visit.py turns them on as a site does
        conn.execute("UPDATE hstvo.setting SET value = 'off' WHERE name = 'hap_mosaic_rebuilds'")
    yield name
    janitor.drop()


@pytest.fixture
def db_url(pg_server: Server, template_db: str) -> Iterator[str]:
    """URL of a fresh database, cloned from the template, dropped after the test."""
    name = f"hstvo_test_{uuid.uuid4().hex[:12]}"
    janitor = pg_server.janitor(name, template_dbname=template_db)
    janitor.init()
    yield pg_server.url(name)
    janitor.drop()


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_hstvo(*args: str, db_url: str, check: bool = False, **kw) -> subprocess.CompletedProcess:
    """Run the real `hstvo` command line against a test database."""
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "hstvo.cli", *args], env=env, text=True,
                          capture_output=True, check=check, cwd=PROJECT_ROOT, **kw)


def add_writer(db_url: str, token: str, user: str = "writer") -> None:
    """A user in the writers group whose bearer token is `token` (what `hstvo users bootstrap`
    makes for admin and the workers, with a token a test knows)."""
    add_account(db_url, user, token, writer=True)


def add_account(db_url: str, user: str, token: str, writer: bool = False) -> None:
    """A user whose bearer token is `token`; in the writers group when `writer`."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        writers = conn.execute("SELECT hstvo.setting('writers_group')").fetchone()[0]
        if not conn.execute("SELECT 1 FROM auth.user WHERE name = %s", (user,)).fetchone():
            conn.execute("SELECT auth.add_user(%s)", (user,))
        if writer:
            if not conn.execute("SELECT 1 FROM auth.group WHERE name = %s", (writers,)).fetchone():
                conn.execute("SELECT auth.create_group(%s, %s)", (writers, user))
            conn.execute("SELECT auth.add_member(%s, %s)", (writers, user))
        if not conn.execute("SELECT 1 FROM auth.token WHERE token_hash = digest(%s, 'sha256')",
                            (token,)).fetchone():
            conn.execute("SELECT auth.add_token(%s, %s, 'test writer')", (user, token))


@contextlib.contextmanager
def serving(db_url: str, log_path: Path, **env: str) -> Iterator[str]:
    """`hstvo serve` running for real (uvicorn, loopback) on `db_url`, with `env` added to its
    environment; yields its URL."""
    with serving_process(db_url, log_path, **env) as (base, _):
        yield base


@contextlib.contextmanager
def serving_process(db_url: str, log_path: Path,
                    **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """serving(), yielding the server's process too. Its storage (HSTVO_STORAGE, where async
    results are written) is a directory beside the log unless `env` names one."""
    port = free_port()
    if env.get("HSTVO_TOKEN"):
        add_writer(db_url, env["HSTVO_TOKEN"])
    env = {**os.environ, "DATABASE_URL": db_url, "HSTVO_PORT": str(port),
           "HSTVO_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "HSTVO_STORAGE": str(log_path.parent / "storage"), **env}
    log_file = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "hstvo.cli", "serve"], env=env,
                               cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"hstvo serve did not start:\n"
                                       f"{log_path.read_text()}") from None
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        log_file.close()


@pytest.fixture
def http_server(db_url: str, tmp_path: Path) -> Iterator[str]:
    """`hstvo serve` on a fresh database; yields its URL."""
    with serving(db_url, tmp_path / "serve.log") as base:
        yield base


@contextlib.contextmanager
def module_clone(pg_server: Server, template_db: str, prefix: str) -> Iterator[psycopg.Connection]:
    """A clone of the template for a whole test module, dropped afterwards (autocommit)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    janitor = pg_server.janitor(name, template_dbname=template_db)
    janitor.init()
    try:
        with psycopg.connect(pg_server.url(name), autocommit=True) as connection:
            yield connection
    finally:
        janitor.drop()


@pytest.fixture(scope="module")
def readonly_conn(pg_server: Server, template_db: str) -> Iterator[psycopg.Connection]:
    """One clone per test module, for tests that only read (its transactions are read-only)."""
    with module_clone(pg_server, template_db, "hstvo_ro") as connection:
        connection.execute("SET default_transaction_read_only = on")
        yield connection


@pytest.fixture(scope="module")
def sample_archive(pg_server: Server, template_db: str) -> Iterator[psycopg.Connection]:
    """One clone per test module with the bundled real HST files ingested (`hstvo samples`)."""
    from loaders.fits_ingest import find_files, ingest

    with module_clone(pg_server, template_db, "hstvo_samples") as connection:
        report = ingest(connection, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        assert report.refused == 0, report.refusals
        yield connection


@contextlib.contextmanager
def tap_service(url: str) -> Iterator:
    """pyvo's TAPService on its own HTTP session, closed afterwards (pyvo leaves sockets open)."""
    import pyvo
    import requests

    with requests.Session() as session:
        yield pyvo.dal.TAPService(url, session=session)


@contextlib.contextmanager
def served_samples(pg_server: Server, template_db: str, directory: Path, prefix: str,
                   **env: str) -> Iterator[tuple[str, str]]:
    """A module's clone of the template with the bundled real HST files ingested, served by one
    `hstvo serve` (with `env`); yields (base URL, database URL)."""
    from loaders.fits_ingest import find_files, ingest

    with module_clone(pg_server, template_db, prefix) as conn:
        ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        url = pg_server.url(conn.info.dbname)
        with serving(url, directory / "serve.log", **env) as base:
            yield base, url
