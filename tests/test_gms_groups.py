"""Group management over HTTP (/gms/groups) with CADC's own client library, unmodified
(cadcutils.net.GroupsClient, test-only), and its command-line client `cadc-groups`, both with
a bearer token; the rules (owners and administrators change a group, its owner removes it,
members read it) and bad requests over plain HTTP; and a membership given over HTTP opening
proprietary metadata to TAP at once.

Users: ann and ben own nothing at first; cid is the outsider; all three have tokens, ann and
ben have distinguished names (cadc-groups prints them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import add_account, run_hstvo, served_samples

TOKENS = {"ann": "ann-token", "ben": "ben-token", "cid": "cid-token"}
DNS = {"ann": "CN=Ann Archivist,OU=hstvo,O=STScI", "ben": "CN=Ben Bright,OU=hstvo,O=STScI"}
GMS = "ivo://hstvo.example/gms"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    """The sample archive served, its users, and a HOME whose cadcutils registry cache
    `hstvo registry` wrote (for cadc-groups --host hstvo)."""
    home = tmp_path_factory.mktemp("home")
    with served_samples(pg_server, template_db, tmp_path_factory.mktemp("gms"),
                        "hstvo_gms_groups") as (base, db_url):
        for name, token in TOKENS.items():
            add_account(db_url, name, token)
        with psycopg.connect(db_url, autocommit=True) as conn:
            for name, dn in DNS.items():
                conn.execute("UPDATE auth.user SET dn = %s WHERE name = %s", (dn, name))
        run_hstvo("registry", "--config", str(home / ".config" / "cadc-registry"),
                  db_url=db_url, check=True)
        yield base, db_url, home


def client(archive, who: str):
    from cadcutils import net
    from cadcutils.net import GroupsClient

    base, _, _ = archive
    return GroupsClient(net.Subject(token=TOKENS[who]), resource_id=base + "/gms")


def names(users) -> set[str]:
    return {user.identities["HTTP"].name for user in users}


def _as(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}


def http(archive, method: str, path: str, who: str | None = None, body: str | None = None):
    base, _, _ = archive
    return httpx.request(method, base + path, headers=_as(who), content=body, timeout=30)


def test_the_cadc_client_manages_a_group_from_creation_to_removal(archive):
    from cadcutils.net import Group, Identity, Role
    from cadcutils.net.groups_client import _add_admin_user

    ann = client(archive, "ann")
    team = Group("ann-team")
    team.description = "Ann's proposal team"
    ann.create_group(team)
    ann.create_group(Group("ann-sub"))

    read = ann.get_group("ann-team")
    assert (read.group_id, read.description) == ("ann-team", "Ann's proposal team")
    assert read.owner.identities["HTTP"].name == "ann"
    assert read.owner.identities["X500"].name == DNS["ann"]
    assert names(read.user_members) == {"ann"}        # the creator is its first member
    assert read.last_modified is not None

    ann.add_user_member("ann-team", Identity("ben", "HTTP"))
    ann.add_group_member("ann-team", "ann-sub")
    read = ann.get_group("ann-team")
    assert names(read.user_members) == {"ann", "ben"}
    assert {g.group_id for g in read.group_members} == {"ann-sub"}

    # the client's removal of a group member (its path names the two the wrong way round)
    ann.remove_group_member("ann-team", "ann-sub")
    read = ann.get_group("ann-team")
    assert read.group_members == set()

    _add_admin_user(read, "cid")                      # what `cadc-groups admins --add-user` does
    ann.update_group(read)
    read = ann.get_group("ann-team")
    assert names(read.user_admins) == {"cid"}
    assert names(read.user_members) == {"ann", "ben"}  # an update keeps what it does not change

    assert {g.group_id for g in ann.get_membership(Role("owner"))} == {"ann-team", "ann-sub"}
    assert {g.group_id for g in client(archive, "cid").get_membership(Role("admin"))} == {"ann-team"}
    assert {g.group_id for g in client(archive, "ben").get_membership()} == {"ann-team"}
    assert client(archive, "ben").is_member(["ann-team"])
    assert not client(archive, "ben").is_member(["ann-sub"])

    ann.remove_user_member("ann-team", Identity(DNS["ben"].upper(), "X500"))  # a DN, any case
    assert names(ann.get_group("ann-team").user_members) == {"ann"}
    ann.remove_group("ann-team")
    ann.remove_group("ann-sub")
    assert ann.get_membership(Role("owner")) == []


def test_owners_and_administrators_change_a_group_others_are_refused(archive):
    from cadcutils import exceptions
    from cadcutils.net import Group, Identity

    ann, ben, cid = (client(archive, who) for who in ("ann", "ben", "cid"))
    ann.create_group(Group("ann-rules"))
    ann.add_user_member("ann-rules", Identity("ben", "HTTP"))
    with pytest.raises(exceptions.ForbiddenException):      # a member, not an administrator
        ben.add_user_member("ann-rules", Identity("cid", "HTTP"))
    with pytest.raises(exceptions.ForbiddenException):      # an outsider may not even read it
        cid.get_group("ann-rules")
    assert names(ben.get_group("ann-rules").user_members) == {"ann", "ben"}  # members read it

    # an administering group: its members (here ben) administer
    ann.create_group(Group("ann-admins"))
    ann.add_user_member("ann-admins", Identity("ben", "HTTP"))
    group = ann.get_group("ann-rules")
    group.group_admins.add(Group("ann-admins"))
    ann.update_group(group)
    ben.add_user_member("ann-rules", Identity("cid", "HTTP"))
    assert names(cid.get_group("ann-rules").user_members) == {"ann", "ben", "cid"}
    with pytest.raises(exceptions.ForbiddenException):      # only the owner removes it
        ben.remove_group("ann-rules")
    with pytest.raises(exceptions.AlreadyExistsException):       # a group's name is taken once
        ben.create_group(Group("ann-rules"))
    ann.remove_group("ann-rules")
    ann.remove_group("ann-admins")
    with pytest.raises(exceptions.NotFoundException):
        ann.get_group("ann-rules")


def test_cadc_groups_on_the_command_line(archive):
    _, _, home = archive
    env = {**os.environ, "HOME": str(home)}

    def cadc_groups(*args: str) -> str:
        result = subprocess.run([str(BIN / "cadc-groups"), *args[:1], "--host", "hstvo",
                                 "--resource-id", GMS, "--token", TOKENS["ben"], *args[1:]],
                                env=env, text=True, capture_output=True, timeout=120)
        assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout + result.stderr
        return result.stdout

    cadc_groups("create", "--description", "Ben's survey", "ben-survey")
    cadc_groups("members", "--add-user", "ann", "ben-survey")
    shown = cadc_groups("get", "ben-survey")
    assert "Ben's survey" in shown and "ann (" + DNS["ann"] + ")" in shown
    assert cadc_groups("list").split() == ["ben-survey"]
    cadc_groups("members", "--remove-user", "ann", "ben-survey")
    assert "ann" not in cadc_groups("members", "ben-survey")
    cadc_groups("remove", "ben-survey")
    assert cadc_groups("list").split() == []


def test_a_membership_given_over_http_opens_proprietary_metadata(archive):
    from cadcutils.net import Group, Identity

    base, db_url, _ = archive
    ann = client(archive, "ann")
    ann.create_group(Group("ann-pi"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE caom2.observation SET metarelease = '2099-01-01', metareadgroups = %s"
                     " WHERE observationid = 'j8bt05njq'", (GMS + "?ann-pi",))
    query = {"LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM caom2.Observation "
             "WHERE observationID = 'j8bt05njq'", "RESPONSEFORMAT": "csv"}

    def sees(who: str) -> bool:
        response = httpx.post(base + "/tap/sync", data=query, headers=_as(who), timeout=60)
        return response.text.split()[-1] == "1"

    assert sees("ann") and not sees("ben")
    ann.add_user_member("ann-pi", Identity("ben", "HTTP"))
    assert sees("ben")
    ann.remove_user_member("ann-pi", Identity("ben", "HTTP"))
    assert not sees("ben")
    ann.remove_group("ann-pi")
    assert not sees("ann")       # the group is gone: nobody outside the writers sees it


def test_the_documents_name_groups_with_the_archives_own_identifier(archive):
    from lxml import etree

    assert http(archive, "PUT", "/gms/groups", "ann",
                '<group uri="ivo://hstvo.example/gms?ann-doc"><description>d</description>'
                '<userMembers><user><identities><identity type="HTTP">ben</identity>'
                '</identities></user></userMembers></group>').status_code == 201
    document = etree.fromstring(http(archive, "GET", "/gms/groups/ann-doc", "ben").content)
    assert document.get("uri") == GMS + "?ann-doc"   # (CADC's client is told CADC's form)
    assert document.findtext("owner/user/internalID/uri") == "ivo://hstvo.example/user?ann"
    assert sorted(document.xpath("userMembers/user/identities/identity[@type='HTTP']/text()")) \
        == ["ann", "ben"]
    listed = http(archive, "GET", "/gms/groups", "ben")
    assert "ann-doc" in listed.text.split()
    assert http(archive, "GET", "/gms/search", "ben").text.split() == ["ann-doc"]  # GMS 1.0
    assert http(archive, "DELETE", "/gms/groups/ann-doc", "ann").status_code == 200


@pytest.mark.parametrize("method, path, who, body, status, words", [
    ("PUT", "/gms/groups", None, "<group/>", 401, "authenticated"),
    ("GET", "/gms/groups/nothing-here", None, None, 404, "no group nothing-here"),
    ("PUT", "/gms/groups", "cid", "<group uri=", 400, "not well-formed"),
    ("PUT", "/gms/groups", "cid", "<groups/>", 400, "not a <group>"),
    ("PUT", "/gms/groups", "cid", "", 400, "no group document"),
    ("PUT", "/gms/groups", "cid", '<group uri="ivo://elsewhere/gms?x"/>', 400,
     "not a group of this archive"),
    ("PUT", "/gms/groups", "cid", '<group uri="ivo://hstvo.example/gms?hstvo-writers"/>', 403,
     "writers group"),
    ("PUT", "/gms/groups", "cid", '<group uri="ivo://hstvo.example/gms?-bad"/>', 400,
     "a group name is"),
    ("PUT", "/gms/groups", "cid", '<group uri="ivo://hstvo.example/gms?cid-x"><userMembers><user>'
     '<identities><identity type="HTTP">nobody</identity></identities></user></userMembers>'
     '</group>', 404, "no user nobody"),
    ("PUT", "/gms/groups", "cid", '<group uri="ivo://hstvo.example/gms?cid-x"><userMembers><user/>'
     '</userMembers></group>', 400, "neither an HTTP nor an X500"),
    ("PUT", "/gms/groups", "cid", '<!DOCTYPE g [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     '<group uri="ivo://hstvo.example/gms?cid-x"><description>&e;</description></group>', 201, ""),
    ("PUT", "/gms/groups/cid-x/userMembers/x?idType=CADC", "cid", None, 400,
     "identity type CADC"),
    ("PUT", "/gms/groups/cid-x/userMembers/CN=nobody", "cid", None, 404, "no user CN=nobody"),
    ("PUT", "/gms/groups/cid-x/userMembers/cn=nobody?idType=X500", "cid", None, 404, "no user"),
    ("PUT", "/gms/groups/cid-x/groupMembers/cid-x", "cid", None, 409, "cycle"),
    ("DELETE", "/gms/groups/cid-x/userMembers/ann", "cid", None, 404, "not a member"),
    ("GET", "/gms/search?role=boss", "cid", None, 400, "role boss"),
    ("POST", "/gms/groups/cid-x", "cid", '<group uri="ivo://hstvo.example/gms?other"/>', 400,
     "describes group other"),
    ("DELETE", "/gms/groups/cid-x", "ann", None, 403, "only its owner"),
    ("DELETE", "/gms/groups/cid-x", "cid", None, 200, "removed"),
])
def test_bad_requests_get_a_clear_answer(archive, method, path, who, body, status, words):
    response = http(archive, method, path, who, body)
    assert response.status_code == status, response.text
    assert words in response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text
    if status == 401:
        assert any(v.startswith("Bearer") for v in response.headers.get_list("www-authenticate"))
    if status == 201:   # the external entity was not read
        assert "root:" not in http(archive, "GET", "/gms/groups/cid-x", "cid").text


def test_nested_groups_may_not_make_a_cycle(archive):
    for name in ("cyc-a", "cyc-b"):
        assert http(archive, "PUT", "/gms/groups", "ann",
                    f'<group uri="{GMS}?{name}"/>').status_code == 201
    assert http(archive, "PUT", "/gms/groups/cyc-a/groupMembers/cyc-b", "ann").status_code == 200
    cycle = http(archive, "PUT", "/gms/groups/cyc-b/groupMembers/cyc-a", "ann")
    assert cycle.status_code == 409 and "cycle" in cycle.text
    for name in ("cyc-a", "cyc-b"):
        assert http(archive, "DELETE", f"/gms/groups/{name}", "ann").status_code == 200
