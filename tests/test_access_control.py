"""Proprietary data, enforced by the database on every service, tried by anonymous users, an
authenticated outsider and members (directly and through a nested group).

The sample archive is made to hold:
  - j8bt05njq: a meta-proprietary observation (metaRelease in 2099, metaReadGroups HST-RO),
    marked with values that appear nowhere else (SECRET-TARGET, SECRET-PROPOSAL, 31337.5 s);
  - ibc301qrq_flt: a meta-proprietary plane of a public observation, shared with group `inner`
    (t_exptime 0.000123 s);
  - j94f05bgq_flt: public metadata, proprietary data (dataReadGroups HST-RO);
and the groups HST-RO > inner > alice (nested), carol in HST-RO directly (with a password),
bob in no group.
"""

from __future__ import annotations

import base64
import gc
import io
import re
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table

from .conftest import add_account, run_hstvo, served_samples

AUTHORITY = "ivo://hstvo.example/gms?"
SECRETS = ("j8bt05njq", "SECRET-TARGET", "SECRET-PROPOSAL", "31337.5", "ibc301qrq_flt",
           "0.000123", "1.23e-04")
TOKENS = {"alice": "alice-token", "bob": "bob-token", "carol": "carol-token"}
CAROL_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("access"),
                        "hstvo_access", HSTVO_TOKEN="writer-token") as (base, db_url):
        _make_proprietary(db_url)
        yield base, db_url


def _make_proprietary(db_url: str) -> None:
    for name in TOKENS:
        add_account(db_url, name, TOKENS[name])
    run_hstvo("groups", "create", "HST-RO", "--owner", "writer", db_url=db_url, check=True)
    run_hstvo("groups", "create", "inner", "--owner", "writer", db_url=db_url, check=True)
    run_hstvo("groups", "add-member", "HST-RO", "group:inner", db_url=db_url, check=True)
    run_hstvo("groups", "add-member", "inner", "alice", db_url=db_url, check=True)
    run_hstvo("groups", "add-member", "HST-RO", "carol", db_url=db_url, check=True)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE auth.user SET password_hash = %s WHERE name = 'carol'",
                     (_hash(CAROL_PASSWORD),))
        conn.execute("UPDATE caom2.observation SET metarelease = '2099-01-01', metareadgroups = %s,"
                     " target_name = 'SECRET-TARGET', proposal_id = 'SECRET-PROPOSAL'"
                     " WHERE observationid = 'j8bt05njq'", (AUTHORITY + "HST-RO",))
        conn.execute("UPDATE caom2.plane SET time_exposure = 31337.5 WHERE productid = 'j8bt05njq_raw'")
        conn.execute("UPDATE caom2.plane SET metarelease = '2099-01-01', metareadgroups = %s,"
                     " time_exposure = 0.000123 WHERE productid = 'ibc301qrq_flt'",
                     (AUTHORITY + "inner",))
        conn.execute("UPDATE caom2.plane SET datarelease = '2099-01-01', datareadgroups = %s"
                     " WHERE productid = 'j94f05bgq_flt'", (AUTHORITY + "HST-RO",))


def _hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def _as(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}


def _sync(base: str, query: str, who: str | None = None, fmt: str = "csv") -> httpx.Response:
    return httpx.post(base + "/tap/sync", data={"LANG": "ADQL", "QUERY": query,
                                                "RESPONSEFORMAT": fmt}, headers=_as(who),
                      timeout=60)


def _rows(base: str, query: str, who: str | None = None) -> list[list[str]]:
    response = _sync(base, query, who)
    assert response.status_code == 200, response.text
    return [line.split(",") for line in response.text.strip().splitlines()[1:]]


# ---------------------------------------------------------------------------------------------
# What each caller sees
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who, obscore, observations, planes", [
    (None, 9, 10, 9), ("bob", 9, 10, 9),            # outsiders: neither secret
    ("carol", 10, 11, 10),                          # HST-RO: the observation, not inner's plane
    ("alice", 11, 11, 11),                          # inner, inside HST-RO: everything
])
def test_each_caller_sees_what_its_groups_allow(archive, who, obscore, observations, planes):
    base, _ = archive
    counts = _rows(base, "SELECT (SELECT COUNT(*) FROM ivoa.ObsCore) AS a, (SELECT COUNT(*) FROM "
                   "caom2.Observation) AS b, (SELECT COUNT(*) FROM caom2.Plane) AS c, (SELECT "
                   "COUNT(*) FROM caom2.Artifact) AS d FROM tap_schema.schemas WHERE schema_name "
                   "= 'ivoa'", who)
    assert [int(v) for v in counts[0][:3]] == [obscore, observations, planes]


# forty-odd ways to ask for what is hidden; none may tell anonymous or bob anything of it
ADVERSARIAL = [
    "SELECT * FROM ivoa.ObsCore",
    "SELECT * FROM ivoa.ObsCore WHERE obs_id = 'j8bt05njq'",
    "SELECT obs_id FROM ivoa.ObsCore WHERE obs_id LIKE 'j8bt%'",
    "SELECT obs_id FROM ivoa.ObsCore WHERE target_name = 'SECRET-TARGET'",
    "SELECT COUNT(*) FROM ivoa.ObsCore WHERE proposal_id = 'SECRET-PROPOSAL'",
    "SELECT MAX(t_exptime) FROM ivoa.ObsCore",
    "SELECT MIN(t_exptime) FROM ivoa.ObsCore",
    "SELECT MAX(target_name) FROM ivoa.ObsCore",
    "SELECT MIN(proposal_id), MAX(proposal_id) FROM ivoa.ObsCore",
    "SELECT DISTINCT target_name FROM ivoa.ObsCore",
    "SELECT proposal_id, COUNT(*) FROM ivoa.ObsCore GROUP BY proposal_id",
    "SELECT instrument_name, SUM(t_exptime) FROM ivoa.ObsCore GROUP BY instrument_name",
    "SELECT TOP 1 obs_id, t_exptime FROM ivoa.ObsCore ORDER BY t_exptime DESC",
    "SELECT TOP 1 obs_id, t_exptime FROM ivoa.ObsCore ORDER BY t_exptime ASC",
    "SELECT * FROM caom2.Observation",
    "SELECT observationID, target_name FROM caom2.Observation WHERE observationID = 'j8bt05njq'",
    "SELECT * FROM caom2.Plane",
    "SELECT productID FROM caom2.Plane WHERE productID LIKE '%j8bt05njq%'",
    "SELECT productID, time_exposure FROM caom2.Plane WHERE time_exposure < 0.01",
    "SELECT * FROM caom2.Artifact",
    "SELECT uri FROM caom2.Artifact WHERE uri LIKE '%j8bt05njq%'",
    "SELECT * FROM caom2.Part",
    "SELECT * FROM caom2.Chunk",
    "SELECT o.observationID, p.productID FROM caom2.Observation AS o JOIN caom2.Plane AS p "
    "ON p.obsID = o.obsID",
    "SELECT o.obs_id FROM ivoa.ObsCore AS o JOIN caom2.Plane AS p ON p.productID = o.obs_id",
    "SELECT p.productID FROM caom2.Plane AS p LEFT OUTER JOIN caom2.Artifact AS a ON "
    "a.planeID = p.planeID",
    "SELECT COUNT(*) FROM tap_schema.tables WHERE EXISTS (SELECT 1 FROM caom2.Observation AS o "
    "WHERE o.observationID = 'j8bt05njq')",
    "SELECT table_name FROM tap_schema.tables WHERE 1 = (SELECT COUNT(*) FROM ivoa.ObsCore "
    "WHERE obs_id = 'j8bt05njq')",
    "SELECT obs_id FROM ivoa.ObsCore WHERE obs_id IN (SELECT observationID FROM "
    "caom2.Observation WHERE proposal_id = 'SECRET-PROPOSAL')",
    "SELECT (SELECT MAX(t_exptime) FROM ivoa.ObsCore) AS m FROM tap_schema.schemas",
    "SELECT obs_id FROM ivoa.ObsCore WHERE 1 = INTERSECTS(s_region, CIRCLE('ICRS', 6.0236, "
    "-72.0813, 0.5))",
    "SELECT obs_id FROM ivoa.ObsCore WHERE 1 = CONTAINS(POINT('ICRS', s_ra, s_dec), "
    "CIRCLE('ICRS', 6.0348, -72.0875, 0.1))",
    "SELECT obs_id FROM ivoa.ObsCore WHERE 1 / (CASE WHEN obs_id = 'j8bt05njq' THEN 0 ELSE 1 "
    "END) = 1",
    "SELECT 1 / (CASE WHEN obs_id = 'j8bt05njq' THEN 0 ELSE 1 END) AS x FROM ivoa.ObsCore",
    "SELECT CAST(target_name AS INTEGER) FROM ivoa.ObsCore WHERE target_name = 'SECRET-TARGET'",
    "SELECT obs_id FROM ivoa.ObsCore WHERE CAST(proposal_id AS INTEGER) > 0",
    "SELECT obs_id FROM ivoa.ObsCore WHERE LOG10(t_exptime - 31337.5) IS NOT NULL",
    "SELECT obs_id FROM ivoa.ObsCore WHERE SQRT(t_exptime - 31337) > 0",
    "SELECT * FROM caom2.EnumField",
    "SELECT * FROM caom2.EnumField WHERE proposal_id = 'SECRET-PROPOSAL'",
    "SELECT obs_id FROM ivoa.ObsCore UNION SELECT observationID FROM caom2.Observation",
    "SELECT observationID FROM caom2.Observation EXCEPT SELECT obs_id FROM ivoa.ObsCore",
    "WITH h AS (SELECT obs_id, t_exptime FROM ivoa.ObsCore) SELECT MAX(t_exptime) FROM h",
    "SELECT obs_publisher_did FROM ivoa.ObsCore WHERE obs_publisher_did LIKE '%j8bt05njq%'",
]


@pytest.mark.parametrize("who", [None, "bob"])
@pytest.mark.parametrize("query", ADVERSARIAL)
def test_adversarial_queries_learn_nothing_hidden(archive, query, who):
    base, _ = archive
    for fmt in ("csv", "votable"):
        # (the VOTable repeats the query, which may name a secret: the asker's own words)
        text = re.sub(r'<INFO name="QUERY" value="[^"]*"/>', "", _sync(base, query, who, fmt).text)
        assert not [s for s in SECRETS if s in text], (query, text[:500])


def test_aggregates_and_visible_rows_agree(archive):
    """An anonymous SUM is the sum of the rows anonymous sees: nothing hidden is in it."""
    base, _ = archive
    visible = [float(r[0]) for r in _rows(base, "SELECT t_exptime FROM ivoa.ObsCore WHERE "
                                                "t_exptime IS NOT NULL")]
    total = float(_rows(base, "SELECT SUM(t_exptime) FROM ivoa.ObsCore")[0][0])
    assert total == pytest.approx(sum(visible))
    alice_total = float(_rows(base, "SELECT SUM(t_exptime) FROM ivoa.ObsCore", "alice")[0][0])
    assert alice_total == pytest.approx(total + 31337.5 + 0.000123)


def test_an_upload_join_finds_no_hidden_row(archive):
    base, _ = archive
    table = Table({"id": ["j8bt05njq", "j9irw1rqq", "ibc301qrq"]})
    buffer = io.BytesIO()
    table.write(buffer, format="votable")
    for who, expected in ((None, {"j9irw1rqq"}), ("bob", {"j9irw1rqq"}),
                          ("alice", {"j8bt05njq", "j9irw1rqq", "ibc301qrq"})):
        response = httpx.post(base + "/tap/sync", data={
            "LANG": "ADQL", "RESPONSEFORMAT": "csv", "UPLOAD": "mine,param:t",
            "QUERY": "SELECT o.obs_id FROM TAP_UPLOAD.mine AS u JOIN ivoa.ObsCore AS o "
                     "ON o.obs_id = u.id"}, files={"t": buffer.getvalue()}, headers=_as(who))
        assert set(response.text.split()[1:]) == expected, (who, response.text)


def test_the_identity_cannot_be_forged_from_a_query(archive):
    base, db_url = archive
    refused = _sync(base, "SELECT set_config('hstvo.identity', 'alice:00', true) FROM "
                          "ivoa.ObsCore")
    assert refused.status_code == 400 and "unknown function set_config" in refused.text
    with psycopg.connect(db_url, autocommit=True) as conn:  # raw SQL as the query role itself
        conn.execute("SET ROLE hstvo_tap")
        conn.execute("SELECT set_config('hstvo.identity', 'alice:' || repeat('0', 64), false)")
        with pytest.raises(psycopg.Error, match="was not set by the service"):
            conn.execute("SELECT COUNT(*) FROM ivoa.obscore").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT auth.begin_request('alice')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT auth.identity_signature('alice')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM auth.secret")
        conn.execute("RESET hstvo.identity")  # anonymous again: the public rows
        assert conn.execute("SELECT COUNT(*) FROM ivoa.obscore").fetchone()[0] == 9


# ---------------------------------------------------------------------------------------------
# The other services
# ---------------------------------------------------------------------------------------------

HIDDEN_IDS = ["caom:HST/j8bt05njq/j8bt05njq_raw", "ivo://hstvo.example/HST?j8bt05njq/j8bt05njq_raw",
              "caom:HST/ibc301qrq/ibc301qrq_flt"]


@pytest.mark.parametrize("who", [None, "bob"])
def test_datalink_soda_files_and_repository_answer_as_if_unknown(archive, who):
    base, _ = archive
    for guess in HIDDEN_IDS:
        links = httpx.get(base + "/datalink", params={"ID": guess}, headers=_as(who)).text
        assert "NotFoundFault" in links and "j8bt05njq_raw.fits" not in links
        assert "ibc301qrq_flt.fits" not in links
        soda = httpx.get(base + "/soda/sync", params={"ID": guess, "POS": "CIRCLE 6.03 -72.08 0.01"},
                         headers=_as(who))
        assert soda.status_code == 404
    assert httpx.get(base + "/files/HST/j8bt05njq_raw.fits", headers=_as(who)).status_code == 404
    assert httpx.get(base + "/caom2repo/observations/HST/j8bt05njq",
                     headers=_as(who)).status_code == 404
    listing = httpx.get(base + "/caom2repo/observations/HST", headers=_as(who)).text
    assert "j8bt05njq" not in listing and "ibc301qrq" in listing
    landing = httpx.get(base + "/", headers=_as(who)).text
    assert "10 observations" in landing and "9 in ivoa.ObsCore" in landing


def test_members_reach_everything_through_every_service(archive):
    base, _ = archive
    for guess in HIDDEN_IDS[:2]:
        links = httpx.get(base + "/datalink", params={"ID": guess}, headers=_as("alice")).text
        assert "NotFoundFault" not in links and "j8bt05njq_raw.fits" in links
    assert httpx.get(base + "/files/HST/j8bt05njq_raw.fits", headers=_as("alice")).status_code == 200
    assert httpx.get(base + "/soda/sync", params={"ID": HIDDEN_IDS[0], "POS": "CIRCLE 6.0348 "
                     "-72.0875 0.0003"}, headers=_as("carol")).status_code == 200
    document = httpx.get(base + "/caom2repo/observations/HST/j8bt05njq", headers=_as("carol"))
    assert document.status_code == 200 and "SECRET-TARGET" in document.text


def test_mocs_cover_what_the_caller_may_see(archive):
    base, _ = archive
    seen = {who: int(httpx.get(base + "/moc", params={"collection": "HST", "order": "8"},
                               headers=_as(who)).headers["x-footprints"])
            for who in (None, "bob", "alice", None)}
    assert seen[None] == seen["bob"] < seen["alice"]


def test_proprietary_data_401_anonymous_403_outsiders_bytes_for_members(archive):
    base, _ = archive
    url = base + "/files/HST/j94f05bgq_flt.fits"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401
    challenges = anonymous.headers.get_list("www-authenticate")
    assert any(c.startswith("ivoa_bearer") for c in challenges) and 'Basic realm="hstvo"' in challenges
    assert httpx.get(url, headers=_as("bob")).status_code == 403
    member = httpx.get(url, headers=_as("carol"))
    assert member.status_code == 200 and member.content[:6] == b"SIMPLE"
    basic = httpx.get(url, auth=("carol", CAROL_PASSWORD))
    assert basic.status_code == 200
    soda = {"ID": "caom:HST/j94f05bgq/j94f05bgq_flt", "POS": "CIRCLE 6.03 -72.08 0.02"}
    assert httpx.get(base + "/soda/sync", params=soda).status_code == 401
    assert httpx.get(base + "/soda/sync", params=soda, headers=_as("bob")).status_code == 403
    # DataLink says so: the links need authorization, which alice has and anonymous has not
    for who, authorized in ((None, "F"), ("alice", "T")):
        links = parse_single_table(io.BytesIO(httpx.get(
            base + "/datalink", params={"ID": soda["ID"]}, headers=_as(who)).content)).to_table()
        this = links[links["semantics"] == "#this"][0]
        assert this["link_auth"] == "true" and bool(this["link_authorized"]) == (authorized == "T")


# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------

def test_bad_credentials_are_401_never_anonymous(archive):
    base, db_url = archive
    query = {"LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM ivoa.ObsCore"}
    for headers in ({"Authorization": "Bearer not-a-token"},
                    {"Authorization": "Basic " + base64.b64encode(b"carol:wrong").decode()},
                    {"Authorization": "Negotiate abc"},
                    {"Cookie": "hstvo_session=alice:9999999999:" + "0" * 64},
                    {"Cookie": "hstvo_session=alice:99999999999999999999999:" + "0" * 64},
                    {"Authorization": "Bearer alice:99999999999999999999999:" + "0" * 64}):
        response = httpx.get(base + "/tap/sync", params=query, headers=headers)
        assert response.status_code == 401, headers
        assert 'Bearer realm="hstvo", error="invalid_token"' in response.headers.get_list(
            "www-authenticate")
    created = run_hstvo("token", "create", "bob", "--expires", "1s", db_url=db_url, check=True)
    short = created.stdout.strip()
    assert httpx.get(base + "/tap/sync", params=query,
                     headers={"Authorization": f"Bearer {short}"}).status_code == 200
    time.sleep(1.5)
    assert httpx.get(base + "/tap/sync", params=query,
                     headers={"Authorization": f"Bearer {short}"}).status_code == 401
    revoked = run_hstvo("token", "create", "bob", db_url=db_url, check=True).stdout.strip()
    listed = run_hstvo("token", "list", "bob", db_url=db_url, check=True).stdout
    newest = listed.strip().splitlines()[-1].split()[0]
    run_hstvo("token", "revoke", newest, db_url=db_url, check=True)
    assert httpx.get(base + "/tap/sync", params=query,
                     headers={"Authorization": f"Bearer {revoked}"}).status_code == 401


def test_login_gives_a_session_cookie_and_bearer(archive):
    base, _ = archive
    wrong = httpx.post(base + "/login", data={"username": "carol", "password": "nope"})
    assert wrong.status_code == 401
    login = httpx.post(base + "/login", data={"username": "carol", "password": CAROL_PASSWORD})
    assert login.status_code == 200 and login.cookies.get("hstvo_session")
    session = login.headers["x-vo-bearer"]
    expired = {"hstvo_session": "carol:1:" + "0" * 64}  # an old cookie does not bar logging in
    assert httpx.get(base + "/login", cookies=expired).status_code == 200
    assert httpx.post(base + "/login", cookies=expired, data={
        "username": "carol", "password": CAROL_PASSWORD}).status_code == 200
    with httpx.Client(cookies=login.cookies) as browser:
        assert browser.get(base + "/files/HST/j94f05bgq_flt.fits").status_code == 200
    assert httpx.get(base + "/files/HST/j94f05bgq_flt.fits",
                     headers={"Authorization": f"Bearer {session}"}).status_code == 200


def test_passwords_never_appear_in_clear(archive, tmp_path):
    base, db_url = archive
    added = subprocess.run([sys.executable, "-m", "hstvo.cli", "users", "add", "dave",
                            "--password-stdin"], input="s3cret-dave-pw\n", text=True,
                           capture_output=True, env={**__import__("os").environ,
                                                     "DATABASE_URL": db_url})
    assert added.returncode == 0, added.stderr
    httpx.get(base + "/tap/availability", auth=("dave", "s3cret-dave-pw"))
    httpx.get(base + "/tap/availability", auth=("dave", "s3cret-dave-pw-wrong"))
    dump = subprocess.run(["pg_dump", "--data-only", "--schema=auth", db_url],
                          capture_output=True, text=True, check=True).stdout
    assert "s3cret-dave-pw" not in dump and "$argon2id$" in dump
    assert "bob-token" not in dump  # tokens are kept as their SHA-256 only


# ---------------------------------------------------------------------------------------------
# Clients: pyvo's AuthSession, CADC's caom2repo
# ---------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_pyvo_authsession_with_a_token_and_with_basic(archive):
    import pyvo
    import requests
    from pyvo.auth import AuthSession, securitymethods

    base, _ = archive
    query = "SELECT obs_id FROM ivoa.ObsCore WHERE obs_id = 'j8bt05njq'"
    anonymous = pyvo.dal.TAPService(base + "/tap")
    assert len(anonymous.run_sync(query)) == 0
    token = AuthSession()
    bearer = requests.Session()
    bearer.headers["Authorization"] = f"Bearer {TOKENS['alice']}"
    token.credentials.set("ivo://ivoa.net/sso#token", bearer)
    # (SSO 2.0 names no token method, so the TAP capabilities declare none: say where it goes)
    token.add_security_method_for_url(base + "/tap", "ivo://ivoa.net/sso#token")
    assert list(pyvo.dal.TAPService(base + "/tap", session=token).run_sync(query)["obs_id"]) \
        == ["j8bt05njq"]
    basic = AuthSession()
    basic.credentials.set_password("carol", CAROL_PASSWORD)
    service = pyvo.dal.TAPService(base + "/tap", session=basic)
    assert securitymethods.BASIC in {m for c in service.capabilities for i in c.interfaces
                                     for m in [s.standardid for s in i.securitymethods]}
    assert len(service.run_sync(query)) == 1
    job = service.submit_job(query)  # async, with the same credentials; carol owns the job
    job.run().wait()
    assert list(job.fetch_result().to_table()["obs_id"]) == ["j8bt05njq"]
    job.delete()
    gc.collect()


def test_caom2repo_client_with_a_token(archive):
    from cadcutils import exceptions, net
    from caom2repo.core import CAOM2RepoClient

    base, _ = archive
    resource = base + "/caom2repo"
    member = CAOM2RepoClient(net.Subject(token=TOKENS["alice"]), resource_id=resource)
    assert member.read("HST", "j8bt05njq").target.name == "SECRET-TARGET"
    outsider = CAOM2RepoClient(net.Subject(token=TOKENS["bob"]), resource_id=resource)
    with pytest.raises(exceptions.NotFoundException):
        outsider.read("HST", "j8bt05njq")


# ---------------------------------------------------------------------------------------------
# Jobs belong to who made them; writes to the writers group
# ---------------------------------------------------------------------------------------------

def test_jobs_belong_to_their_owner(archive):
    base, _ = archive
    created = httpx.post(base + "/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT COUNT(*) "
                         "FROM ivoa.ObsCore", "PHASE": "RUN"}, headers=_as("alice"))
    url = created.headers["location"]
    assert httpx.get(url, params={"WAIT": "30"}, headers=_as("alice")).status_code == 200
    assert httpx.get(url + "/results/result", headers=_as("alice")).text.count("<TD>11</TD>") == 1
    assert httpx.get(url).status_code == 401
    assert httpx.get(url + "/results/result", headers=_as("bob")).status_code == 403
    assert httpx.delete(url, headers=_as("bob")).status_code == 403
    assert httpx.post(url + "/phase", data={"PHASE": "ABORT"}, headers=_as("bob")).status_code == 403
    bobs = httpx.get(base + "/tap/async", headers=_as("bob")).text
    assert url.rsplit("/", 1)[1] not in bobs
    assert url.rsplit("/", 1)[1] in httpx.get(base + "/tap/async", headers=_as("alice")).text
    assert httpx.delete(url, headers=_as("alice")).status_code == 303


def test_repository_writes_need_the_writers_group(archive):
    base, db_url = archive
    run_hstvo("users", "add", "eve", db_url=db_url, check=True)
    eve = run_hstvo("token", "create", "eve", db_url=db_url, check=True).stdout.strip()
    url = base + "/caom2repo/observations/HST/j9irw1rqq"
    document = httpx.get(url).content
    assert httpx.post(url, content=document).status_code == 401
    assert httpx.post(url, content=document,
                      headers={"Authorization": f"Bearer {eve}"}).status_code == 403
    assert httpx.post(url, content=document,
                      headers={"Authorization": "Bearer writer-token"}).status_code == 200


def test_rewriting_a_proprietary_observation_keeps_its_planes_hidden(archive):
    """A writer's update of a meta-proprietary observation (the repository, an XML import, a
    harvest: caom2.put_observation) leaves the rules its planes carry in place."""
    base, db_url = archive
    url = base + "/caom2repo/observations/HST/j8bt05njq"
    writer = {"Authorization": "Bearer writer-token"}
    document = httpx.get(url, headers=writer).content
    assert httpx.post(url, content=document, headers=writer).status_code == 200
    with psycopg.connect(db_url) as conn:
        planes, carried = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE p.obs_metarelease = o.metarelease AND "
            "p.obs_metareadgroups = o.metareadgroups) FROM caom2.plane p "
            "JOIN caom2.observation o USING (obsid) WHERE o.observationid = 'j8bt05njq'").fetchone()
    assert carried == planes > 0
    for who in (None, "bob"):
        assert _rows(base, "SELECT productID FROM caom2.Plane WHERE productID LIKE 'j8bt05njq%'",
                     who) == []


def test_gms_search_lists_the_callers_groups_nested_included(archive):
    base, _ = archive
    assert httpx.get(base + "/gms/search").status_code == 401
    assert set(httpx.get(base + "/gms/search", headers=_as("alice")).text.split()) == {
        "HST-RO", "inner"}
    filtered = httpx.get(base + "/gms/search", headers=_as("alice"),
                         params=[("group", "ivo://hstvo.example/gms?HST-RO"), ("group", "other")])
    assert filtered.text == "HST-RO\n"
    assert httpx.get(base + "/gms/search", headers=_as("bob")).text == ""
    capabilities = httpx.get(base + "/gms/capabilities").text
    assert "ivo://ivoa.net/std/GMS#search-1.0" in capabilities


def test_writers_see_everything(archive):
    """Workers, harvesters and the archive's staff write every row: they read every row too."""
    base, _ = archive
    writer = {"Authorization": "Bearer writer-token"}
    count = httpx.get(base + "/tap/sync", params={"LANG": "ADQL", "RESPONSEFORMAT": "csv",
                      "QUERY": "SELECT COUNT(*) FROM ivoa.ObsCore"}, headers=writer)
    assert count.text.split() == ["COUNT", "11"] or count.text.split()[-1] == "11"
    for name in ("j8bt05njq_raw.fits", "j94f05bgq_flt.fits"):
        assert httpx.get(base + f"/files/HST/{name}", headers=writer).status_code == 200
    links = parse_single_table(io.BytesIO(httpx.get(  # and DataLink says so, as /files does
        base + "/datalink", params={"ID": "caom:HST/j94f05bgq/j94f05bgq_flt"},
        headers=writer).content)).to_table()
    assert bool(links[links["semantics"] == "#this"][0]["link_authorized"])


def test_authenticated_requests_and_refusals_are_audited(archive):
    base, db_url = archive
    httpx.get(base + "/files/HST/j94f05bgq_flt.fits", headers=_as("bob"))  # 403
    httpx.get(base + "/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT 1 FROM ivoa.ObsCore"},
              headers={"Authorization": "Bearer forged"})                 # 401
    httpx.get(base + "/datalink", params={"ID": HIDDEN_IDS[0]}, headers=_as("alice"))
    time.sleep(1.5)  # rows are written after the answers, in batches
    shown = run_hstvo("users", "audit", "--limit", "200", db_url=db_url, check=True).stdout
    assert "bob              token   403 forbidden        GET /files/HST/j94f05bgq_flt.fits" in shown
    assert "anonymous        -       401 unauthenticated  GET /tap/sync" in shown
    assert f"alice            token   200 ok               GET /datalink {HIDDEN_IDS[0]}" in shown
    refusals = run_hstvo("users", "audit", "--refusals", db_url=db_url, check=True).stdout
    assert " 200 " not in refusals and " 403 " in refusals
    assert "forged" not in shown  # never a credential
