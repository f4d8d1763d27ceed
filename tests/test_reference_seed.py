"""`hstvo reffile seed`: the registry loaded from CRDS's rules of 2013 (the bundled .pmap, .imap
and .rmap files). Seeding enqueues nothing, twice or once; the rules then choose, for the real
sample datasets, the reference files their headers name (or files delivered after they were
processed); and a file that really changes something still enqueues exactly what it changes."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from loaders.crds_rules import RulesError, pmap_rules, rmap_rules

from .conftest import SAMPLE_DATA, module_clone, run_hstvo

MAPPINGS = SAMPLE_DATA / "hst" / "crds_mappings"


@pytest.fixture(scope="module")
def seeded(pg_server, template_db):
    """The samples, ingested, then seeded with CRDS's rules."""
    from loaders.fits_ingest import find_files, ingest

    with module_clone(pg_server, template_db, "hstvo_seed") as conn:
        ingest(conn, find_files([str(SAMPLE_DATA / "hst" / "science")]), jobs=1)
        url = pg_server.url(conn.info.dbname)
        first = run_hstvo("reffile", "seed", db_url=url, check=True).stdout
        second = run_hstvo("reffile", "seed", db_url=url, check=True).stdout
        yield {"url": url, "conn": conn, "first": first, "second": second}


def test_the_rmaps_are_read_as_rows(tmp_path):
    rules = list(rmap_rules(MAPPINGS / "hst_acs_biasfile.rmap"))
    hrc = [r for r in rules if r.file == "q9e1206sj_bia.fits"]
    assert {r.useafter for r in hrc} == {"2006-07-15 04:42:53"}
    assert {"DETECTOR": ["HRC"], "CCDAMP": ["A"], "CCDGAIN": ["2.0"]}.items() <= hrc[0].selection.items()
    assert all("N/A" not in str(r.selection) and "*" not in str(r.selection) for r in rules)
    missing: list[str] = []
    everything = list(pmap_rules(MAPPINGS / "hst_0001.pmap", missing))
    assert {r.instrument for r in everything} == {"ACS", "COS", "NICMOS", "STIS", "WFC3", "WFPC2"}
    assert len(everything) > 15000
    broken = tmp_path / "hst_acs_broken.rmap"
    broken.write_text("header = {'instrument': 'ACS', 'filekind': 'BIASFILE'}\n"
                      "selector = Bracket({1: 'x'})\n")
    with pytest.raises(RulesError, match="Bracket"):
        list(rmap_rules(broken))
    executable = tmp_path / "hst_acs_evil.rmap"
    executable.write_text("header = __import__('os').system('touch pwned')\nselector = {}\n")
    with pytest.raises(RulesError):
        list(rmap_rules(executable))
    assert not Path("pwned").exists()


def test_seeding_enqueues_nothing_and_twice_changes_nothing(seeded):
    assert "nothing enqueued" in seeded["first"]
    assert " 0 reference files and 0 selections registered" in seeded["second"]
    with psycopg.connect(seeded["url"]) as conn:
        assert conn.execute("SELECT count(*) FROM queue.job").fetchone()[0] == 0
        files = conn.execute("SELECT count(*) FROM hst.reference_file "
                             "WHERE source LIKE 'crds:%'").fetchone()[0]
    assert files > 10000


def test_best_agrees_with_the_headers_wherever_the_rules_cover_them(seeded):
    """For every reference file a sample's header names that the 2013 rules know, where the
    header gives the keywords its rules select on (the samples' headers were trimmed by the
    packages they come from): its rule selects the dataset, and the best file is that one, or
    one the rules date later (delivered after the dataset was processed)."""
    with psycopg.connect(seeded["url"]) as conn:
        rows = conn.execute("""
            SELECT d.dataset, r.reftype, r.current_file, r.best_file,
                   (SELECT max(x.useafter) FROM hst.reference_rule x
                     WHERE x.file_name = r.current_file AND x.reftype = r.reftype
                       AND x.useafter <= d.observation_start
                       AND hst.selection_matches(x.selection, d.header)) AS current_useafter,
                   (SELECT max(x.useafter) FROM hst.reference_rule x
                     WHERE x.file_name = r.best_file AND x.reftype = r.reftype
                       AND x.useafter <= d.observation_start
                       AND hst.selection_matches(x.selection, d.header)) AS best_useafter
              FROM hst.dataset d, hst.dataset_references(d.dataset) r
             WHERE EXISTS (SELECT 1 FROM hst.reference_rule x
                            WHERE x.file_name = r.current_file AND x.reftype = r.reftype
                              AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(x.selection) k
                                               WHERE NOT d.header ? k))""").fetchall()
    assert len(rows) >= 25
    for dataset, reftype, current, best, current_useafter, best_useafter in rows:
        assert current_useafter is not None, f"{dataset} {reftype}: the rule of {current} does not select it"
        assert best == current or best_useafter > current_useafter, \
            f"{dataset} {reftype}: best {best} ({best_useafter}) over {current} ({current_useafter})"
    assert sum(1 for r in rows if r[2] == r[3]) >= len(rows) // 2
    shown = run_hstvo("reffile", "best", "j8bt05njq", db_url=seeded["url"], check=True).stdout
    bias = next(line.split() for line in shown.splitlines() if line.startswith("biasfile"))
    assert bias[2].endswith("_bia.fits") and bias[3].endswith("_bia.fits")


def test_after_seeding_only_a_real_change_enqueues(seeded, tmp_path):
    url = seeded["url"]
    with psycopg.connect(url, autocommit=True) as conn:
        best = dict(conn.execute(
            "SELECT reftype, best_file FROM hst.dataset_references('j9irw1rqq')").fetchall())
        seeded_bias = best["biasfile"]
        useafter, selection = conn.execute(
            "SELECT s.useafter, s.selection FROM hst.reference_selection s, hst.dataset d "
            "WHERE s.file_name = %s AND d.dataset = 'j9irw1rqq' "
            "AND hst.selection_matches(s.selection, d.header) "
            "ORDER BY s.useafter DESC LIMIT 1", (seeded_bias,)).fetchone()
    # the file it is best for already, registered again: nothing, though j9irw1rqq was
    # processed before it was delivered (it is the 2013 rules' choice, not a change)
    again = run_hstvo("reffile", "add", "--name", f"jref${seeded_bias}", "--useafter",
                      useafter.isoformat(sep=" "), "--dry-run", "--select",
                      *[f"{k}={'|'.join(v)}" for k, v in selection.items()],
                      db_url=url, check=True).stdout
    assert "0 datasets would be recalibrated" in again
    # a newer bias for j9irw1rqq's amplifiers and gain, delivered the day before it was observed
    newer = run_hstvo("reffile", "add", "--name", "jref$zzz0001bj_bia.fits", "--useafter",
                      "2005-11-24", "--select", "DETECTOR=WFC", "CCDAMP=ABCD", "CCDGAIN=2.0",
                      db_url=url, check=True).stdout
    assert "1 dataset queued for recalibration" in newer
    with psycopg.connect(url) as conn:
        assert [r[0] for r in conn.execute("SELECT dataset FROM queue.job")] == ["j9irw1rqq"]
        conn.execute("DELETE FROM queue.job")
        conn.execute("DELETE FROM hst.reference_file WHERE file_name = 'zzz0001bj_bia.fits'")
        conn.commit()
