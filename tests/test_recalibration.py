"""Best-reference rules and what a new reference file or software release enqueues, on the real
HST files' headers (the bundled samples: two ACS/WFC exposures of 2005, one at gain 1, one at
gain 2; ACS/HRC; three WFC3; STIS, NICMOS, WFPC2)."""

import json
from pathlib import Path

import psycopg
import pytest

from loaders.reftypes import CSV, RelevanceError, generate, relevance_sql

from hstvo.config import SQL_DIR

from .conftest import run_hstvo

WFC_GAIN_2 = {"DETECTOR": ["WFC"], "CCDAMP": ["ABCD"], "CCDGAIN": ["2.0"]}


@pytest.fixture
def archive(sample_archive):
    """The sample archive; everything a test does is rolled back."""
    with sample_archive.transaction(force_rollback=True):
        sample_archive.execute("SET client_min_messages = warning")
        yield sample_archive


def register(conn, name, useafter, selection, reftype="biasfile", instrument="ACS", dry_run=False):
    """hst.register_reference_file: {(instrument, detector): datasets}."""
    rows = conn.execute("SELECT * FROM hst.register_reference_file(%s, %s, %s, %s, %s, NULL, %s)",
                        (name, instrument, reftype, useafter, json.dumps(selection), dry_run))
    return {(i, d): n for i, d, n in rows}


def pending(conn) -> dict[str, list]:
    """Idle jobs: dataset -> the reference files (or CAL_VERs) they were asked for."""
    return {dataset: [r.get("reference_file") or r.get("cal_ver") for r in reasons]
            for dataset, reasons in conn.execute(
                "SELECT dataset, reasons FROM queue.job WHERE status = 'idle'")}


def seed_current_biases(conn) -> None:
    """Register the bias each ACS/WFC exposure was calibrated with, for its gain: the archive's
    registry as it stood before the new file."""
    for dataset, gain in (("j94f05bgq", "1.0"), ("j9irw1rqq", "2.0")):
        current = conn.execute("SELECT current_file FROM hst.dataset_references(%s) "
                               "WHERE reftype = 'biasfile'", (dataset,)).fetchone()[0]
        assert register(conn, current, "2002-03-01", {**WFC_GAIN_2, "CCDGAIN": [gain]}) == {}


def test_the_generated_reference_types_are_the_csv(sample_archive):
    assert (SQL_DIR / "71_hst_reftypes.sql").read_text() == generate(CSV), \
        "run: python -m loaders.reftypes > sql/71_hst_reftypes.sql"
    assert sample_archive.execute("SELECT count(*) FROM hst.reftype").fetchone()[0] == 141


@pytest.mark.parametrize("expression, header, relevant", [
    ('((DETECTOR != "SBC") and (BIASCORR != "OMIT"))', {"DETECTOR": "WFC", "BIASCORR": "PERFORM"}, True),
    ('((DETECTOR != "SBC") and (BIASCORR != "OMIT"))', {"DETECTOR": "SBC", "BIASCORR": "PERFORM"}, False),
    ('((DETECTOR != "SBC") and (BIASCORR != "OMIT"))', {"DETECTOR": "WFC", "BIASCORR": "OMIT"}, False),
    ('(DETECTOR == "HRC" and OBSTYPE == "CORONAGRAPHIC")', {"DETECTOR": "HRC"}, False),
    ('((DETECTOR != "SBC") and ((CRCORR != "OMIT") or (RPTCORR != "OMIT")))',
     {"DETECTOR": "WFC", "CRCORR": "OMIT", "RPTCORR": "PERFORM"}, True),
    ('(SAMP_SEQ not in ["SPARS4","SPARS16","SPARS32","SPARS128"])', {"SAMP_SEQ": "SPARS16"}, False),
    ('(SAMP_SEQ not in ["SPARS4","SPARS16","SPARS32","SPARS128"])', {"SAMP_SEQ": "STEP64"}, True),
    ('(DETECTOR != "SBC")', {}, True),  # a missing keyword is UNDEFINED, as in CRDS
    ("ALWAYS", {}, True),
])
def test_relevance_conditions_evaluate_as_crds_does(sample_archive, expression, header, relevant):
    sql = relevance_sql(expression)
    assert sample_archive.execute(f"SELECT {sql} FROM (SELECT %s::jsonb AS header) AS h",
                                  (json.dumps(header),)).fetchone()[0] is relevant


def test_a_relevance_outside_the_grammar_is_refused():
    with pytest.raises(RelevanceError):
        relevance_sql('(DETECTOR ~ "WFC")')


def test_a_newer_bias_for_their_setup_enqueues_them_and_only_them(archive):
    """A new ACS/WFC bias for amplifiers ABCD at gain 2.0 from 2005 on: j9irw1rqq (gain 2,
    November 2005) and nothing else; not j94f05bgq (gain 1), nor ACS/HRC, nor WFC3."""
    seed_current_biases(archive)
    assert pending(archive) == {}
    counted = register(archive, "new2005_bia.fits", "2005-01-01", WFC_GAIN_2, dry_run=True)
    assert counted == {("ACS", "WFC"): 1}
    assert pending(archive) == {}, "a dry run enqueues nothing"
    assert archive.execute("SELECT count(*) FROM hst.reference_file WHERE file_name = "
                           "'new2005_bia.fits'").fetchone()[0] == 0, "and registers nothing"
    assert register(archive, "new2005_bia.fits", "2005-01-01", WFC_GAIN_2) == {("ACS", "WFC"): 1}
    assert pending(archive) == {"j9irw1rqq": ["new2005_bia.fits"]}
    best = dict(archive.execute("SELECT reftype, best_file FROM hst.dataset_references('j9irw1rqq')"))
    assert best["biasfile"] == "new2005_bia.fits"


def test_an_older_useafter_than_their_current_reference_enqueues_nothing(archive):
    seed_current_biases(archive)
    assert register(archive, "new2005_bia.fits", "2005-01-01", WFC_GAIN_2) == {("ACS", "WFC"): 1}
    archive.execute("UPDATE queue.job SET status = 'completed'")
    # older than the file now best for j9irw1rqq: it calibrates nothing anew
    assert register(archive, "older_bia.fits", "2004-06-01", WFC_GAIN_2) == {}
    assert pending(archive) == {}
    # later than the observation (2005-11-25): not applicable either
    assert register(archive, "future_bia.fits", "2006-01-01", WFC_GAIN_2) == {}
    assert pending(archive) == {}


def test_requests_for_the_same_dataset_coalesce_into_one_job(archive):
    seed_current_biases(archive)
    register(archive, "a_bia.fits", "2005-01-01", WFC_GAIN_2)
    register(archive, "b_bia.fits", "2005-06-01", WFC_GAIN_2)
    assert pending(archive) == {"j9irw1rqq": ["a_bia.fits", "b_bia.fits"]}
    assert archive.execute("SELECT count(*) FROM queue.job").fetchone()[0] == 1


def test_selection_values_match_numbers_as_numbers_and_alternatives(archive):
    seed_current_biases(archive)
    either_gain = {"DETECTOR": ["WFC"], "CCDAMP": ["ABCD"], "CCDGAIN": ["1", "2"]}  # CLI: 1|2
    assert register(archive, "both_bia.fits", "2004-01-01", either_gain) == {("ACS", "WFC"): 2}
    assert set(pending(archive)) == {"j94f05bgq", "j9irw1rqq"}


def test_a_reference_type_that_does_not_apply_enqueues_nothing(archive):
    """MLINTAB applies to ACS/SBC only (CRDS relevance): none of the samples."""
    assert register(archive, "x_lin.fits", "1990-01-01", {}, reftype="mlintab") == {}


def test_a_calibration_software_release_enqueues_the_whole_instrument(archive):
    counted = dict(((i, d), n) for i, d, n in archive.execute(
        "SELECT * FROM hst.set_calibration_software('WFC3', '99.0', true)"))
    assert counted == {("WFC3", "IR"): 1, ("WFC3", "UVIS"): 2}
    assert pending(archive) == {}
    archive.execute("SELECT * FROM hst.set_calibration_software('wfc3', '99.0')")
    assert set(pending(archive)) == {"ib4606c5q", "ib4606cpq", "ibc301qrq"}
    jobs = archive.execute("SELECT DISTINCT command, vm_type, min_memory_mb FROM queue.job").fetchall()
    assert jobs == [("calibrate", "standard", 4096)]
    assert archive.execute("SELECT cal_ver FROM hst.calibration_setup WHERE instrument = 'WFC3'"
                           ).fetchone()[0] == "99.0"


def test_unknown_reference_type_is_a_clear_error(archive):
    with pytest.raises(psycopg.Error, match="no reference type darkness for instrument ACS"):
        with archive.transaction():
            register(archive, "x.fits", "2005-01-01", {}, reftype="darkness")


def test_the_reffile_and_calver_commands(db_url):
    run_hstvo("samples", db_url=db_url, check=True)
    dry = run_hstvo("reffile", "add", "--name", "jref$new_bia.fits", "--useafter", "Jan 01 2005",
                    "--select", "DETECTOR=WFC", "CCDAMP=ABCD", "--dry-run", db_url=db_url, check=True)
    assert "would register ACS biasfile new_bia.fits (USEAFTER 2005-01-01 00:00:00" in dry.stdout
    assert "2 datasets would be recalibrated" in dry.stdout and "ACS      WFC        2" in dry.stdout
    added = run_hstvo("reffile", "add", "--name", "jref$new_bia.fits", "--useafter", "2005-01-01",
                      "--select", "DETECTOR=WFC", "CCDAMP=ABCD", "CCDGAIN=2", db_url=db_url, check=True)
    assert "1 dataset queued for recalibration" in added.stdout
    listed = run_hstvo("jobs", db_url=db_url, check=True).stdout
    assert "j9irw1rqq" in listed and "idle" in listed
    best = run_hstvo("reffile", "best", "j9irw1rqq", db_url=db_url, check=True).stdout
    assert "new_bia.fits" in best and "<- differs" in best
    bad = run_hstvo("reffile", "add", "--name", "jref$x_zzz.fits", "--useafter", "2005-01-01",
                    db_url=db_url)
    assert bad.returncode != 0 and "no ACS reference type has suffix zzz" in bad.stderr
    calver = run_hstvo("calver", "set", "STIS", "3.5", db_url=db_url, check=True).stdout
    assert "1 dataset queued for recalibration" in calver and "STIS     CCD        1" in calver


def test_a_real_reference_file_registers_from_its_header(db_url):
    """ACS bad-pixel table j4d1435jj_bpx.fits (crds test data): type, USEAFTER and DETECTOR
    from its header."""
    path = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "hst" / \
        "reference_files" / "j4d1435jj_bpx.fits"
    assert path.exists(), f"{path}: the shared data (../shared) is part of the project's setup"
    run_hstvo("samples", db_url=db_url, check=True)
    added = run_hstvo("reffile", "add", str(path), "--dry-run", db_url=db_url, check=True).stdout
    assert added.startswith("would register ACS bpixtab j4d1435jj_bpx.fits (USEAFTER ")
