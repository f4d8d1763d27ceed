"""HAP single-visit mosaics (sql/55_hst_single_visit.sql): the grouping rule reproduces the
real poller lists of drizzlepac's test data (../shared/data/hst/hap_poller/), and names the
mosaics and their members as HAP does."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from .conftest import SHARED

POLLER = SHARED / "data" / "hst" / "hap_poller"
INSTRUMENTS = {"j": "ACS", "i": "WFC3", "u": "WFPC2"}


def register(conn, name: str, header: dict, path: str | None = None) -> None:
    """A calibrated exposure in hst.archive_file, as the ingest registers one."""
    root, suffix = name[:9], name[10:13].upper()
    conn.execute("INSERT INTO hst.archive_file (file_name, observationid, product_id, instrument,"
                 " suffix, level, maps, product_type, primary_header, extensions, path) "
                 "VALUES (%s, %s, %s, %s, %s, 2, true, 'science', %s, '[]', %s)",
                 (name, root, root + "_" + suffix.lower(), INSTRUMENTS[name[0]], suffix,
                  Jsonb(header), path or f"/archive/{name}"))


def poller_rows(path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line.strip()]


def register_poller_list(conn, path) -> None:
    for fields in poller_rows(path):
        if len(fields) == 1:  # a list of names only: a header that says little else
            register(conn, fields[0], {"PROPOSID": 1, "EXPTIME": 1.0, "FILTER": "F555W",
                                       "DETECTOR": "X"})
            continue
        name, proposal, _, _, exptime, filters, detector, pathname = fields
        header = {"PROPOSID": int(proposal), "EXPTIME": float(exptime), "DETECTOR": detector}
        if name.startswith("j"):  # ACS: two filter wheels
            header["FILTER1"], header["FILTER2"] = filters.split(";")
        else:
            header["FILTER"] = filters
        register(conn, name, header, pathname)


@pytest.mark.parametrize("listing", sorted(p.name for p in POLLER.glob("*_input.out")))
def test_each_visit_s_poller_list_is_reproduced(conn, listing):
    path = POLLER / listing
    register_poller_list(conn, path)
    rows = poller_rows(path)
    if len(rows[0]) == 1:  # names only: the visit is exactly these exposures
        names = conn.execute("SELECT file_name FROM hst.svm_poller_line "
                             "ORDER BY file_name").fetchall()
        assert [n for (n,) in names] == sorted(r[0] for r in rows)
        visits = conn.execute("SELECT DISTINCT program_id, obset_id FROM hst.svm_exposure"
                              ).fetchall()
        assert visits == [(rows[0][0][1:4].upper(), rows[0][0][4:6].upper())]
        return
    _, proposal, program, obset = rows[0][:4]
    lines = conn.execute("SELECT line FROM hst.svm_poller_line WHERE proposal_id = %s AND "
                         "program_id = %s AND obset_id = %s ORDER BY file_name",
                         (proposal, program, obset)).fetchall()
    assert [line for (line,) in lines] == path.read_text().splitlines()


def test_the_flc_of_an_exposure_is_taken_over_its_flt(conn):
    header = {"PROPOSID": 12557, "EXPTIME": 290.0, "FILTER": "F555W", "DETECTOR": "UVIS"}
    register(conn, "ibqk07clq_flt.fits", header)
    register(conn, "ibqk07clq_flc.fits", header)
    register(conn, "ibqk07clq_raw.fits", header)
    assert conn.execute("SELECT file_name FROM hst.svm_exposure").fetchall() == \
        [("ibqk07clq_flc.fits",)]


def test_a_visit_makes_one_mosaic_per_detector_and_filter(conn):
    register_poller_list(conn, POLLER / "wfc3_bqk_07_input.out")
    register_poller_list(conn, POLLER / "acs_97e_06_input.out")
    products = dict(conn.execute("SELECT product_name || '_' || mosaic_suffix, members "
                                 "FROM hst.svm_product").fetchall())
    assert products["hst_12557_07_wfc3_ir_f160w_ibqk07_drz"] == [
        "ibqk07chq_flt.fits", "ibqk07ciq_flt.fits", "ibqk07cjq_flt.fits", "ibqk07ckq_flt.fits"]
    assert products["hst_12557_07_wfc3_uvis_f555w_ibqk07_drc"] == [
        "ibqk07clq_flc.fits", "ibqk07cmq_flc.fits", "ibqk07cnq_flc.fits", "ibqk07coq_flc.fits"]
    acs = sorted(name for name in products if name.startswith("hst_10374_"))
    assert acs == sorted(f"hst_10374_06_acs_wfc_{f}_j97e06_drz" for f in
                         ("f555w", "f606w", "f625w", "f775w", "f814w", "f850lp", "g800l",
                          "g800l-f814w"))
    assert products["hst_10374_06_acs_wfc_g800l-f814w_j97e06_drz"] == [
        f"j97e06j{c}q_flt.fits" for c in "5678"]
    # each exposure under its HAP name, as the SVM renames it (the samples hold two)
    names = conn.execute("SELECT member_names FROM hst.svm_product WHERE product_name = "
                         "'hst_12557_07_wfc3_uvis_f555w_ibqk07'").fetchone()[0]
    assert names[0] == "hst_12557_07_wfc3_uvis_f555w_ibqk07cl_flc.fits"


@pytest.mark.parametrize("filters, name", [
    ("CLEAR1L;F814W", "f814w"), ("F555W;CLEAR2L", "f555w"), ("G800L;F814W", "g800l-f814w"),
    ("POL60V;F606W", "f606w-pol60v"), ("F606W;POL0V", "f606w-pol0v"),
    ("F140LP;N/A;F140LP", "f140lp"), ("CLEAR1L;CLEAR2L", "clear"), ("F160W", "f160w")])
def test_filter_names_are_hap_s(readonly_conn, filters, name):
    assert readonly_conn.execute("SELECT hst.hap_filter_name(%s)", (filters,)).fetchone()[0] == name


@pytest.mark.parametrize("sample", ["sample_svm_flc.fits", "sample_svm_flt.fits"])
def test_an_exposure_s_hap_name_is_the_one_the_svm_gave_it(conn, sample):
    """The real SVM-renamed exposures in the samples: their headers, registered under their
    ipppssoot names, get back the names HAP gave them (their FILENAME keyword)."""
    from astropy.io import fits

    header = fits.getheader(SHARED / "data" / "hst" / "science" / sample)
    suffix = sample.rsplit("_", 1)[1]
    register(conn, f"{header['ROOTNAME'].lower()}_{suffix}",
             {k: header[k] for k in ("PROPOSID", "EXPTIME", "FILTER", "DETECTOR")})
    [(names,)] = conn.execute("SELECT member_names FROM hst.svm_product").fetchall()
    assert names == [header["FILENAME"]]


def test_ingested_svm_exposures_are_their_visit_s_members(conn):
    """The real SVM-renamed samples, ingested: each is its ipppssoot observation's calibrated
    file under its HAP name, and a member of its visit's mosaic for its detector and filter."""
    from loaders.fits_ingest import find_files, ingest

    science = SHARED / "data" / "hst" / "science"
    report = ingest(conn, find_files([str(science / "sample_svm_flc.fits"),
                                      str(science / "sample_svm_flt.fits")]), jobs=1)
    assert (report.ingested, report.refused) == (2, 0)
    assert conn.execute("SELECT observationid FROM caom2.observation ORDER BY 1").fetchall() == \
        [("ib4606c6q",), ("ib4606cpq",)]
    products = conn.execute("SELECT product_name, mosaic_suffix, members FROM hst.svm_product "
                            "ORDER BY 1").fetchall()
    assert products == [
        ("hst_11665_06_wfc3_ir_f110w_ib4606", "drz",
         ["hst_11665_06_wfc3_ir_f110w_ib4606cp_flt.fits"]),
        ("hst_11665_06_wfc3_uvis_f555w_ib4606", "drc",
         ["hst_11665_06_wfc3_uvis_f555w_ib4606c6_flc.fits"])]


# ---------------------------------------------------------------------------------------------
# The mosaics as observations: ingested, linked to their members, rebuilt when a member changes
# ---------------------------------------------------------------------------------------------

UVIS_MOSAIC = "hst_11665_06_wfc3_uvis_f555w_ib4606"
IR_MOSAIC = "hst_11665_06_wfc3_ir_f110w_ib4606"


def science(name: str):
    return SHARED / "data" / "hst" / "science" / name


def changed_copy(source, target, **keywords):
    """A copy of a FITS file with primary-header keywords set (new bytes: a new checksum)."""
    from astropy.io import fits

    with fits.open(source) as hdus:
        for key, value in keywords.items():
            hdus[0].header[key] = value
        hdus.writeto(target, output_verify="silentfix")
    return target


def mosaic_file(tmp_path, name: str = UVIS_MOSAIC):
    """A HAP mosaic's file for the test: the member's headers and WCS, under the mosaic's name
    (HAP writes FILENAME so)."""
    return changed_copy(science("sample_svm_flc.fits"), tmp_path / f"{name}_drc.fits",
                        FILENAME=f"{name}_drc.fits")


def ingest_files(conn, *paths):
    from loaders.fits_ingest import ingest

    report = ingest(conn, [*paths], jobs=1)
    assert report.refused == 0, report
    return report


def mosaic_jobs(conn) -> list[tuple]:
    return conn.execute("SELECT dataset, status::text, jsonb_array_length(reasons) FROM queue.job "
                        "WHERE command = 'build_mosaic' ORDER BY dataset, id").fetchall()


@pytest.fixture
def site(conn):
    """An archive that makes HAP mosaics (the default; the suite's template turns it off)."""
    conn.execute("UPDATE hstvo.setting SET value = 'on' WHERE name = 'hap_mosaic_rebuilds'")
    return conn


def test_a_mosaic_is_a_composite_whose_members_are_its_visit_s_exposures(site, tmp_path):
    conn = site
    ingest_files(conn, science("sample_svm_flc.fits"), science("sample_svm_flt.fits"))
    ingest_files(conn, mosaic_file(tmp_path))
    typecode, members, algorithm = conn.execute(
        "SELECT o.typecode, o.members, o.algorithm_name FROM caom2.observation o "
        "WHERE o.observationid = %s", (UVIS_MOSAIC,)).fetchone()
    assert (typecode, members, algorithm) == ("C", "caom:HST/ib4606c6q", "HAP single-visit mosaic")
    planes = conn.execute("SELECT p.productid, p.calibrationlevel FROM caom2.plane p JOIN "
                          "caom2.observation o USING (obsid) WHERE o.observationid = %s",
                          (UVIS_MOSAIC,)).fetchall()
    assert planes == [(f"{UVIS_MOSAIC}_drc", 3)]
    # ObsCore shows it at level 3; DataLink links it and its member both ways
    assert conn.execute("SELECT calib_level FROM ivoa.obscore WHERE obs_id = %s",
                        (UVIS_MOSAIC,)).fetchone() == (3,)
    mosaic_plane = f"caom:HST/{UVIS_MOSAIC}/{UVIS_MOSAIC}_drc"
    progenitors = conn.execute("SELECT access_url FROM hstvo.datalink_links(%s) WHERE semantics = "
                               "'#progenitor'", ([mosaic_plane],)).fetchall()
    assert len(progenitors) == 1 and "ib4606c6q" in progenitors[0][0]
    derived = conn.execute("SELECT access_url FROM hstvo.datalink_links(%s) WHERE semantics = "
                           "'#derivation'", (["caom:HST/ib4606c6q/ib4606c6q_flc"],)).fetchall()
    assert len(derived) == 1 and UVIS_MOSAIC in derived[0][0]
    # the IR exposure belongs to another mosaic, which is not in the archive: no derived link
    assert not conn.execute("SELECT 1 FROM hstvo.datalink_links(%s) WHERE semantics = '#derivation'",
                            (["caom:HST/ib4606cpq/ib4606cpq_flt"],)).fetchall()
    # ingesting the mosaic again changes nothing
    before = conn.execute("SELECT accmetachecksum FROM caom2.observation WHERE observationid = %s",
                          (UVIS_MOSAIC,)).fetchone()
    ingest_files(conn, tmp_path / f"{UVIS_MOSAIC}_drc.fits")
    assert conn.execute("SELECT accmetachecksum FROM caom2.observation WHERE observationid = %s",
                        (UVIS_MOSAIC,)).fetchone() == before


def test_a_new_or_recalibrated_member_enqueues_exactly_one_rebuild_of_its_mosaic(site, tmp_path):
    conn = site
    ingest_files(conn, science("sample_svm_flc.fits"), science("sample_svm_flt.fits"))
    # new exposures: one rebuild of each of the two mosaics they belong to
    assert mosaic_jobs(conn) == [(IR_MOSAIC, "idle", 1), (UVIS_MOSAIC, "idle", 1)]
    names = {name for (name,) in conn.execute("SELECT product_name FROM hst.svm_product")}
    assert names == {IR_MOSAIC, UVIS_MOSAIC}
    conn.execute("UPDATE queue.job SET status = 'completed', finished = now()")
    # the same files again: nothing
    ingest_files(conn, science("sample_svm_flc.fits"), science("sample_svm_flt.fits"))
    assert [job for job in mosaic_jobs(conn) if job[1] == "idle"] == []
    # one member recalibrated (its file's bytes change): exactly one rebuild, of its mosaic
    recalibrated = changed_copy(science("sample_svm_flc.fits"), tmp_path / "sample_svm_flc.fits",
                                CAL_VER="3.7.2")
    ingest_files(conn, recalibrated)
    assert [job for job in mosaic_jobs(conn) if job[1] == "idle"] == [(UVIS_MOSAIC, "idle", 1)]
    reason = conn.execute("SELECT reasons->0 FROM queue.job WHERE status = 'idle'").fetchone()[0]
    assert reason["why"] == "recalibrated exposure"
    assert reason["member"] == "hst_11665_06_wfc3_uvis_f555w_ib4606c6_flc.fits"
    # another exposure of the same visit, detector and filter joins that waiting job
    sibling = changed_copy(science("sample_svm_flc.fits"), tmp_path / "sibling_flc.fits",
                           ROOTNAME="ib4606c7q",
                           FILENAME="hst_11665_06_wfc3_uvis_f555w_ib4606c7_flc.fits")
    ingest_files(conn, sibling)
    assert [job for job in mosaic_jobs(conn) if job[1] == "idle"] == [(UVIS_MOSAIC, "idle", 2)]
    inputs = conn.execute("SELECT hst.mosaic_inputs(%s)", (UVIS_MOSAIC,)).fetchone()[0]
    assert inputs["members"] == ["hst_11665_06_wfc3_uvis_f555w_ib4606c6_flc.fits",
                                 "hst_11665_06_wfc3_uvis_f555w_ib4606c7_flc.fits"]
    assert inputs["poller"].count("\n") == 2 and inputs["suffix"] == "drc"


def test_a_site_that_makes_no_mosaics_enqueues_none(conn):
    ingest_files(conn, science("sample_svm_flc.fits"))
    assert mosaic_jobs(conn) == []


def test_a_synthetic_archive_with_mosaics_ingests_each_as_its_visit_s_composite(site, tmp_path):
    """`hstvo synth --hap-mosaics`: every ACS and WFC3 visit gets its mosaic, and the ingest
    makes each a composite observation whose members are exactly the exposures the grouping
    rule gives it."""
    from loaders.fits_ingest import find_files, ingest
    from loaders.synth import write_archive

    written = write_archive(tmp_path / "archive", count=24, seed=7, hap_mosaics=True)
    mosaics = sorted(p.name for p in written if p.name.startswith("hst_"))
    assert mosaics and all(name.endswith(("_drc.fits", "_drz.fits")) for name in mosaics)
    report = ingest(site, find_files([str(tmp_path / "archive")]), jobs=1)
    assert report.refused == 0
    composites = dict(site.execute(
        "SELECT observationid, members FROM caom2.observation WHERE observationid LIKE 'hst\\_%'"))
    assert sorted(composites) == sorted(name.rsplit("_", 1)[0] for name in mosaics)
    grouped = {name: " ".join(f"caom:HST/{m}" for m in sorted(members)) for name, members in site.execute(
        "SELECT product_name, member_observations FROM hst.svm_product")}
    assert composites == {name: grouped[name] for name in composites}
    assert all(members for members in composites.values())
    levels = {level for (level,) in site.execute(
        "SELECT calib_level FROM ivoa.obscore WHERE obs_id LIKE 'hst\\_%'")}
    assert levels == {3}
