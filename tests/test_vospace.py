"""VOSpace 2.1 over HTTP: node documents, paging, transfers (sync and async UWS), permissions,
quotas, and bad input. Each bad request gets its VOSpace fault (the fault's name first, the
status the standard gives it) and leaves nothing half-written: no node, no file.

One server for the module; alice owns /home/alice, bob is in her group `survey`, carol is not.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
from urllib.parse import urlparse

import httpx
import psycopg
import pytest
from lxml import etree

from .conftest import SAMPLE_DATA, add_account, module_clone, run_hstvo, serving

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
CORE = "ivo://ivoa.net/vospace/core#"
ROOT = "vos://hstvo.example~vospace"
TOKENS = {"alice": "alice-space-token", "bob": "bob-space-token", "carol": "carol-space-token"}


@pytest.fixture(scope="module")
def space(pg_server, template_db, tmp_path_factory):
    """The samples served, with alice, bob (in alice's group survey) and carol; one observation
    (j8bt05njq, target SECRET-TARGET) visible to the group survey only."""
    from loaders.fits_ingest import find_files, ingest

    directory = tmp_path_factory.mktemp("vospace")
    with module_clone(pg_server, template_db, "hstvo_vospace") as conn:
        ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        url = pg_server.url(conn.info.dbname)
        for user, token in TOKENS.items():
            add_account(url, user, token)
        conn.execute("SELECT auth.create_group('survey', 'alice')")
        conn.execute("SELECT auth.add_member('survey', 'bob')")
        conn.execute("UPDATE caom2.observation SET metarelease = '2099-01-01', metareadgroups = "
                     "auth.group_uri('survey'), target_name = 'SECRET-TARGET' "
                     "WHERE observationid = 'j8bt05njq'")
        with serving(url, directory / "serve.log") as base:
            yield {"base": base, "url": url, "conn": conn,
                   "storage": directory / "storage" / "vospace"}


def client(space, user: str | None = "alice") -> httpx.Client:
    headers = {"Authorization": f"Bearer {TOKENS[user]}"} if user else {}
    return httpx.Client(base_url=space["base"] + "/vospace", headers=headers, timeout=60)


def node_xml(path: str, kind: str = "ContainerNode", properties: dict | None = None,
             target: str | None = None) -> str:
    props = "".join(f'<vos:property uri="{k}">{v}</vos:property>' if v is not None else
                    f'<vos:property uri="{k}" xsi:nil="true"/>'
                    for k, v in (properties or {}).items())
    link = f"<vos:target>{target}</vos:target>" if target else ""
    return (f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" uri="{ROOT}{path}" '
            f'xsi:type="vos:{kind}"><vos:properties>{props}</vos:properties>{link}</vos:node>')


def put_node(space, path: str, user: str = "alice", **kw) -> httpx.Response:
    with client(space, user) as c:
        return c.put("/nodes" + path, content=node_xml(path, **kw),
                     headers={"Content-Type": "text/xml"})


def upload(space, path: str, data: bytes, user: str = "alice", **headers) -> httpx.Response:
    with client(space, user) as c:
        return c.put("/files" + path, content=data, headers=headers)


def parse(response: httpx.Response) -> etree._Element:
    return etree.fromstring(response.content)


def own_properties(document: etree._Element) -> dict[str, str]:
    """A node's properties (not its children's)."""
    return {p.get("uri"): p.text for p in document.find(f"{{{VOS}}}properties")}


def children(document: etree._Element) -> list[str]:
    return [n.get("uri").rsplit("/", 1)[1] for n in document.iterfind(f"{{{VOS}}}nodes/{{{VOS}}}node")]


def stored_files(space) -> set[str]:
    root = space["storage"]
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def fault(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.text.startswith(name), response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text


# -- capabilities and documents ------------------------------------------------------------------

def test_capabilities_name_every_endpoint(space):
    caps = etree.fromstring(httpx.get(space["base"] + "/vospace/capabilities").content)
    standards = {c.get("standardID"): c.findtext(".//accessURL") for c in caps.iter("capability")}
    assert standards["ivo://ivoa.net/std/VOSpace/v2.0#nodes"].endswith("/vospace/nodes")
    assert standards["ivo://ivoa.net/std/VOSpace#sync-2.1"].endswith("/vospace/synctrans")
    assert standards["ivo://ivoa.net/std/VOSpace/v2.0#transfers"].endswith("/vospace/transfers")
    for listing in ("protocols", "views", "properties"):
        response = httpx.get(f"{space['base']}/vospace/{listing}")
        assert response.status_code == 200 and etree.fromstring(response.content) is not None
    assert "ivo://hstvo.example/vospace" in httpx.get(space["base"] + "/reg/resource-caps").text


def test_every_user_has_a_home_and_anonymous_sees_none_of_them(space):
    with client(space) as c:
        home = parse(c.get("/nodes/home/alice"))
    assert home.get(f"{{{XSI}}}type") == "vos:ContainerNode"
    props = own_properties(home)
    assert props[CORE + "creator"] == "alice" and int(props[CORE + "quota"]) > 0
    with client(space, None) as c:
        assert children(parse(c.get("/nodes/home"))) == []
        fault(c.get("/nodes/home/alice"), 401, "PermissionDenied")
    with client(space, "carol") as c:
        fault(c.get("/nodes/home/alice"), 403, "PermissionDenied")


def test_node_document_in_the_schema_order_for_each_detail(space):
    assert put_node(space, "/home/alice/docs").status_code == 201
    assert upload(space, "/home/alice/docs/a.txt", b"abc").status_code == 201
    with client(space) as c:
        full = parse(c.get("/nodes/home/alice/docs"))
        order = [etree.QName(e).localname for e in full]
        assert order == ["properties", "accepts", "provides", "capabilities", "nodes"]
        child = full.find(f"{{{VOS}}}nodes/{{{VOS}}}node")
        assert child.get(f"{{{XSI}}}type") == "vos:DataNode"
        child_props = {p.get("uri"): p.text for p in child.iter(f"{{{VOS}}}property")}
        assert child_props[CORE + "length"] == "3"
        assert child_props[CORE + "MD5"] == hashlib.md5(b"abc").hexdigest()
        minimal = parse(c.get("/nodes/home/alice/docs", params={"detail": "min"}))
        assert len(minimal.find(f"{{{VOS}}}properties")) == 0
        fault(c.get("/nodes/home/alice/docs", params={"detail": "all"}), 400, "InvalidArgument")
        fault(c.get("/nodes/home/alice/docs", params={"limit": "-1"}), 400, "InvalidArgument")


def test_a_container_pages_by_name_from_the_uri_given(space):
    put_node(space, "/home/alice/many")
    names = [f"n{i:03d}" for i in range(25)]
    for name in names:
        assert put_node(space, f"/home/alice/many/{name}", kind="DataNode").status_code == 201
    seen: list[str] = []
    start = None
    with client(space) as c:
        while True:
            params = {"limit": 10, **({"uri": f"{ROOT}/home/alice/many/{start}"} if start else {})}
            page = children(parse(c.get("/nodes/home/alice/many", params=params)))
            fresh = page[1:] if start else page
            seen += fresh
            if len(page) < 10:
                break
            start = page[-1]
        assert seen == names
        assert children(parse(c.get("/nodes/home/alice/many", params={"limit": 0}))) == []
        assert len(children(parse(c.get("/nodes/home/alice/many")))) == 25


# -- data ------------------------------------------------------------------------------------

def test_upload_replace_download_and_the_old_file_goes(space):
    body = bytes(range(256)) * 1000
    created = upload(space, "/home/alice/data.bin", body)
    assert created.status_code == 201
    assert created.headers["Digest"].startswith("md5=")
    files_before = stored_files(space)
    replaced = upload(space, "/home/alice/data.bin", body[::-1])
    assert replaced.status_code == 201
    assert len(stored_files(space)) == len(files_before)  # the old file removed, a new one kept
    with client(space) as c:
        got = c.get("/files/home/alice/data.bin")
        assert got.content == body[::-1]
        assert c.get("/files/home/alice/data.bin", headers={"Range": "bytes=0-9"}).content == body[::-1][:10]
        head = c.head("/files/home/alice/data.bin")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(body))


def test_a_wrong_md5_keeps_nothing(space):
    wrong = "md5=" + "A" * 22 + "=="
    response = upload(space, "/home/alice/bad-md5.bin", b"x" * 1000, Digest=wrong)
    assert response.status_code == 412
    with client(space) as c:
        fault(c.get("/nodes/home/alice/bad-md5.bin"), 404, "NodeNotFound")
    assert not any(f.endswith(".part") for f in stored_files(space))


def raw_request(space, head: str, body: bytes, close_after: int | None = None) -> bytes:
    """Send a request by hand: `close_after` bytes of `body`, then hang up."""
    address = urlparse(space["base"])
    with socket.create_connection((address.hostname, address.port), timeout=10) as s:
        s.sendall(head.encode() + body[:close_after])
        if close_after is not None:
            s.shutdown(socket.SHUT_WR)
        try:
            return s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return b""


def test_an_upload_cut_off_halfway_leaves_no_node_and_no_file(space):
    files_before = stored_files(space)
    body = b"y" * 200_000
    head = (f"PUT /vospace/files/home/alice/cut.bin HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {TOKENS['alice']}\r\nContent-Length: {len(body)}\r\n\r\n")
    raw_request(space, head, body, close_after=100_000)
    with client(space) as c:
        for _ in range(50):  # the server notices the client gone
            if stored_files(space) == files_before:
                break
            import time
            time.sleep(0.1)
        fault(c.get("/nodes/home/alice/cut.bin"), 404, "NodeNotFound")
    assert stored_files(space) == files_before


def test_quota_exceeded_is_refused_before_and_after_the_bytes(space):
    result = run_hstvo("vos", "quota", "/home/carol", "1000", db_url=space["url"])
    assert result.returncode == 0, result.stderr
    response = upload(space, "/home/carol/big.bin", b"z" * 5000, user="carol")
    fault(response, 413, "RequestEntityTooLarge")
    assert "QuotaExceeded" in response.text
    assert upload(space, "/home/carol/small.bin", b"z" * 600, user="carol").status_code == 201
    # a chunked upload announces no length: refused once the bytes are in, and not kept
    with client(space, "carol") as c:
        chunked = c.put("/files/home/carol/more.bin", content=iter([b"z" * 300, b"z" * 300]))
    fault(chunked, 413, "RequestEntityTooLarge")
    with client(space, "carol") as c:
        assert children(parse(c.get("/nodes/home/carol"))) == ["small.bin"]


# -- bad paths and names ---------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/vospace/nodes/home/alice/../bob",
                                  "/vospace/nodes/home/alice/%2e%2e/bob",
                                  "/vospace/nodes/home/alice/%2E%2E/%2E%2E/etc",
                                  "/vospace/files/home/alice/..%2fbob",
                                  "/vospace/nodes/home/alice/./docs"])
def test_a_path_that_climbs_is_invalid(space, path):
    address = urlparse(space["base"])
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKENS['alice']}"})
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    assert response.status in (400, 404), text
    assert "InvalidURI" in text or "NodeNotFound" in text
    assert "bob" not in text or "InvalidURI" in text


@pytest.mark.parametrize("name", ["bad%01name", "back%5Cslash", "%20leading", "x" * 300])
def test_names_not_allowed_are_refused(space, name):
    with client(space) as c:
        response = c.put(f"/nodes/home/alice/{name}", content=node_xml(f"/home/alice/{name}"),
                         headers={"Content-Type": "text/xml"})
    assert response.status_code == 400 and response.text.startswith("InvalidURI"), response.text


def test_a_cyclic_link_is_refused(space):
    assert put_node(space, "/home/alice/l1", kind="LinkNode", target=f"{ROOT}/home/alice/l2").status_code == 201
    fault(put_node(space, "/home/alice/l2", kind="LinkNode", target=f"{ROOT}/home/alice/l1"),
          400, "InvalidArgument")
    fault(put_node(space, "/home/alice/l3", kind="LinkNode", target=f"{ROOT}/home/alice/l3"),
          400, "InvalidArgument")


def test_bad_documents_are_faults(space):
    with client(space) as c:
        for body in (b"", b"<not-xml", b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                     b'<node xmlns="http://www.ivoa.net/xml/VOSpace/v2.0">&e;</node>',
                     node_xml("/home/alice/other").encode()):
            response = c.put("/nodes/home/alice/docbad", content=body,
                             headers={"Content-Type": "text/xml"})
            assert response.status_code == 400, response.text
            assert "root:" not in response.text
        fault(c.put("/nodes/home/alice/t", content=node_xml("/home/alice/t", kind="FancyNode"),
                    headers={"Content-Type": "text/xml"}), 400, "TypeNotSupported")
        fault(c.put("/nodes/home/alice/docs", content=node_xml("/home/alice/docs"),
                    headers={"Content-Type": "text/xml"}), 409, "DuplicateNode")
        fault(c.put("/nodes/home/alice/nowhere/x", content=node_xml("/home/alice/nowhere/x"),
                    headers={"Content-Type": "text/xml"}), 404, "ContainerNotFound")


def test_anonymous_and_forged_writers_are_refused(space):
    with client(space, None) as c:
        fault(c.put("/nodes/home/alice/anon", content=node_xml("/home/alice/anon"),
                    headers={"Content-Type": "text/xml"}), 401, "PermissionDenied")
    with httpx.Client(base_url=space["base"] + "/vospace",
                      headers={"Authorization": "Bearer forged"}) as c:
        assert c.put("/files/home/alice/f.bin", content=b"x").status_code == 401
    with client(space, "carol") as c:
        fault(c.delete("/nodes/home/alice/docs"), 403, "PermissionDenied")
        fault(c.put("/nodes/home/x", content=node_xml("/home/x"),
                    headers={"Content-Type": "text/xml"}), 403, "PermissionDenied")


# -- permissions -----------------------------------------------------------------------------

def set_props(space, path: str, properties: dict, user: str = "alice") -> httpx.Response:
    with client(space, user) as c:
        return c.post("/nodes" + path, content=node_xml(path, properties=properties),
                      headers={"Content-Type": "text/xml"})


def can_read(space, user: str | None, path: str) -> bool:
    with client(space, user) as c:
        return c.get("/files" + path).status_code == 200


def can_write(space, user: str, path: str) -> bool:
    return upload(space, path, b"w", user=user).status_code == 201


def test_private_group_read_group_write_public(space):
    put_node(space, "/home/alice/proj")
    upload(space, "/home/alice/proj/plan.txt", b"plan")
    set_props(space, "/home/alice", {CORE + "groupread": "ivo://hstvo.example/gms?survey"})
    plan = "/home/alice/proj/plan.txt"
    assert [can_read(space, u, plan) for u in ("alice", "bob", "carol", None)] == [True, False, False, False]

    set_props(space, "/home/alice/proj", {CORE + "groupread": "ivo://hstvo.example/gms?survey"})
    set_props(space, plan, {CORE + "groupread": "survey"})
    assert [can_read(space, u, plan) for u in ("alice", "bob", "carol", None)] == [True, True, False, False]
    assert not can_write(space, "bob", "/home/alice/proj/bob.txt")

    set_props(space, "/home/alice/proj", {CORE + "groupwrite": "ivo://cadc.nrc.ca/gms?survey"})
    assert can_write(space, "bob", "/home/alice/proj/bob.txt")
    assert not can_write(space, "carol", "/home/alice/proj/carol.txt")
    fault(set_props(space, plan, {CORE + "ispublic": "true"}, user="bob"), 403, "PermissionDenied")

    for path in ("/home/alice", "/home/alice/proj", plan):
        set_props(space, path, {CORE + "ispublic": "true"})
    assert [can_read(space, u, plan) for u in ("alice", "bob", "carol", None)] == [True] * 4
    assert not can_write(space, "carol", plan)
    fault(set_props(space, plan, {CORE + "groupread": "no-such-group"}), 400, "InvalidArgument")
    for path in ("/home/alice", "/home/alice/proj", plan):
        set_props(space, path, {CORE + "ispublic": "false", CORE + "groupread": None})
    assert [can_read(space, u, plan) for u in ("alice", "bob", "carol", None)] == [True, False, False, False]


# -- transfers -------------------------------------------------------------------------------

def transfer_xml(target: str, direction: str, protocol: str | None = None,
                 keep: bool | None = None) -> str:
    proto = f'<vos:protocol uri="{CORE}{protocol}"/>' if protocol else ""
    keep_bytes = f"<vos:keepBytes>{str(keep).lower()}</vos:keepBytes>" if keep is not None else ""
    return (f'<vos:transfer xmlns:vos="{VOS}" version="2.1"><vos:target>{ROOT}{target}</vos:target>'
            f"<vos:direction>{direction}</vos:direction>{proto}{keep_bytes}</vos:transfer>")


def test_sync_push_then_pull_through_the_negotiated_endpoints(space):
    with client(space) as c:
        pushed = c.post("/synctrans", content=transfer_xml("/home/alice/pushed.txt", "pushToVoSpace",
                                                           "httpput"),
                        headers={"Content-Type": "text/xml"})
        assert pushed.status_code == 303
        details = etree.fromstring(c.get(pushed.headers["location"]).content)
        endpoint = details.findtext(f"{{{VOS}}}protocol/{{{VOS}}}endpoint")
        assert c.put(endpoint, content=b"pushed bytes").status_code == 201
        job = pushed.headers["location"].rsplit("/results", 1)[0]
        assert c.get(job + "/phase").text == "COMPLETED"
        pulled = c.get("/synctrans", params={"TARGET": f"{ROOT}/home/alice/pushed.txt",
                                             "DIRECTION": "pullFromVoSpace",
                                             "PROTOCOL": CORE + "httpget", "REQUEST": "redirect"})
        assert pulled.status_code == 303
        assert c.get(pulled.headers["location"]).content == b"pushed bytes"
        refused = c.post("/synctrans", content=transfer_xml("/home/alice/x", "pushToVoSpace", "ftpput"),
                         headers={"Content-Type": "text/xml"})
        fault(refused, 400, "ProtocolNotSupported")


def test_a_push_to_a_node_the_caller_may_not_write_fails_as_a_job(space):
    with client(space, "carol") as c:
        pushed = c.post("/synctrans", content=transfer_xml("/home/alice/carol.txt", "pushToVoSpace",
                                                           "httpput"),
                        headers={"Content-Type": "text/xml"})
        job = pushed.headers["location"].rsplit("/results", 1)[0]
        assert c.get(job + "/phase").text == "ERROR"
        assert c.get(job + "/error").text.startswith("PermissionDenied")
        document = etree.fromstring(c.get(job).content)
        assert document.findtext(f"{{{UWS}}}phase") == "ERROR"
    with client(space, "bob") as c:  # a job is its owner's
        fault(c.get(job), 404, "NodeNotFound")


def test_async_move_and_copy(space):
    upload(space, "/home/alice/move-me.txt", b"moving")
    put_node(space, "/home/alice/dest")
    with client(space) as c:
        created = c.post("/transfers", content=transfer_xml("/home/alice/move-me.txt",
                                                            f"{ROOT}/home/alice/dest", keep=False),
                         headers={"Content-Type": "text/xml"})
        assert created.status_code == 303
        job = created.headers["location"]
        assert etree.fromstring(c.get(job).content).findtext(f"{{{UWS}}}phase") == "PENDING"
        assert c.post(job + "/phase", data={"PHASE": "RUN"}).status_code == 303
        assert c.get(job + "/phase").text == "COMPLETED"
        assert c.get("/files/home/alice/dest/move-me.txt").content == b"moving"
        fault(c.get("/nodes/home/alice/move-me.txt"), 404, "NodeNotFound")
        used_before = int(own_properties(parse(c.get("/nodes/home/alice")))[CORE + "length"])
        copied = c.post("/transfers", params={"PHASE": "RUN"},
                        content=transfer_xml("/home/alice/dest", f"{ROOT}/home/alice/dest2", keep=True),
                        headers={"Content-Type": "text/xml"})
        assert c.get(copied.headers["location"] + "/phase").text == "COMPLETED"
        assert c.get("/files/home/alice/dest2/move-me.txt").content == b"moving"
        used_after = int(own_properties(parse(c.get("/nodes/home/alice")))[CORE + "length"])
        assert used_after == used_before + len(b"moving")
        into_itself = c.post("/transfers", params={"PHASE": "RUN"},
                             content=transfer_xml("/home/alice/dest", f"{ROOT}/home/alice/dest/sub",
                                                  keep=False),
                             headers={"Content-Type": "text/xml"})
        job = into_itself.headers["location"]
        assert c.get(job + "/phase").text == "ERROR"
        assert c.get(job + "/error").text.startswith("InvalidArgument")
        listed = etree.fromstring(c.get("/transfers").content)
        assert len(listed.findall(f"{{{UWS}}}jobref")) >= 3
    with client(space, None) as anonymous:  # anonymous callers are many people: no list
        anonymous.get("/synctrans", params={"TARGET": f"{ROOT}/home/alice", "DIRECTION": "pullFromVoSpace"})
        assert etree.fromstring(anonymous.get("/transfers").content).findall(f"{{{UWS}}}jobref") == []
    with client(space) as c:
        assert c.delete(job).status_code == 303
        fault(c.get(job), 404, "NodeNotFound")


def test_deleting_a_container_removes_its_files_after_the_commit(space):
    put_node(space, "/home/alice/tmp")
    for i in range(3):
        upload(space, f"/home/alice/tmp/f{i}", f"file {i}".encode())
    before = stored_files(space)
    with client(space) as c:
        assert c.delete("/nodes/home/alice/tmp").status_code == 204
        fault(c.get("/nodes/home/alice/tmp"), 404, "NodeNotFound")
    assert len(before - stored_files(space)) == 3


def test_fsck_finds_orphans_and_repairs_them(space):
    orphan = space["storage"] / "zz" / "zz" / "orphan"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind")
    storage = str(space["storage"].parent)
    found = run_hstvo("vos", "fsck", "--storage", storage, db_url=space["url"])
    assert found.returncode == 1 and "orphan file zz/zz/orphan" in found.stdout
    repaired = run_hstvo("vos", "fsck", "--repair", "--storage", storage, db_url=space["url"])
    assert repaired.returncode == 0, repaired.stdout
    assert not orphan.exists()
    with psycopg.connect(space["url"]) as conn:
        assert conn.execute("SELECT count(*) FROM vospace.length_problems()").fetchone()[0] == 0


def test_operator_commands(space, tmp_path):
    local = tmp_path / "op.txt"
    local.write_text("from the operator\n")
    storage = ["--storage", str(space["storage"].parent)]
    assert run_hstvo("vos", "mkdir", "/projects", *storage, db_url=space["url"]).returncode == 0
    assert run_hstvo("vos", "put", str(local), "/projects/op.txt", *storage,
                     db_url=space["url"]).returncode == 0
    listed = run_hstvo("vos", "ls", "-l", "/projects", *storage, db_url=space["url"])
    assert "op.txt" in listed.stdout and "18" in listed.stdout
    back = tmp_path / "back.txt"
    assert run_hstvo("vos", "get", "/projects/op.txt", str(back), *storage,
                     db_url=space["url"]).returncode == 0
    assert back.read_text() == "from the operator\n"
    assert run_hstvo("vos", "chmod", "/projects", "--public", "true", *storage,
                     db_url=space["url"]).returncode == 0
    assert run_hstvo("vos", "chmod", "/projects/op.txt", "--public", "true", *storage,
                     db_url=space["url"]).returncode == 0
    assert can_read(space, None, "/projects/op.txt")
    climbing = run_hstvo("vos", "ls", "/projects/../home", *storage, db_url=space["url"])
    assert climbing.returncode == 1 and "InvalidURI" in climbing.stderr
    assert run_hstvo("vos", "rm", "/projects", *storage, db_url=space["url"]).returncode == 0


# -- the archive as folders ------------------------------------------------------------------

def archive_file_names(space, where: str, *args) -> set[str]:
    with psycopg.connect(space["url"]) as conn:
        return {r[0] for r in conn.execute(
            "SELECT hstvo.artifact_file_name(a.uri) FROM caom2.artifact a "
            "JOIN caom2.plane p USING (planeid) JOIN caom2.observation o ON o.obsid = p.obsid "
            f"WHERE {where}", args)}


def test_the_archive_by_target_by_proposal_and_its_high_level_products(space):
    with client(space, None) as c:
        targets = children(parse(c.get("/nodes/HST_MOUNT_BY_TARGETS")))
        assert "NGC104" in targets and "SECRET-TARGET" not in targets
        folder = parse(c.get("/nodes/HST_MOUNT_BY_TARGETS/NGC104"))
        assert set(children(folder)) == archive_file_names(
            space, "o.target_name = 'NGC104' AND o.observationid <> 'j8bt05njq'")
        link = folder.find(f"{{{VOS}}}nodes/{{{VOS}}}node")
        assert link.get(f"{{{XSI}}}type") == "vos:LinkNode"
        assert link.findtext(f"{{{VOS}}}target").endswith("/files/HST/" + link.get("uri").rsplit("/", 1)[1])
        proposals = children(parse(c.get("/nodes/HST_MOUNT_BY_PROPOSAL")))
        assert "11665" in proposals
        assert set(children(parse(c.get("/nodes/HST_MOUNT_BY_PROPOSAL/11665")))) == \
            archive_file_names(space, "o.proposal_id = '11665'")
        assert set(children(parse(c.get("/nodes/HST_HIGH_LEVEL_PRODUCTS")))) == \
            archive_file_names(space, "p.calibrationlevel >= 3 AND o.observationid <> 'j8bt05njq'")
        root = children(parse(c.get("/nodes/")))
        assert {"HST_MOUNT_BY_TARGETS", "HST_MOUNT_BY_PROPOSAL", "HST_HIGH_LEVEL_PRODUCTS"} <= set(root)


def test_a_file_in_the_archive_folders_downloads_from_the_archive(space):
    name = sorted(archive_file_names(space, "o.target_name = 'NGC104' AND o.observationid <> 'j8bt05njq'"))[0]
    with client(space, None) as c:
        sent = c.get(f"/files/HST_MOUNT_BY_TARGETS/NGC104/{name}")
        assert sent.status_code == 303 and sent.headers["location"].endswith(f"/files/HST/{name}")
        fetched = httpx.get(sent.headers["location"], timeout=60)
        assert fetched.status_code == 200 and fetched.content[:6] == b"SIMPLE"
        fault(c.get("/nodes/HST_MOUNT_BY_TARGETS/NGC104/no-such.fits"), 404, "NodeNotFound")
        fault(c.get("/nodes/HST_MOUNT_BY_TARGETS/NO-SUCH-TARGET"), 404, "NodeNotFound")


def test_the_archive_folders_show_only_what_the_caller_may_see_and_are_read_only(space):
    secret = archive_file_names(space, "o.observationid = 'j8bt05njq'")
    for user in (None, "carol"):
        with client(space, user) as c:
            assert "SECRET-TARGET" not in children(parse(c.get("/nodes/HST_MOUNT_BY_TARGETS")))
            fault(c.get("/nodes/HST_MOUNT_BY_TARGETS/SECRET-TARGET"), 404, "NodeNotFound")
            proposal = c.get("/nodes/HST_MOUNT_BY_PROPOSAL/9019")  # j8bt05njq's, and only its
            fault(proposal, 404, "NodeNotFound")
    with client(space, "bob") as c:
        assert set(children(parse(c.get("/nodes/HST_MOUNT_BY_TARGETS/SECRET-TARGET")))) == secret
        assert set(children(parse(c.get("/nodes/HST_MOUNT_BY_PROPOSAL/9019")))) == secret
    fault(put_node(space, "/HST_MOUNT_BY_TARGETS/mine"), 403, "PermissionDenied")
    fault(upload(space, "/HST_MOUNT_BY_TARGETS/NGC104/x.fits", b"x"), 403, "PermissionDenied")
    with client(space) as c:
        fault(c.delete("/nodes/HST_MOUNT_BY_TARGETS"), 403, "PermissionDenied")
