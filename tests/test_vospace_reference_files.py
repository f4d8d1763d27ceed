"""HST reference files as VOSpace's /hst-refer tree: a bias copied in with CADC's `vcp`
registers itself and enqueues exactly the datasets it is best for; a worker recalibrates them,
fetching the bias through VOSpace; the bias cannot be deleted while they use it; what is not a
reference file, or not in its instrument's folder, is refused and nothing is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
from astropy.io import fits

from .conftest import add_account, module_clone, run_hstvo, serving
from .test_worker import TOKEN, a_bias_file, jobs_by_status, start_worker

BIN = Path(sys.executable).parent
TREE = "vos://hstvo.example~vospace/hst-refer"


@pytest.fixture(scope="module")
def archive(pg_server, template_db, tmp_path_factory):
    """The samples served, writable with TOKEN (a writer: the workers' and the calibration
    staff's account); a HOME where CADC's vos client finds the archive; carol, no writer."""
    tmp_path = tmp_path_factory.mktemp("reference_tree")
    with module_clone(pg_server, template_db, "hstvo_reftree") as conn:
        db_url = pg_server.url(conn.info.dbname)
        yield from _served(db_url, tmp_path)


def _served(db_url: str, tmp_path: Path):
    run_hstvo("samples", db_url=db_url, check=True)
    add_account(db_url, "carol", "carol-ref-token")
    home = tmp_path / "home"
    with serving(db_url, tmp_path / "serve.log", HSTVO_TOKEN=TOKEN,
                 HSTVO_STORAGE=str(tmp_path / "storage")) as base:
        run_hstvo("registry", "--config", str(home / ".config" / "cadc-registry"), db_url=db_url,
                  check=True)
        env = {**os.environ, "DATABASE_URL": db_url, "HSTVO_ARCHIVE_URL": base,
               "HSTVO_TOKEN": TOKEN}
        yield {"db_url": db_url, "base": base, "env": env, "home": home,
               "log": tmp_path / "serve.log"}


def vos(archive, command: str, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(archive["home"]), "VOSPACE_WEBSERVICE": "hstvo"}
    return subprocess.run([str(BIN / command), "--token", token, *args], env=env, text=True,
                          capture_output=True, timeout=120)


def queued_datasets(db_url: str) -> set[str]:
    """The datasets of the jobs waiting in the queue."""
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT dataset FROM queue.job WHERE status = 'idle'")}


def test_a_bias_copied_into_the_tree_is_registered_and_recalibrates_through_vospace(archive, tmp_path):
    db_url = archive["db_url"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE hst.calibration_setup SET command = "
                     "'{python} -m loaders.minical {input} {output}', cal_ver = 'minical 1.0' "
                     "WHERE instrument = 'ACS'")
    bias = a_bias_file(tmp_path / "tst0003_bia.fits")
    copied = vos(archive, "vcp", str(bias), f"{TREE}/jref/tst0003_bia.fits")
    assert copied.returncode == 0, copied.stderr
    # registered from its header, in the same transaction as its bytes
    listed = run_hstvo("reffile", "list", "--instrument", "ACS", db_url=db_url, check=True).stdout
    assert "jref$tst0003_bia.fits" in listed and "2005-01-01" in listed
    # exactly the datasets it is best for: what a dry run of the same registration finds
    assert queued_datasets(db_url) == {"j9irw1rqq"}
    worker = start_worker(archive["env"], tmp_path, "--once", "--lease", "10")  # its own cache
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, out
    assert jobs_by_status(db_url) == {"completed": 1}, out
    assert "GET /vospace/files/hst-refer/jref/tst0003_bia.fits" in archive["log"].read_text()
    assert (tmp_path / "cache" / "reference" / "tst0003_bia.fits").is_file()
    with psycopg.connect(db_url) as conn:
        path = conn.execute("SELECT f.path FROM hst.archive_file f "
                            "WHERE f.file_name = 'j9irw1rqq_flt.fits'").fetchone()[0]
    assert fits.getheader(path)["BIASFILE"] == "jref$tst0003_bia.fits"

    # in use: it stays
    refused = vos(archive, "vrm", f"{TREE}/jref/tst0003_bia.fits")
    assert refused.returncode != 0 and "reference file of 1 datasets" in refused.stderr
    assert "tst0003_bia.fits" in vos(archive, "vls", f"{TREE}/jref").stdout


def test_an_unused_reference_file_leaves_the_registry_with_its_node(archive, tmp_path):
    db_url = archive["db_url"]
    bias = a_bias_file(tmp_path / "tst0004_bia.fits")
    with fits.open(bias, mode="update") as hdus:  # for a gain no dataset has: no one uses it
        hdus[0].header["CCDGAIN"] = 8.0
    assert vos(archive, "vcp", str(bias), f"{TREE}/jref/tst0004_bia.fits").returncode == 0
    assert queued_datasets(db_url) == set()
    assert vos(archive, "vrm", f"{TREE}/jref/tst0004_bia.fits").returncode == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM hst.reference_file "
                            "WHERE file_name = 'tst0004_bia.fits'").fetchone()[0] == 0


def test_what_is_not_a_reference_file_of_the_folder_is_refused_and_not_kept(archive, tmp_path):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = archive["base"] + "/vospace/files/hst-refer"
    not_fits = httpx.put(f"{base}/jref/notes_bia.fits", content=b"not a FITS file",
                         headers=headers)
    assert not_fits.status_code == 400 and not_fits.text.startswith("InvalidArgument")
    bias = a_bias_file(tmp_path / "tst0005_bia.fits").read_bytes()
    wrong_folder = httpx.put(f"{base}/iref/tst0005_bia.fits", content=bias, headers=headers)
    assert wrong_folder.status_code == 400 and "/hst-refer/jref/" in wrong_folder.text
    no_useafter = fits.Header({"INSTRUME": "ACS", "FILETYPE": "BIAS"})
    path = tmp_path / "tst0006_bia.fits"
    fits.PrimaryHDU(header=no_useafter).writeto(path)
    undated = httpx.put(f"{base}/jref/tst0006_bia.fits", content=path.read_bytes(), headers=headers)
    assert undated.status_code == 400 and "USEAFTER" in undated.text
    for name in ("jref/notes_bia.fits", "iref/tst0005_bia.fits", "jref/tst0006_bia.fits"):
        assert httpx.get(f"{archive['base']}/vospace/nodes/hst-refer/{name}").status_code == 404
    with psycopg.connect(archive["db_url"]) as conn:
        assert conn.execute("SELECT count(*) FROM hst.reference_file WHERE file_name IN "
                            "('notes_bia.fits', 'tst0005_bia.fits', 'tst0006_bia.fits')").fetchone()[0] == 0
    # only the writers write in the tree; anyone reads it
    assert httpx.put(f"{base}/jref/tst0005_bia.fits", content=bias).status_code == 401
    assert httpx.put(f"{base}/jref/tst0005_bia.fits", content=bias,
                     headers={"Authorization": "Bearer carol-ref-token"}).status_code == 403
    assert httpx.get(f"{archive['base']}/vospace/nodes/hst-refer/jref").status_code == 200
