"""HST file-class rules (sql/50_hst_file_classes.sql), table-driven for all eight class tables.

EXPECTED is the decision for every suffix of every instrument: calibration level, whether the
file maps a footprint, whether it is a CTE-corrected variant, and the plane suffix it lands in.
Read it as the archive's rulebook; the slips of the source tables are decided in FIXES.
"""

import pytest

from .conftest import SHARED

# instrument: {suffix: (level, maps, cte, plane_suffix)}; A = auxiliary file of a level's plane
EXPECTED = {
    "ACS": {
        "RAW": (1, True, False, "raw"), "TRL": (1, False, False, "raw"),
        "SPT": (1, False, False, "raw"), "SFL": (1, False, False, "raw"),
        "ASN": (1, False, False, "raw"),
        "FLT": (2, True, False, "flt"), "FLC": (2, True, True, "flc"),
        "IMA": (2, False, False, "flt"),
        "DRZ": (3, True, False, "drz"), "DRC": (3, True, True, "drc"),
        "CRJ": (3, True, False, "crj"), "FLT_HLET": (3, False, False, "drz"),
    },
    "STIS": {
        "RAW": (1, True, False, "raw"), "TRL": (1, False, False, "raw"),
        "SPT": (1, False, False, "raw"), "TAG": (1, False, False, "raw"),
        "WAV": (1, False, False, "raw"), "LRC": (1, False, False, "raw"),
        "LSP": (1, False, False, "raw"), "WSP": (1, False, False, "raw"),
        "ASN": (1, False, False, "raw"),
        "FLT": (2, True, False, "flt"), "X2D": (2, True, False, "x2d"),
        "SX1": (3, True, False, "sx1"), "SX2": (3, True, False, "sx2"),
        "XID": (3, True, False, "xid"), "CRJ": (3, True, False, "crj"),
        "SFL": (3, True, False, "sfl"), "X1D": (3, True, False, "x1d"),
    },
    "COS": {
        "RAWACCUM": (1, True, False, "rawaccum"), "RAWTAG": (1, True, False, "rawtag"),
        "RAWACQ": (1, True, False, "rawacq"), "SPT": (1, False, False, "rawaccum"),
        "TRL": (1, False, False, "rawaccum"), "ASN": (1, False, False, "rawaccum"),
        "LAMPFLASH": (1, False, False, "rawaccum"), "PHA": (1, False, False, "rawaccum"),
        "FLT": (2, True, False, "flt"), "FLTSUM": (2, True, False, "fltsum"),
        "FLT_A": (2, False, False, "flt"), "FLT_B": (2, False, False, "flt"),
        "CORRTAG": (2, False, False, "flt"),
        "XIDSUM": (3, True, False, "xidsum"), "XID": (3, True, False, "xid"),
        "XIDSUM1": (3, True, False, "xidsum1"), "XIDSUM2": (3, True, False, "xidsum2"),
        "XIDSUM3": (3, True, False, "xidsum3"), "XIDSUM4": (3, True, False, "xidsum4"),
        # the X1D spellings HST's files use (hst.file_class_fix)
        "X1D": (3, True, False, "x1d"), "X1DSUM": (3, True, False, "x1dsum"),
        "X1DSUM1": (3, True, False, "x1dsum1"), "X1DSUM2": (3, True, False, "x1dsum2"),
        "X1DSUM3": (3, True, False, "x1dsum3"), "X1DSUM4": (3, True, False, "x1dsum4"),
    },
    "WFPC2": {
        "D0M": (1, True, False, "d0m"), "Q0M": (1, False, False, "d0m"),
        "Q1M": (1, False, False, "d0m"), "SHM": (1, False, False, "d0m"),
        "TRL": (1, False, False, "d0m"), "X0M": (1, False, False, "d0m"),
        "C0M": (2, True, False, "c0m"), "CIM": (2, True, False, "cim"),
        "DRZ": (3, True, False, "drz"), "DRZPC": (3, True, False, "drzpc"),
    },
    "FOC": {
        "D0F": (1, True, False, "d0f"), "DGR": (1, False, False, "d0f"),
        "TRL": (1, False, False, "d0f"), "Q0F": (1, False, False, "d0f"),
        "SHF": (1, False, False, "d0f"), "ULF": (1, False, False, "d0f"),
        "C0F": (2, True, False, "c0f"), "CIF": (2, True, False, "cif"),
        "CGR": (2, False, False, "c0f"),
    },
    "FOS": {
        "D0F": (1, True, False, "d0f"), "DIF": (1, True, False, "dif"),
        "Q0F": (1, False, False, "d0f"), "SHF": (1, False, False, "d0f"),
        "TRL": (1, False, False, "d0f"), "ULF": (1, False, False, "d0f"),
        "X0F": (1, False, False, "d0f"), "XQF": (1, False, False, "d0f"),
        "QIF": (1, False, False, "d0f"),
        "C1F": (2, True, False, "c1f"), "C0F": (2, True, False, "c0f"),
        "C2F": (2, False, False, "c1f"), "C3F": (2, False, False, "c1f"),
        "C4F": (2, False, False, "c1f"), "C5F": (2, False, False, "c1f"),
        "C6F": (2, False, False, "c1f"), "C7F": (2, False, False, "c1f"),
        "C8F": (2, False, False, "c1f"), "CQF": (2, False, False, "c1f"),
        "POA": (3, True, False, "poa"),
    },
    "HRS": {
        "D0F": (1, True, False, "d0f"), "DIF": (1, True, False, "dif"),
        "Q0F": (1, False, False, "d0f"), "QIF": (1, False, False, "d0f"),
        "X0F": (1, False, False, "d0f"), "TRL": (1, False, False, "d0f"),
        "ULF": (1, False, False, "d0f"), "XQF": (1, False, False, "d0f"),
        "SHF": (1, False, False, "d0f"),
        "C0F": (2, True, False, "c0f"), "CIF": (2, True, False, "cif"),
        "C2F": (2, False, False, "c0f"), "C3F": (2, False, False, "c0f"),
        "C4F": (2, False, False, "c0f"), "C5F": (2, False, False, "c0f"),
        "CQF": (2, False, False, "c0f"),
    },
    "NICMOS": {
        "RAW": (1, True, False, "raw"), "TRL": (1, False, False, "raw"),
        "SPT": (1, False, False, "raw"), "ASN": (1, False, False, "raw"),
        "SPR": (1, False, False, "raw"),
        "CAL": (2, True, False, "cal"), "IMA": (2, False, False, "cal"),
        "SAA": (2, False, False, "cal"),
        "MOS": (3, True, False, "mos"), "ASC": (3, False, False, "mos"),
    },
}
EXPECTED["WFC3"] = EXPECTED["ACS"]  # one class table for both

CASES = [(instrument, suffix) for instrument in sorted(EXPECTED)
         for suffix in sorted(EXPECTED[instrument])]


def _source_tables() -> list[tuple[str, str, int, str]]:
    """The tables of shared/docs/file-classes.md, cell by cell, in order."""
    rows, header = [], None
    for line in (SHARED / "docs" / "file-classes.md").read_text().splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "class":
            header = [name.replace(" / ", "/") for name in cells[1:]]
            continue
        for table, cell in zip(header, cells[1:]):
            rows += [(table, cells[0], i, s) for i, s in enumerate(cell.split(), 1)]
    return sorted(rows)


def test_source_tables_are_kept_verbatim(readonly_conn):
    conn = readonly_conn
    stored = conn.execute("SELECT class_table, class, ordinal, suffix "
                          "FROM hst.file_class_source ORDER BY 1, 2, 3").fetchall()
    assert stored == _source_tables()
    assert len(stored) == 286


@pytest.mark.parametrize("instrument, suffix", CASES)
def test_rule(readonly_conn, instrument, suffix):
    conn = readonly_conn
    root = {"ACS": "j8bt06nyq", "WFC3": "ib1n18kpq", "STIS": "o4sp040b0", "COS": "lbgu17qnq",
            "WFPC2": "u40x010hm", "FOC": "x0ik0101t", "FOS": "y34b0101t", "HRS": "z0yd020fm",
            "NICMOS": "n4hk12010"}[instrument]
    row = conn.execute("SELECT level, maps, cte, product_id, product_type, problem "
                       "FROM hst.classify(%s, %s)",
                       (instrument, f"{root}_{suffix.lower()}.fits")).fetchone()
    level, maps, cte, plane = EXPECTED[instrument][suffix]
    assert row == (level, maps, cte, f"{root}_{plane}",
                   "science" if maps else "auxiliary", None)


def test_every_known_suffix_is_decided(readonly_conn):
    """Each suffix of the effective rules has a level, and the decisions cover exactly them."""
    conn = readonly_conn
    rules = conn.execute("SELECT instrument, suffix, level FROM hst.suffix_rule").fetchall()
    assert [r for r in rules if r[2] is None] == []
    assert {(i, s) for i, s, _ in rules} == set(CASES)


def test_every_classified_suffix_is_in_all(readonly_conn):
    conn = readonly_conn
    missing = conn.execute("""
        SELECT DISTINCT class_table, suffix FROM hst.file_class c
         WHERE class <> 'ALL' AND NOT EXISTS (
             SELECT 1 FROM hst.file_class a
              WHERE a.class_table = c.class_table AND a.class = 'ALL' AND a.suffix = c.suffix)
    """).fetchall()
    assert missing == []


@pytest.mark.parametrize("instrument, file_name, problem", [
    ("STIS", "o4sp040b0_ftl.fits", "unknown STIS suffix 'ftl'"),  # the source's typo
    ("FOS", "y34b0101t_x0q.fits", "unknown FOS suffix 'x0q'"),  # ditto
    ("ACS", "j8bt06nyq_xyz.fits", "unknown ACS suffix 'xyz'"),
    ("JWST", "jw0123_cal.fits", "unknown instrument 'JWST'"),
    (None, "qzzz0101t_raw.fits", "unknown instrument '?'"),
])
def test_unknown_suffix_or_instrument_is_a_clear_problem(readonly_conn, instrument, file_name, problem):
    conn = readonly_conn
    row = conn.execute("SELECT level, product_id, problem FROM hst.classify(%s, %s)",
                       (instrument, file_name)).fetchone()
    assert row[0] is None and row[1] is None
    assert row[2].startswith(problem)


def test_every_fix_has_a_reason(readonly_conn):
    conn = readonly_conn
    fixes = conn.execute("SELECT class_table, class, suffix, action, reason "
                         "FROM hst.file_class_fix").fetchall()
    assert len(fixes) >= 12
    assert all(len(reason) > 20 for *_, reason in fixes)


@pytest.mark.parametrize("instrument, file_name, expected", [
    # instrument from the rootname letter when INSTRUME is missing
    (None, "ib1n18kpq_flt.fits", ("WFC3", "ib1n18kpq", "FLT", "ib1n18kpq_flt", "science")),
    # paths, compression and upper case are fine
    ("ACS", "/archive/J8BT06NYQ_FLC.FITS.GZ", ("ACS", "j8bt06nyq", "FLC", "j8bt06nyq_flc", "science")),
    # COS writes one file per detector segment
    ("COS", "lbgu17qnq_rawtag_b.fits", ("COS", "lbgu17qnq", "RAWTAG_B", "lbgu17qnq_rawtag", "science")),
    ("COS", "lbgu17qnq_corrtag_a.fits", ("COS", "lbgu17qnq", "CORRTAG_A", "lbgu17qnq_flt", "auxiliary")),
    # previews join their file's plane and map nothing
    ("ACS", "j8bt06nyq_drz.jpg", ("ACS", "j8bt06nyq", "DRZ", "j8bt06nyq_drz", "preview")),
    # WFPC2 waivered FITS (GEIS conversions) are other formats of the classified suffixes
    ("WFPC2", "u5780205r_c0f.fits", ("WFPC2", "u5780205r", "C0F", "u5780205r_c0m", "science")),
    ("WFPC2", "u5780205r_d0f.fits", ("WFPC2", "u5780205r", "D0F", "u5780205r_d0m", "science")),
    ("WFPC2", "u5780205r_q0f.fits", ("WFPC2", "u5780205r", "Q0F", "u5780205r_d0m", "auxiliary")),
    ("WFPC2", "u5780205r_c1f.fits", ("WFPC2", "u5780205r", "C1F", "u5780205r_c0m", "auxiliary")),
    ("WFPC2", "u5780205r_c1m.fits", ("WFPC2", "u5780205r", "C1M", "u5780205r_c0m", "auxiliary")),
    # INSTRUME is the authority over the rootname letter
    ("wfc3", "jb1n18kpq_ima.fits", ("WFC3", "jb1n18kpq", "IMA", "jb1n18kpq_flt", "auxiliary")),
])
def test_classify_file_names(readonly_conn, instrument, file_name, expected):
    conn = readonly_conn
    row = conn.execute("SELECT instrument, rootname, suffix, product_id, product_type "
                       "FROM hst.classify(%s, %s)", (instrument, file_name)).fetchone()
    assert row == expected


def test_a_new_rule_takes_effect_at_once(conn):
    """hst.suffix_rule is materialized for speed; changing the rule tables refreshes it."""
    before = conn.execute("SELECT problem FROM hst.classify('ACS', 'j8bt06nyq_xyz.fits')").fetchone()[0]
    assert before.startswith("unknown ACS suffix 'xyz'")
    conn.execute("INSERT INTO hst.file_class_fix VALUES ('ACS/WFC3', 'ALL', 'XYZ', 'add', "
                 "'a made-up suffix for this test, filed with the raw support files'), "
                 "('ACS/WFC3', 'RAW', 'XYZ', 'add', 'a made-up suffix for this test, level 1'), "
                 "('ACS/WFC3', 'NOMAP', 'XYZ', 'add', 'a made-up suffix for this test, no footprint')")
    assert conn.execute("SELECT level, product_id, problem FROM hst.classify('ACS', "
                        "'j8bt06nyq_xyz.fits')").fetchone() == (1, "j8bt06nyq_raw", None)
