"""Read replicas: a primary and two hot standbys made by `hstvo db replica add` (PostgreSQL
streaming replication), and `hstvo serve` sending its reads to the standbys (HSTVO_READ_URLS).

The harness starts its own primary (an online copy needs full-page writes, which the shared
test cluster turns off for speed), loads the bundled samples into it, and makes the standbys
with the real command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import httpx
import psycopg
import pytest
from lxml import etree

from hstvo.cluster import Cluster
from hstvo.db import upgrade
from hstvo.replicas import replica_cluster

from .conftest import PROJECT_ROOT, add_writer, free_port, serving_process

TOKEN = "replica-test-writer-token-0123456789"
UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
ID = "caom:HST/j8bt05njq/j8bt05njq_raw"
UPLOADED = (b'<?xml version="1.0"?><VOTABLE version="1.4" '
            b'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE><TABLE>'
            b'<FIELD name="obs_id" datatype="char" arraysize="*"/><DATA><TABLEDATA>'
            b'<TR><TD>j8bt05njq</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>')


def hstvo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hstvo.cli", *args], env=env, text=True,
                          capture_output=True, cwd=PROJECT_ROOT, timeout=300)


@pytest.fixture(scope="module")
def replicated(tmp_path_factory) -> dict:
    """A primary with the samples and two standbys, a and b, made by the command line."""
    root = tmp_path_factory.mktemp("replication")
    port = free_port()
    primary = Cluster(root / "primary", port, dbname="hstvo")
    primary.start()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(HSTVO_VAR=str(root / "primary"), HSTVO_PG_PORT=str(port))
    try:
        upgrade(primary.url())
        samples = hstvo({**env, "DATABASE_URL": primary.url()}, "samples")
        assert samples.returncode == 0, samples.stderr
        add_writer(primary.url(), TOKEN)
        for name in ("a", "b"):
            added = hstvo(env, "db", "replica", "add", name)
            assert added.returncode == 0, added.stderr
            assert f"replica {name} streaming" in added.stdout
        standbys = {name: replica_cluster(primary, name) for name in ("a", "b")}
        yield {"primary": primary, "env": env, "standbys": standbys, "root": root}
    finally:
        for name in ("a", "b"):
            hstvo(env, "db", "replica", "remove", name)
        primary.stop()
        shutil.rmtree(primary._storage_root(), ignore_errors=True)


@pytest.fixture(scope="module")
def service(replicated, tmp_path_factory):
    """`hstvo serve` on the primary, its reads on the two standbys."""
    urls = ",".join(s.url() for s in replicated["standbys"].values())
    log = tmp_path_factory.mktemp("replica-serve") / "serve.log"
    with serving_process(replicated["primary"].url(), log, HSTVO_READ_URLS=urls,
                         HSTVO_TOKEN=TOKEN) as (base, _):
        yield {"base": base, "log": log, **replicated}


def standby_names(replicated) -> set[str]:
    return {f"127.0.0.1:{s.port}/hstvo" for s in replicated["standbys"].values()}


def answered_by(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text[:500]
    return response.headers["X-Hstvo-Database"]


def sync(base: str, query: str, **kw) -> httpx.Response:
    return httpx.post(base + "/tap/sync", data={"LANG": "ADQL", "QUERY": query,
                                                "FORMAT": "csv"}, timeout=30, **kw)


def in_rotation(base: str, names: set[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        notes = httpx.get(base + "/tap/availability").text
        if all(f"read replica {n}: in rotation" in notes for n in names):
            return
        assert time.monotonic() < deadline, notes
        time.sleep(0.5)


def test_the_command_line_lists_each_standby_streaming(replicated):
    listed = hstvo(replicated["env"], "db", "replica", "list")
    assert listed.returncode == 0, listed.stderr
    for name, standby in replicated["standbys"].items():
        assert f"{name}: running, streaming" in listed.stdout
        with psycopg.connect(standby.url(), autocommit=True) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            # the standby holds the primary's archive
            assert conn.execute("SELECT count(*) FROM caom2.observation").fetchone()[0] > 0
    # a second replica of the same name, or a bad name, is refused plainly
    again = hstvo(replicated["env"], "db", "replica", "add", "a")
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = hstvo(replicated["env"], "db", "replica", "add", "../x")
    assert bad.returncode == 1 and "a replica's name is" in bad.stderr


def test_tap_datalink_soda_and_moc_are_answered_by_the_standbys(service):
    base, standbys = service["base"], standby_names(service)
    seen = {answered_by(sync(base, "SELECT TOP 3 obs_id FROM ivoa.ObsCore")) for _ in range(4)}
    assert seen == standbys  # each standby in turn
    assert answered_by(httpx.get(base + "/datalink", params={"ID": ID})) in standbys
    assert answered_by(httpx.get(base + "/moc", params={"order": "6"})) in standbys
    with psycopg.connect(service["primary"].url()) as conn:
        ra, dec = conn.execute("SELECT s_ra, s_dec FROM ivoa.obscore WHERE obs_publisher_did "
                               "LIKE '%j8bt05njq_raw'").fetchone()
    cutout = httpx.get(base + "/soda/sync", params={"ID": ID, "CIRCLE": f"{ra} {dec} 0.001"},
                       timeout=60)
    assert answered_by(cutout) in standbys
    assert cutout.content[:6] == b"SIMPLE"
    # a query with an upload writes a temporary table: the primary runs it
    upload = httpx.post(base + "/tap/sync", data={
        "LANG": "ADQL", "FORMAT": "csv", "UPLOAD": "t,param:t",
        "QUERY": "SELECT TOP 1 o.obs_id FROM ivoa.ObsCore AS o JOIN TAP_UPLOAD.t AS t "
                 "ON o.obs_id = t.obs_id"},
        files={"t": ("t.xml", UPLOADED, "application/x-votable+xml")}, timeout=30)
    assert answered_by(upload) == "primary"


def test_an_async_job_runs_on_a_standby_and_keeps_its_state_on_the_primary(service):
    base = service["base"]
    job = httpx.post(base + "/tap/async", data={"LANG": "ADQL", "PHASE": "RUN",
                                                 "QUERY": "SELECT obs_id FROM ivoa.ObsCore"},
                     follow_redirects=False)
    assert job.status_code == 303
    location = job.headers["location"]
    phase = wait_for_job(location)
    assert phase == "COMPLETED"
    job_id = location.rsplit("/", 1)[-1]
    assert f"job {job_id} ran on standby" in service["log"].read_text()
    with psycopg.connect(service["primary"].url()) as conn:  # the state is the primary's
        assert conn.execute("SELECT phase FROM uws.job WHERE job_id = %s",
                            (job_id,)).fetchone()[0] == "COMPLETED"
    result = httpx.get(location + "/results/result")
    assert result.status_code == 200 and b"j8bt05njq" in result.content


def wait_for_job(location: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        phase = httpx.get(location + "/phase").text.strip()
        if phase in ("COMPLETED", "ERROR", "ABORTED") or time.monotonic() > deadline:
            return phase
        time.sleep(0.2)


def test_an_ingest_on_the_primary_is_read_through_tap_within_the_lag(service, tmp_path):
    base, env = service["base"], {**service["env"], "DATABASE_URL": service["primary"].url()}
    assert hstvo(env, "synth", str(tmp_path / "new"), "--count", "2", "--seed", "77"
                 ).returncode == 0
    ingested = hstvo(env, "ingest", str(tmp_path / "new"))
    assert ingested.returncode == 0, ingested.stderr
    written = time.monotonic()
    with psycopg.connect(service["primary"].url()) as conn:
        expected = conn.execute("SELECT count(*) FROM ivoa.ObsCore").fetchone()[0]
    while True:  # visible through the standbys once they have replayed it: within the lag
        response = sync(base, "SELECT COUNT(*) AS n FROM ivoa.ObsCore",
                        headers={"Authorization": f"Bearer {TOKEN}"})
        if response.text.split()[-1] == str(expected):
            break
        assert time.monotonic() - written < 10, response.text
        time.sleep(0.05)
    assert answered_by(response) in standby_names(service)
    with psycopg.connect(service["primary"].url(), autocommit=True) as conn:
        conn.execute("UPDATE caom2.observation SET target_name = 'REPLICATED-1' "
                     "WHERE observationid = 'j8bt05njq'")
    written = time.monotonic()
    while "REPLICATED-1" not in sync(
            base, "SELECT target_name FROM ivoa.ObsCore WHERE obs_id = 'j8bt05njq'").text:
        assert time.monotonic() - written < 10
        time.sleep(0.05)


def test_the_repository_reads_its_own_write_at_once(service):
    base, auth = service["base"], {"Authorization": f"Bearer {TOKEN}"}
    path = base + "/caom2repo/observations/HST/j8bt05njq"
    document = httpx.get(path, headers=auth)
    assert document.status_code == 200
    changed = document.content.replace(b"REPLICATED-1", b"REPLICATED-2") \
        if b"REPLICATED-1" in document.content else document.content
    written = httpx.post(path, content=changed, headers={**auth, "Content-Type": "text/xml"})
    assert written.status_code in (200, 204), written.text
    again = httpx.get(path, headers=auth)  # at once: from the primary
    assert again.status_code == 200
    assert etree.fromstring(again.content).find(".//{*}name") is not None
    assert b"REPLICATED-2" in again.content or b"REPLICATED" not in changed


def test_access_rules_hold_on_the_standbys(service):
    base = service["base"]
    with psycopg.connect(service["primary"].url(), autocommit=True) as conn:
        conn.execute("UPDATE caom2.observation SET metarelease = '2999-01-01', "
                     "metareadgroups = 'ivo://hstvo.example/gms?secret' "
                     "WHERE observationid = 'j8bt05njq'")
    query = "SELECT COUNT(*) AS n FROM ivoa.ObsCore WHERE obs_id = 'j8bt05njq'"
    deadline = time.monotonic() + 10
    while True:  # (until the standbys have replayed the change)
        anonymous = sync(base, query)
        if anonymous.text.split()[-1] == "0":
            break
        assert time.monotonic() < deadline, anonymous.text
        time.sleep(0.05)
    assert answered_by(anonymous) in standby_names(service)
    writer = sync(base, query, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answered_by(writer) in standby_names(service)
    assert writer.text.split()[-1] != "0"  # the writers see everything


def test_a_standby_stopped_mid_load_loses_no_request_and_comes_back(service):
    base, standby = service["base"], service["standbys"]["a"]
    name = f"127.0.0.1:{standby.port}/hstvo"
    outcomes: list[tuple[int, str]] = []

    def load() -> None:
        for _ in range(60):
            response = sync(base, "SELECT TOP 5 obs_id FROM ivoa.ObsCore")
            outcomes.append((response.status_code, response.headers.get("X-Hstvo-Database", "")))

    clients = [threading.Thread(target=load) for _ in range(3)]
    for client in clients:
        client.start()
    time.sleep(1.0)
    standby.stop()
    async_job = httpx.post(base + "/tap/async", data={
        "LANG": "ADQL", "PHASE": "RUN", "QUERY": "SELECT TOP 10 obs_id FROM ivoa.ObsCore"},
        follow_redirects=False)
    for client in clients:
        client.join()
    assert [code for code, _ in outcomes if code != 200] == []  # nothing lost
    assert wait_for_job(async_job.headers["location"]) == "COMPLETED"
    assert f"read replica {name}: out of rotation" in httpx.get(base + "/tap/availability").text
    standby.start()
    in_rotation(base, {name})
    seen = {answered_by(sync(base, "SELECT TOP 1 obs_id FROM ivoa.ObsCore")) for _ in range(6)}
    assert name in seen


def test_without_standbys_reads_go_to_the_primary(service):
    base = service["base"]
    for standby in service["standbys"].values():
        standby.stop()
    try:
        assert answered_by(sync(base, "SELECT TOP 1 obs_id FROM ivoa.ObsCore")) == "primary"
        assert answered_by(httpx.get(base + "/datalink", params={"ID": ID})) == "primary"
    finally:
        for standby in service["standbys"].values():
            standby.start()
    in_rotation(base, standby_names(service))


def test_compose_file_describes_the_multi_host_deployment():
    """docker/compose.yaml: a primary, two standbys, two service processes and three workers,
    each on its own container; every command it runs exists (no Docker daemon needed)."""
    import yaml

    compose = yaml.safe_load((PROJECT_ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    roles = {}
    for name, spec in services.items():
        roles.setdefault(spec.get("labels", {}).get("hstvo.role", "?"), []).append(name)
    assert len(roles["primary"]) == 1 and len(roles["standby"]) == 2
    assert len(roles["service"]) == 2 and len(roles["worker"]) == 3
    for name in roles["service"]:
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert len(environment["HSTVO_READ_URLS"].split(",")) == 2
    for name in roles["worker"]:
        assert "DATABASE_URL" in services[name]["environment"]
    for name in roles["service"] + roles["worker"]:
        command = services[name]["command"]
        words = command if isinstance(command, list) else command.split()
        assert words[0] == "hstvo"
        helped = subprocess.run([sys.executable, "-m", "hstvo.cli", *words[1:2], "--help"],
                                capture_output=True, text=True, cwd=PROJECT_ROOT)
        assert helped.returncode == 0, (name, helped.stderr)
    for name in roles["standby"]:
        assert "pg_basebackup" in str(services[name]["command"])
    for spec in services.values():  # (the build context is the project's root)
        assert (PROJECT_ROOT / spec["build"]["dockerfile"]).exists()


def test_taplint_finds_the_service_on_standbys_conformant(service):
    """STILTS taplint against the service whose reads the standbys answer."""
    from .test_validators import taplint

    report = taplint(service["base"] + "/tap")
    assert "Totals: Errors: 0; Warnings: 0" in report, report
    with psycopg.connect(service["primary"].url()) as conn:
        assert conn.execute("SELECT count(*) FROM uws.job").fetchone()[0] > 0  # its async jobs


def test_a_server_that_goes_away_while_a_query_is_read_is_not_the_query_s_fault(db_url):
    """A standby shutting down answers the protocol's Describe of a TAP query with "terminating
    connection due to administrator command": that is the server going away, which the
    service answers by running the query on the next server, not a 400 for the query."""
    import asyncio

    from pyserver.replicas import server_gone
    from pyserver.tap_sync import describe

    async def described_after_termination() -> BaseException | None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]
            with psycopg.connect(db_url, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.2)
            try:
                await describe(conn, "SELECT 1 AS one")
            except Exception as exc:  # noqa: BLE001 - what it raises is the point
                return exc
            return None

    raised = asyncio.run(described_after_termination())
    assert isinstance(raised, psycopg.Error) and server_gone(raised), repr(raised)
