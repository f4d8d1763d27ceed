"""TAP_SCHEMA describes exactly what the database holds, as TAP 1.1 and ObsCore 1.1 require."""

import pytest

OBSCORE_MANDATORY = {
    # column: (datatype, unit, ucd)
    "dataproduct_type": ("char", None, "meta.code.class"),
    "calib_level": ("int", None, "meta.code;obs.calib"),
    "obs_collection": ("char", None, "meta.id"),
    "obs_id": ("char", None, "meta.id"),
    "obs_publisher_did": ("char", None, "meta.ref.ivoid"),
    "access_url": ("char", None, "meta.ref.url"),
    "access_format": ("char", None, "meta.code.mime"),
    "access_estsize": ("long", "kbyte", "phys.size;meta.file"),
    "target_name": ("char", None, "meta.id;src"),
    "s_ra": ("double", "deg", "pos.eq.ra"),
    "s_dec": ("double", "deg", "pos.eq.dec"),
    "s_fov": ("double", "deg", "phys.angSize;instr.fov"),
    "s_region": ("char", None, "pos.outline;obs.field"),  # ObsCore 1.1 gives it no unit (taplint OBS-CUNI)
    "s_resolution": ("double", "arcsec", "pos.angResolution"),
    "t_min": ("double", "d", "time.start;obs.exposure"),
    "t_max": ("double", "d", "time.end;obs.exposure"),
    "t_exptime": ("double", "s", "time.duration;obs.exposure"),
    "t_resolution": ("double", "s", "time.resolution"),
    "em_min": ("double", "m", "em.wl;stat.min"),
    "em_max": ("double", "m", "em.wl;stat.max"),
    "em_res_power": ("double", None, "spect.resolution"),
    "o_ucd": ("char", None, "meta.ucd"),
    "pol_states": ("char", None, "meta.code;phys.polarization"),
    "facility_name": ("char", None, "meta.id;instr.tel"),
    "instrument_name": ("char", None, "meta.id;instr"),
}


def test_every_published_table_column_is_annotated(readonly_conn):
    conn = readonly_conn
    assert conn.execute("SELECT * FROM tap_schema.unannotated_columns").fetchall() == []
    assert conn.execute("SELECT * FROM tap_schema.orphan_annotations").fetchall() == []


def test_columns_match_the_catalog(readonly_conn):
    conn = readonly_conn
    """Each published column exists with the type TAP_SCHEMA announces."""
    rows = conn.execute("""
        SELECT c.table_name, c.column_name, c.datatype, a.atttypid::regtype::text
          FROM tap_schema.columns c
          JOIN pg_attribute a ON a.attrelid = to_regclass(lower(c.table_name))
                             AND a.attname = tap_schema.db_column(c.column_name)""").fetchall()
    published = conn.execute("SELECT count(*) FROM tap_schema.columns").fetchone()[0]
    assert len(rows) == published > 300
    expected = {"text": {"char"}, "integer": {"int"}, "bigint": {"long"},
                "double precision": {"double"}, "timestamp without time zone": {"char"},
                "uuid": {"char"}, "double precision[]": {"double"}, "spoly": {"char", "double"},
                "caom2.float8range": {"double"}, "character": {"char"}}
    for table, column, datatype, pg_type in rows:
        assert datatype in expected[pg_type], (table, column, datatype, pg_type)


@pytest.mark.parametrize("column", sorted(OBSCORE_MANDATORY))
def test_obscore_mandatory_column(readonly_conn, column):
    conn = readonly_conn
    row = conn.execute("SELECT datatype, unit, ucd, std, utype FROM tap_schema.columns "
                       "WHERE table_name = 'ivoa.ObsCore' AND column_name = %s",
                       (column,)).fetchone()
    assert row is not None, column
    assert row[:3] == OBSCORE_MANDATORY[column]
    assert row[3] == 1 and row[4].startswith("obscore:")


def test_s_region_is_an_adql_region(readonly_conn):
    conn = readonly_conn
    row = conn.execute("SELECT datatype, arraysize, xtype, indexed FROM tap_schema.columns "
                       "WHERE table_name = 'ivoa.ObsCore' AND column_name = 's_region'").fetchone()
    assert row == ("char", "*", "adql:REGION", 1)


def test_tap_schema_describes_itself_and_keys_resolve(readonly_conn):
    conn = readonly_conn
    tables = {r[0] for r in conn.execute("SELECT table_name FROM tap_schema.tables")}
    assert {"tap_schema.schemas", "tap_schema.tables", "tap_schema.columns", "tap_schema.keys",
            "tap_schema.key_columns", "ivoa.ObsCore", "caom2.Plane"} <= tables
    dangling = conn.execute("""
        SELECT k.key_id, kc.from_column FROM tap_schema.keys k
          JOIN tap_schema.key_columns kc USING (key_id)
         WHERE NOT EXISTS (SELECT 1 FROM tap_schema.columns c
                            WHERE c.table_name = k.from_table AND c.column_name = kc.from_column)
            OR NOT EXISTS (SELECT 1 FROM tap_schema.columns c
                            WHERE c.table_name = k.target_table AND c.column_name = kc.target_column)
    """).fetchall()
    assert dangling == []


def test_flags_are_zero_or_one_and_size_follows_arraysize(readonly_conn):
    conn = readonly_conn
    bad = conn.execute("""
        SELECT table_name, column_name FROM tap_schema.columns
         WHERE indexed NOT IN (0, 1) OR principal NOT IN (0, 1) OR std NOT IN (0, 1)
            OR ("size" IS NOT NULL AND arraysize NOT LIKE "size"::text || '%')""").fetchall()
    assert bad == []
    assert conn.execute("SELECT \"size\" FROM tap_schema.columns WHERE table_name = "
                        "'caom2.Observation' AND column_name = 'obsID'").fetchone() == (36,)


def test_new_database_column_must_be_annotated(conn):
    conn.execute("ALTER TABLE caom2.plane ADD COLUMN surprise integer")
    assert conn.execute("SELECT * FROM tap_schema.unannotated_columns").fetchall() == [
        ("caom2.Plane", "surprise")]
