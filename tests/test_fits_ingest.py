"""FITS ingest (loaders/fits_ingest.py + sql/54_hst_ingest.sql) on the real HST files.

The module's archive is the whole of shared/data/hst/science ingested once; tests that change
things ingest into their own database.
"""

import json
import shutil

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from loaders.fits_ingest import find_files, ingest

from .conftest import SHARED, module_clone, run_hstvo

SCIENCE = SHARED / "data" / "hst" / "science"
REFERENCE = json.loads((SCIENCE / "footprints.json").read_text())

# every real file that cannot go in, and why (the rest must ingest)
EXPECTED_REFUSALS = {
    "FGSf64y0106m_a1f.fits": "unknown instrument 'FGS'",
    "WFPC2ASSNu5780205bx.fits": "cannot tell the file's archive name",
    "cos_N8XTZCAWQ.fits": "cannot tell the file's archive name",  # no FILENAME, no suffix
    "ia1d23dmq_flt_hlet.fits": "missing keyword EXPSTART, INSTRUME, PROPOSID, ROOTNAME",
    # 2chipA.fits.gz is the same file with its data: the batch keeps the first of the two
    "j94f05bgq_flt.fits": "the batch holds another file with the same archive name",
}


@pytest.fixture(scope="module")
def real_archive(pg_server, template_db):
    """A database holding every real science file, and the report of ingesting them."""
    with module_clone(pg_server, template_db, "hstvo_ingest") as connection:
        report = ingest(connection, find_files([str(SCIENCE)]), jobs=2)
        yield connection, report


def test_real_files_ingest_and_each_refusal_says_why(real_archive):
    conn, report = real_archive
    assert report.files == 21
    refused = {path.rsplit("/", 1)[1]: message for path, message in report.refusals}
    assert set(refused) == set(EXPECTED_REFUSALS)
    for name, reason in EXPECTED_REFUSALS.items():
        assert reason in refused[name], name
    assert report.ingested == report.files - len(EXPECTED_REFUSALS)
    # the log holds every file exactly once
    logged = conn.execute("SELECT count(*), count(DISTINCT path) FROM hst.ingest_log").fetchone()
    assert logged == (21, 21)
    assert conn.execute("SELECT count(*) FROM hst.ingest_staging").fetchone()[0] == 0


def test_every_footprint_contains_its_target(real_archive):
    conn, _ = real_archive
    rows = conn.execute("""
        SELECT p.productid, o.targetposition_coordinates_cval1, o.targetposition_coordinates_cval2,
               p.position_bounds_spoly @> spoint(radians(o.targetposition_coordinates_cval1),
                                                  radians(o.targetposition_coordinates_cval2))
          FROM caom2.plane p JOIN caom2.observation o USING (obsid)
         WHERE p.position_bounds_spoly IS NOT NULL""").fetchall()
    # ACS/HRC x3, ACS/WFC x2, WFC3/UVIS x3, WFC3/IR, WFPC2
    assert len(rows) == 10
    # The WFPC2 copy is waivered FITS without its group table: only chip 1's WCS survives in
    # its primary header (DETECTOR 1, the 36" PC chip), while the target sits on a WF chip.
    assert [r[0] for r in rows if r[3] is not True] == ["u5780205r_c0m"]
    wfpc2 = conn.execute("""
        SELECT degrees(p.position_bounds_center <-> spoint(radians(o.targetposition_coordinates_cval1),
                                                           radians(o.targetposition_coordinates_cval2))),
               p.position_bounds_size
          FROM caom2.plane p JOIN caom2.observation o USING (obsid)
         WHERE p.productid = 'u5780205r_c0m'""").fetchone()
    assert wfpc2[0] * 3600 < 80 and 0.012 < wfpc2[1] < 0.016  # within the WFPC2 field; PC size


def _plane_of(conn, file_name: str):
    return conn.execute("""
        SELECT p.planeid, p.position_bounds_spoly IS NOT NULL, p.position_bounds
          FROM hst.archive_file f JOIN caom2.plane p
            ON p.planeid = hst.uuid('caom:HST/' || f.observationid || '/' || f.product_id)
         WHERE f.path LIKE '%%/' || %s""", (file_name,)).fetchone()


@pytest.mark.parametrize("key", sorted(
    key for key, chips in REFERENCE.items()
    if key.startswith("hst/science/") and key.rsplit("/", 1)[1] not in EXPECTED_REFUSALS
    and any(chip.get("corners_deg") for chip in chips) and ".fits" in key))
def test_footprint_agrees_with_astropy_to_an_arcsecond(real_archive, key):
    """Both ways: every reference corner lies within 1" of the plane's footprint, and every
    vertex of the footprint within 1" of a reference corner (the hull adds no area)."""
    conn, _ = real_archive
    plane = _plane_of(conn, key.rsplit("/", 1)[1])
    assert plane is not None and plane[2] is not None, key
    corners = [c for chip in REFERENCE[key] for c in chip["corners_deg"]]
    for ra, dec in corners:
        distance = conn.execute("""
            SELECT CASE WHEN p.position_bounds_spoly @> c.pt THEN 0 ELSE
                   (SELECT min(c.pt <-> spoint(radians(b[2 * i - 1]), radians(b[2 * i])))
                      FROM generate_series(1, cardinality(b) / 2) AS i) END
              FROM caom2.plane p, LATERAL (SELECT p.position_bounds AS b) AS x,
                   LATERAL (SELECT spoint(radians(%s), radians(%s)) AS pt) AS c
             WHERE p.planeid = %s""", (ra, dec, plane[0])).fetchone()[0]
        assert distance * 206264.806 < 1.0, (key, ra, dec)
    reference = SkyCoord([c[0] for c in corners], [c[1] for c in corners], unit=u.deg)
    bounds = plane[2]
    for ra, dec in zip(bounds[0::2], bounds[1::2]):
        vertex = SkyCoord(ra, dec, unit=u.deg)
        assert vertex.separation(reference).arcsec.min() < 1.0, (key, ra, dec)


def test_obscore_rows_checked_against_the_headers_by_hand(real_archive):
    """What an astronomer reads off the headers (values copied from them by hand)."""
    conn, _ = real_archive
    rows = {r[0]: r[1:] for r in conn.execute("""
        SELECT obs_publisher_did, dataproduct_type, calib_level, instrument_name, target_name,
               round(t_min::numeric, 5)::float8, round(t_max::numeric, 5)::float8, t_exptime,
               energy_bandpassname, round(em_min::numeric * 1e9)::int, round(em_max::numeric * 1e9)::int,
               proposal_id, obs_collection
          FROM ivoa.obscore o JOIN caom2.plane p ON p.planeid = o.planeid""")}
    did = "ivo://hstvo.example/HST?"
    # j94f05bgq_flt.fits: ACS/WFC, FILTER1 F606W, FILTER2 CLEAR2L, EXPTIME 400, PROPOSID 10368,
    # EXPSTART 53436.28571938, EXPEND 53436.29036114, TARGNAME NGC104, calibrated (flt)
    assert rows[did + "j94f05bgq/j94f05bgq_flt"] == (
        "image", 2, "ACS/WFC", "NGC104", 53436.28572, 53436.29036, 400.0, "F606W", 463, 718,
        "10368", "HST")
    # j8bt09jcq_raw.fits: ACS/HRC, CLEAR1S + F330W, 66 s, raw: level 1
    assert rows[did + "j8bt09jcq/j8bt09jcq_raw"] == (
        "image", 1, "ACS/HRC", "NGC104", 52377.19031, 52377.19109, 66.0, "F330W", 296, 372,
        "9019", "HST")
    # o4sp040b0_raw.fits: STIS/CCD spectrum, OPT_ELEM G750M at CENWAVE 7751, TEXPTIME 120;
    # EXPSTART/EXPEND only in the SCI extensions (earliest start, latest end)
    stis = rows[did + "o4sp040b0/o4sp040b0_raw"]
    assert stis[:4] == ("spectrum", 1, "STIS/CCD", "HD101998")
    assert stis[4:7] == (50923.77657, 50923.77777, 120.0)
    assert stis[7] == "G750M" and stis[10:] == ("7932", "HST")
    # WFPC2 u5780205r_c0f (waivered FITS): the C0M plane, filter FR533P15 (a ramp: no bounds)
    assert rows[did + "u5780205r/u5780205r_c0m"][:8] == (
        "image", 2, "WFPC2", "NGC4151", 51229.7939, 51229.79738, 300.0, "FR533P15")
    # the HAP SVM file joins the plane of the exposure it was made from
    assert rows[did + "ib4606cpq/ib4606cpq_flt"][:4] == ("image", 2, "WFC3/IR", "ANY")


def test_reference_files_and_cal_ver_are_kept_per_plane(real_archive):
    conn, _ = real_archive
    cal_ver, files = conn.execute("""
        SELECT c.cal_ver, jsonb_object_agg(r.keyword, r.value)
          FROM hst.plane_calibration c JOIN hst.plane_reference_file r USING (planeid)
         WHERE c.planeid = hst.uuid('caom:HST/j94f05bgq/j94f05bgq_flt')
         GROUP BY c.cal_ver""").fetchone()
    header = fits.getheader(SCIENCE / "2chipA.fits.gz", 0)
    assert cal_ver == header["CAL_VER"] == "4.6.1 (13-Mar-2006)"
    expected = {k: header[k] for k in ("BPIXTAB", "CCDTAB", "ATODTAB", "OSCNTAB", "BIASFILE",
                                       "FLSHFILE", "CRREJTAB", "SHADFILE", "DARKFILE", "PFLTFILE",
                                       "GRAPHTAB", "COMPTAB", "IDCTAB", "DGEOFILE", "MDRIZTAB")}
    assert {k: v for k, v in files.items() if k in expected} == expected
    located = dict(conn.execute("""
        SELECT keyword, location || ':' || file_name FROM hst.plane_reference_file
         WHERE planeid = hst.uuid('caom:HST/j94f05bgq/j94f05bgq_flt')
           AND keyword IN ('BIASFILE', 'GRAPHTAB')""").fetchall())
    assert located == {"BIASFILE": "jref:p3v2228mj_bia.fits", "GRAPHTAB": "mtab:r1m18595m_tmg.fits"}
    # the provenance of the plane names the pipeline and its version
    assert conn.execute("SELECT provenance_name, provenance_version FROM caom2.plane "
                        "WHERE productid = 'j94f05bgq_flt'").fetchone() == ("CALACS", cal_ver)


def test_reingest_is_idempotent(conn):
    files = find_files([str(SCIENCE / "j8bt0*_raw.fits"), str(SCIENCE / "2chip*.fits.gz")])
    first = ingest(conn, files, jobs=1)
    assert (first.ingested, first.refused) == (6, 0)
    stamps = conn.execute("SELECT observationid, lastmodified, maxlastmodified, accmetachecksum "
                          "FROM caom2.observation ORDER BY 1").fetchall()
    second = ingest(conn, files, jobs=1)
    assert (second.ingested, second.unchanged, second.refused) == (0, 6, 0)
    assert conn.execute("SELECT observationid, lastmodified, maxlastmodified, accmetachecksum "
                        "FROM caom2.observation ORDER BY 1").fetchall() == stamps
    assert conn.execute("SELECT count(*) FROM hst.archive_file").fetchone()[0] == 6


def test_changed_content_moves_only_what_changed(conn, tmp_path):
    shutil.copy(SCIENCE / "j8bt05njq_raw.fits", tmp_path)
    shutil.copy(SCIENCE / "j8bt06o6q_raw.fits", tmp_path)
    ingest(conn, find_files([str(tmp_path)]), jobs=1)
    before = dict(conn.execute("SELECT observationid, maxlastmodified FROM caom2.observation"))
    with fits.open(tmp_path / "j8bt05njq_raw.fits", mode="update") as hdul:
        hdul[0].header["TARGNAME"] = "NGC104-RENAMED"
    report = ingest(conn, find_files([str(tmp_path)]), jobs=1)
    assert (report.ingested, report.unchanged) == (1, 1)
    after = dict(conn.execute("SELECT observationid, maxlastmodified FROM caom2.observation"))
    assert after["j8bt06o6q"] == before["j8bt06o6q"]
    assert after["j8bt05njq"] > before["j8bt05njq"]
    assert conn.execute("SELECT target_name FROM caom2.observation "
                        "WHERE observationid = 'j8bt05njq'").fetchone()[0] == "NGC104-RENAMED"


def _copy_with(tmp_path, source: str, name: str, **changes) -> None:
    """A copy of a real file with header keywords changed (None deletes one)."""
    target = tmp_path / name
    shutil.copy(SCIENCE / source, target)
    with fits.open(target, mode="update") as hdul:
        for keyword, value in changes.items():
            extension, _, keyword = keyword.rpartition("__")
            header = hdul[int(extension or 0)].header
            if value is None:
                del header[keyword]
            else:
                header[keyword] = value


def test_bad_files_are_refused_one_by_one_and_the_rest_goes_in(conn, tmp_path):
    good = "j8bt06o6q_raw.fits"
    shutil.copy(SCIENCE / good, tmp_path)
    data = (SCIENCE / "j8bt05njq_raw.fits").read_bytes()
    (tmp_path / "truncated_raw.fits").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes_raw.fits").write_text("SIMPLE? no: these are somebody's notes\n")
    _copy_with(tmp_path, "j8bt09jcq_raw.fits", "unknown_suffix.fits", FILENAME="j8bt09jcq_xyz.fits")
    _copy_with(tmp_path, "j8bt05njq_raw.fits", "no_proposal.fits", PROPOSID=None)
    _copy_with(tmp_path, "j8bt05njq_raw.fits", "jwst.fits", INSTRUME="NIRCAM",
               FILENAME="j8bt05njz_raw.fits", ROOTNAME="j8bt05njz")
    report = ingest(conn, find_files([str(tmp_path)]), jobs=2)
    refused = {path.rsplit("/", 1)[1]: message for path, message in report.refusals}
    assert refused.keys() == {"truncated_raw.fits", "notes_raw.fits", "unknown_suffix.fits",
                              "no_proposal.fits", "jwst.fits"}
    assert "truncated" in refused["truncated_raw.fits"]
    assert refused["notes_raw.fits"].startswith("not a readable FITS file")
    assert refused["unknown_suffix.fits"].startswith("unknown ACS suffix 'xyz'")
    assert refused["no_proposal.fits"].startswith("missing keyword PROPOSID")
    assert refused["jwst.fits"].startswith("unknown instrument 'NIRCAM'")
    assert report.ingested == 1
    assert [r[0] for r in conn.execute("SELECT observationid FROM caom2.observation")] == ["j8bt06o6q"]
    logged = dict(conn.execute("SELECT file_name, status FROM hst.ingest_log "
                               "WHERE path LIKE %s", (f"%/{good}",)).fetchall())
    assert logged == {good: "ingested"}


def test_a_file_without_wcs_goes_in_without_a_footprint_and_says_so(conn, tmp_path):
    _copy_with(tmp_path, "j8bt05njq_raw.fits", "j8bt05njq_raw.fits",
               **{"1__CTYPE1": None, "1__CTYPE2": None})
    report = ingest(conn, find_files([str(tmp_path)]), jobs=1)
    assert (report.ingested, report.refused) == (1, 0)
    assert report.warnings == [(str(tmp_path / "j8bt05njq_raw.fits"), "HDU 1 (SCI): no celestial WCS")]
    assert conn.execute("SELECT position_bounds, time_exposure FROM caom2.plane").fetchone() == (None, 60.0)


def test_a_failing_observation_leaves_nothing_half_written(conn, tmp_path):
    """EXPEND before EXPSTART makes the observation fail in the database: none of its files is
    registered and none of its rows is written, and the other observation goes in."""
    shutil.copy(SCIENCE / "j8bt06o6q_raw.fits", tmp_path)
    _copy_with(tmp_path, "j8bt05njq_raw.fits", "j8bt05njq_raw.fits", EXPEND=52000.0)
    report = ingest(conn, find_files([str(tmp_path)]), jobs=1)
    assert report.ingested == 1
    [(path, message)] = report.refusals
    assert message.startswith("observation caom:HST/j8bt05njq not stored:")
    counts = conn.execute("""
        SELECT (SELECT count(*) FROM caom2.observation WHERE observationid = 'j8bt05njq'),
               (SELECT count(*) FROM caom2.plane WHERE productid LIKE 'j8bt05njq%%'),
               (SELECT count(*) FROM hst.archive_file WHERE observationid = 'j8bt05njq'),
               (SELECT count(*) FROM caom2.observation)""").fetchone()
    assert counts == (0, 0, 0, 1)


def test_cli_reports_refusals_and_fails(db_url, tmp_path):
    shutil.copy(SCIENCE / "j8bt06o6q_raw.fits", tmp_path)
    (tmp_path / "broken_raw.fits").write_bytes(b"\0" * 100)
    result = run_hstvo("ingest", str(tmp_path), "--jobs", "1", db_url=db_url)
    assert result.returncode == 1
    assert f"refused: {tmp_path / 'broken_raw.fits'}: " in result.stderr
    assert "2 files: 1 ingested, 0 unchanged, 1 refused; 1 observations" in result.stdout
    again = run_hstvo("ingest", str(tmp_path / "j8bt06o6q_raw.fits"), db_url=db_url)
    assert again.returncode == 0 and "1 unchanged" in again.stdout
    empty = run_hstvo("ingest", str(tmp_path / "nothing-here-*.fits"), db_url=db_url)
    assert empty.returncode == 1 and "cannot read: No such file or directory" in empty.stderr


def test_rebuild_applies_a_changed_rule_to_unchanged_files(conn):
    files = find_files([str(SCIENCE / "j8bt05njq_raw.fits")])
    ingest(conn, files, jobs=1)
    release = "SELECT datarelease FROM caom2.plane WHERE productid = 'j8bt05njq_raw'"
    before = conn.execute(release).fetchone()[0]
    conn.execute("UPDATE hstvo.setting SET value = '6' WHERE name = 'hst_proprietary_months'")
    assert ingest(conn, files, jobs=1).unchanged == 1
    assert conn.execute(release).fetchone()[0] == before  # unchanged files are not rebuilt
    assert ingest(conn, files, jobs=1, rebuild=True).ingested == 1
    after = conn.execute(release).fetchone()[0]
    assert (before.year * 12 + before.month) - (after.year * 12 + after.month) == 6


def test_a_re_ingest_reads_only_what_changed_on_disk(conn, tmp_path):
    """Files found again at the same path with the same size and modification time are logged
    unchanged without being read; a touched file is read again (and changes nothing); a
    rewritten one is ingested; --rebuild reads everything."""
    import os

    for name in ("j94f05bgq_flt.fits", "o4sp040b0_raw.fits"):
        shutil.copy(SHARED / "data" / "hst" / "science" / name, tmp_path / name)
    files = find_files([str(tmp_path)])
    first = ingest(conn, files, jobs=1)
    assert (first.ingested, first.unchanged) == (2, 0)
    again = ingest(conn, files, jobs=1)
    assert (again.files, again.unchanged, again.ingested) == (2, 2, 0)
    assert again.read_seconds == 0.0  # nothing was read
    stat = os.stat(tmp_path / "o4sp040b0_raw.fits")
    os.utime(tmp_path / "o4sp040b0_raw.fits", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched = ingest(conn, files, jobs=1)
    assert (touched.unchanged, touched.ingested) == (2, 0) and touched.read_seconds > 0
    assert ingest(conn, files, jobs=1).read_seconds == 0.0  # stamped again: skipped next time
    with fits.open(tmp_path / "o4sp040b0_raw.fits", mode="update") as hdus:  # new bytes
        hdus[0].header["TARGNAME"] = "REWRITTEN"
    rewritten = ingest(conn, files, jobs=1)
    assert (rewritten.unchanged, rewritten.ingested) == (1, 1)
    assert conn.execute("SELECT target_name FROM caom2.observation WHERE observationid = "
                        "'o4sp040b0'").fetchone()[0] == "REWRITTEN"
    rebuilt = ingest(conn, files, jobs=1, rebuild=True)
    assert rebuilt.read_seconds > 0 and rebuilt.files == 2


def test_writers_at_once_store_what_one_would(db_url, conn, tmp_path):
    """Two connections storing batches at once, with every observation's files split over
    batches in flight together: each observation is stored with all of its files, as one
    writer stores it (a rebuild of everything then changes nothing)."""
    import random

    import psycopg

    from loaders.synth import write_family

    rng = random.Random(7)
    for index in range(12):
        write_family(tmp_path, rng, index)
    files = find_files([str(tmp_path)])
    report = ingest(conn, files, jobs=2, batch_size=1, writers=2,
                    connect=lambda: psycopg.connect(db_url, autocommit=True))
    assert (report.files, report.ingested, report.refused) == (len(files), len(files), 0)
    per_observation = conn.execute(
        "SELECT count(DISTINCT observationid), count(DISTINCT product_id) FROM hst.archive_file"
    ).fetchone()
    assert per_observation[0] < len(files) / 2  # observations do span batches (of two at most)
    assert conn.execute("SELECT count(*), count(DISTINCT obsid) FROM caom2.observation"
                        ).fetchone() == (per_observation[0],) * 2
    assert conn.execute("SELECT count(*) FROM caom2.plane").fetchone()[0] >= per_observation[1]
    rebuilt = ingest(conn, files, jobs=1, rebuild=True)
    assert (rebuilt.ingested, rebuilt.unchanged) == (0, len(files))


@pytest.mark.parametrize("names, size, expected", [
    # a batch ends where a dataset's files end, once it holds `size` files
    ("a_raw a_flt b_raw b_flt b_spt c_raw", 2, ["a_raw a_flt", "b_raw b_flt b_spt", "c_raw"]),
    ("a_raw a_flt a_spt b_raw", 1, ["a_raw a_flt", "a_spt", "b_raw"]),  # and at twice `size`
    ("hst_1_a hst_1_b hst_2_a hst_2_b hst_3_a", 2, ["hst_1_a hst_1_b hst_2_a hst_2_b", "hst_3_a"]),
    ("a_raw b_raw c_raw", 5, ["a_raw b_raw c_raw"]),
], ids=["datasets", "twice the size", "HAP names", "one batch"])
def test_batches_end_where_datasets_end(names, size, expected):
    """So that writers given consecutive batches rarely share an observation and wait."""
    from loaders.fits_ingest import StagedFile, _batches

    staged = [StagedFile(path=n, file_name=n + ".fits") for n in names.split()]
    got = [" ".join(s.path for s in batch) for batch in _batches(iter(staged), size)]
    assert got == expected


ROOTS = ["/data/hst", "/refs/", "/d_ta"]


@pytest.mark.parametrize("path, inside", [
    ("/data/hst/j8bt05njq_raw.fits", True),      # in a root
    ("/data/hst/deep/er/x.fits", True),          # below one
    ("/data/hstx/x.fits", False),                # a sibling sharing the root's first letters
    ("/data/x.fits", False),                     # above one
    ("/dxta/x.fits", False),                     # '_' of /d_ta is a letter, not a wildcard
    ("/refs/x.fits", True),                      # a root recorded with a trailing '/'
    ("/refs", False),                            # a root itself is no file in it
    ("relative/x.fits", False), ("/x.fits", False), ("/", False), ("", False),
])
def test_a_file_is_served_only_from_inside_a_file_root(conn, path, inside):
    """hstvo.in_file_root looks a file's directories up among the roots (sql/75), which
    pyserver/files.py asks before serving any file."""
    conn.execute("INSERT INTO hstvo.file_root (path) SELECT unnest(%s::text[])", (ROOTS,))
    assert conn.execute("SELECT hstvo.in_file_root(%s)", (path,)).fetchone()[0] is inside


def test_ingested_directories_become_roots_unless_a_root_holds_them(conn):
    conn.execute("INSERT INTO hstvo.file_root (path) SELECT unnest(%s::text[])", (ROOTS,))
    added = conn.execute("SELECT hstvo.add_file_roots(%s)", (
        ["/data/hst/visit1", "/refs/jref", "/new/a", "/new/a/b", "/new/c", "/new/c", "rel"],)
    ).fetchone()[0]
    assert added == 2
    assert conn.execute("SELECT array_agg(path ORDER BY path) FROM hstvo.file_root "
                        "WHERE path LIKE '/new%'").fetchone()[0] == ["/new/a", "/new/c"]
    assert conn.execute("SELECT hstvo.add_file_roots(%s)", (["/new/a/b/c"],)).fetchone()[0] == 0
