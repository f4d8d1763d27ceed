"""CADC's own VOSpace client, unmodified (the `vos` package: vls, vmkdir, vcp, vln, vmv, vrm,
vrmdir, vchmod, vtag, vcat), against a running hstvo, set up as the README says: `hstvo
registry` writes cadcutils' registry for --host hstvo, VOSPACE_WEBSERVICE=hstvo points the
client at it, and nodes are named vos://hstvo.example~vospace/... Users authenticate with
--token, or (vcat, which takes no token) with a password in ~/.netrc.

Three users: alice owns /home/alice; bob is in alice's group `survey`; carol is not. The 1 GB
upload and download is streamed: the server's peak memory stays flat.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from .conftest import add_account, module_clone, run_hstvo, serving_process

BIN = Path(sys.executable).parent
ROOT = "vos://hstvo.example~vospace"
HOME = f"{ROOT}/home/alice"
TOKENS = {"alice": "alice-vos-token", "bob": "bob-vos-token", "carol": "carol-vos-token"}


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    """A served archive with alice, bob and carol, the group survey (alice's, bob in it), and
    a HOME for the clients: the registry written by `hstvo registry`, alice's password in
    ~/.netrc."""
    from argon2 import PasswordHasher

    directory = tmp_path_factory.mktemp("vos_client")
    home = directory / "home"
    with module_clone(pg_server, template_db, "hstvo_vos") as conn:
        url = pg_server.url(conn.info.dbname)
        for user, token in TOKENS.items():
            add_account(url, user, token)
        conn.execute("UPDATE auth.user SET password_hash = %s WHERE name = 'alice'",
                     (PasswordHasher().hash("alice-password"),))
        conn.execute("SELECT auth.create_group('survey', 'alice')")
        conn.execute("SELECT auth.add_member('survey', 'bob')")
        with serving_process(url, directory / "serve.log") as (base, process):
            run_hstvo("registry", "--config", str(home / ".config" / "cadc-registry"),
                      db_url=url, check=True)
            (home / ".netrc").write_text("machine hstvo login alice password alice-password\n")
            (home / ".netrc").chmod(0o600)
            yield {"base": base, "url": url, "home": home, "process": process,
                   "storage": directory / "storage" / "vospace", "conn": conn}


def vos(archive, command: str, *args: str, user: str | None = "alice",
        check: bool = True) -> subprocess.CompletedProcess:
    """Run one of CADC's vos commands as `user` (None: no token)."""
    env = {**os.environ, "HOME": str(archive["home"]), "VOSPACE_WEBSERVICE": "hstvo"}
    token = ["--token", TOKENS[user]] if user else []
    result = subprocess.run([str(BIN / command), *token, *args], env=env, text=True,
                            capture_output=True, timeout=300, cwd=archive["home"])
    if check:
        assert result.returncode == 0, f"{command} {args}: {result.stdout}{result.stderr}"
    return result


def listing(archive, path: str, user: str = "alice") -> dict[str, str]:
    """vls -l of a container: name -> its line."""
    lines = vos(archive, "vls", "-l", path, user=user).stdout.splitlines()
    return {line.split()[-1] if " -> " not in line else line.split(" -> ")[0].split()[-1]: line
            for line in lines if line.strip()}


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_mkdir_and_ls_show_the_new_container(archive):
    vos(archive, "vmkdir", f"{HOME}/runs")
    assert listing(archive, HOME)["runs"].startswith("drw")
    again = vos(archive, "vmkdir", f"{HOME}/runs", check=False)
    assert again.returncode != 0 and "DuplicateNode: /home/alice/runs" in again.stderr


def test_copy_up_and_down_keeps_every_byte(archive, tmp_path):
    source = tmp_path / "spectrum.fits"
    source.write_bytes(os.urandom(3_000_000) + b"END")
    vos(archive, "vcp", str(source), f"{HOME}/runs/spectrum.fits")
    assert " 3000003 " in listing(archive, f"{HOME}/runs")["spectrum.fits"]
    back = tmp_path / "back.fits"
    vos(archive, "vcp", f"{HOME}/runs/spectrum.fits", str(back))
    assert back.read_bytes() == source.read_bytes()
    node = vos(archive, "vtag", f"{HOME}/runs/spectrum.fits").stdout
    assert md5_of(source) in node


def test_link_move_and_cat(archive, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("observing log\n")
    vos(archive, "vcp", str(note), f"{HOME}/note.txt")
    vos(archive, "vln", f"{HOME}/note.txt", f"{HOME}/latest")
    assert f"-> {HOME}/note.txt" in listing(archive, HOME)["latest"]
    vos(archive, "vmv", f"{HOME}/note.txt", f"{HOME}/runs/")
    assert "note.txt" in listing(archive, f"{HOME}/runs")
    assert "note.txt" not in listing(archive, HOME)
    vos(archive, "vmv", f"{HOME}/runs/note.txt", f"{HOME}/runs/log.txt")
    # vcat takes no token: alice's password from ~/.netrc
    assert vos(archive, "vcat", f"{HOME}/runs/log.txt", user=None).stdout.startswith("observing log")


def test_rm_and_rmdir_remove_nodes_and_their_bytes(archive, tmp_path):
    vos(archive, "vmkdir", f"{HOME}/scratch")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(100_000))
    vos(archive, "vcp", str(junk), f"{HOME}/scratch/junk.bin")
    files_before = sum(1 for p in archive["storage"].rglob("*") if p.is_file())
    vos(archive, "vrm", f"{HOME}/scratch/junk.bin")
    assert sum(1 for p in archive["storage"].rglob("*") if p.is_file()) == files_before - 1
    vos(archive, "vrmdir", f"{HOME}/scratch")
    assert "scratch" not in listing(archive, HOME)


def test_chmod_with_groups_private_group_read_group_write_public(archive, tmp_path):
    shared = f"{HOME}/shared"
    vos(archive, "vmkdir", shared)
    plan = tmp_path / "plan.txt"
    plan.write_text("pointing plan\n")
    vos(archive, "vcp", str(plan), f"{shared}/plan.txt")
    fetched = tmp_path / "fetched.txt"

    # private: bob and carol see nothing of alice's home
    assert vos(archive, "vls", shared, user="bob", check=False).returncode != 0
    # group read: bob (in survey) reads; carol does not; bob may not write
    vos(archive, "vchmod", "g+r", HOME, "survey")
    vos(archive, "vchmod", "g+r", shared, "survey")
    vos(archive, "vchmod", "g+r", f"{shared}/plan.txt", "survey")
    assert "survey" in listing(archive, shared)["plan.txt"]
    vos(archive, "vcp", f"{shared}/plan.txt", str(fetched), user="bob")
    assert fetched.read_text() == "pointing plan\n"
    assert vos(archive, "vcp", f"{shared}/plan.txt", str(tmp_path / "c.txt"), user="carol",
               check=False).returncode != 0
    refused = vos(archive, "vcp", str(plan), f"{shared}/bob.txt", user="bob", check=False)
    assert refused.returncode != 0 and "PermissionDenied" in refused.stderr
    # group write: bob writes into the folder, and alice (its owner) sees what he wrote
    vos(archive, "vchmod", "g+w", shared, "survey")
    vos(archive, "vcp", str(plan), f"{shared}/bob.txt", user="bob")
    assert "bob" in listing(archive, shared)["bob.txt"]
    # public: anyone reads, with no credential at all
    vos(archive, "vchmod", "o+r", HOME)
    vos(archive, "vchmod", "o+r", shared)
    vos(archive, "vchmod", "o+r", f"{shared}/plan.txt")
    env = {**os.environ, "HOME": str(tmp_path), "VOSPACE_WEBSERVICE": "hstvo"}
    (tmp_path / ".config").symlink_to(archive["home"] / ".config")
    anonymous = subprocess.run([str(BIN / "vcat"), f"{shared}/plan.txt"], env=env, text=True,
                               capture_output=True, timeout=60)
    assert anonymous.stdout.startswith("pointing plan"), anonymous.stderr
    # and back to private: carol is refused again
    vos(archive, "vchmod", "o-r", f"{shared}/plan.txt")
    vos(archive, "vchmod", "g-r", f"{shared}/plan.txt")
    assert vos(archive, "vcp", f"{shared}/plan.txt", str(tmp_path / "c2.txt"), user="carol",
               check=False).returncode != 0


def test_tag_sets_lists_and_removes_properties(archive, tmp_path):
    target = f"{HOME}/runs/spectrum.fits"
    vos(archive, "vtag", target, "ivo://hstvo.example/tags#quality=good")
    assert "'ivo://hstvo.example/tags#quality': 'good'" in vos(archive, "vtag", target).stdout
    vos(archive, "vtag", target, "ivo://hstvo.example/tags#quality=")
    assert "tags#quality" not in vos(archive, "vtag", target).stdout


def peak_memory_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_one_gigabyte_up_and_down_streamed(archive, tmp_path):
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with big.open("wb") as out:
        for i in range(1024):
            out.write(block[i:] + block[:i])
    before = peak_memory_kb(archive["process"].pid)
    vos(archive, "vcp", str(big), f"{HOME}/big.bin")
    back = tmp_path / "big.back"
    vos(archive, "vcp", f"{HOME}/big.bin", str(back))
    assert md5_of(back) == md5_of(big)
    assert " 1073741824 " in listing(archive, HOME)["big.bin"]
    grown_mb = (peak_memory_kb(archive["process"].pid) - before) / 1024
    assert grown_mb < 100, f"the server grew by {grown_mb:.0f} MB moving 1 GB"
    vos(archive, "vrm", f"{HOME}/big.bin")
    back.unlink()
    big.unlink()


def fuse_problem() -> str | None:
    """Why this machine cannot mount a FUSE file system, or None when it can."""
    import ctypes.util

    if not Path("/dev/fuse").exists():
        return "no /dev/fuse"
    if ctypes.util.find_library("fuse") is None:
        return "no libfuse 2 (Debian's libfuse2), which vofs's fusepy needs"
    if not (BIN / "mountvofs").exists():
        return "no mountvofs (the vofs package)"
    return None


def test_mountvofs_mounts_a_home_read_only(archive, tmp_path):
    """CADC's mountvofs (vofs) mounts alice's home read-only, where FUSE is available."""
    problem = fuse_problem()
    if problem:
        pytest.skip(f"FUSE is not available on this machine: {problem}")
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    env = {**os.environ, "HOME": str(archive["home"]), "VOSPACE_WEBSERVICE": "hstvo"}
    subprocess.run([str(BIN / "mountvofs"), "--token", TOKENS["alice"], "--vospace", HOME,
                    "--mountpoint", str(mountpoint), "--readonly", "--cache_dir",
                    str(tmp_path / "cache"), "--log", str(tmp_path / "vofs.log")],
                   env=env, timeout=60, check=True)
    try:
        for _ in range(100):
            if os.path.ismount(mountpoint):
                break
            time.sleep(0.1)
        else:
            pytest.skip("FUSE is not available on this machine: the mount did not appear "
                        f"({(tmp_path / 'vofs.log').read_text()[-300:]})")
        assert (mountpoint / "runs" / "log.txt").read_text() == "observing log\n"
        assert md5_of(mountpoint / "runs" / "spectrum.fits") == vos(
            archive, "vtag", f"{HOME}/runs/spectrum.fits").stdout.split("'MD5': '")[1][:32]
        with pytest.raises(OSError):
            (mountpoint / "written.txt").write_text("no")
    finally:
        subprocess.run(["umount", str(mountpoint)], timeout=30, capture_output=True)


def test_the_database_and_the_storage_agree_afterwards(archive):
    result = run_hstvo("vos", "fsck", "--storage", str(archive["storage"].parent),
                       db_url=archive["url"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problems" in result.stdout
    with psycopg.connect(archive["url"]) as conn:
        used = conn.execute("SELECT length FROM vospace.node WHERE owner = 'alice' "
                            "AND name = 'alice'").fetchone()[0]
        total = conn.execute("SELECT sum(length) FROM vospace.node WHERE kind = 'data' "
                             "AND vospace.path_of(id) LIKE '/home/alice/%'").fetchone()[0]
    assert used == total
