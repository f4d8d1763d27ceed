"""Migrations build the whole schema on an empty database, and repeating them changes nothing."""

import importlib

import psycopg

from hstvo.config import PROJECT_ROOT, SQL_DIR

from hstvo.db import alembic_config, upgrade


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://unused/x")).get_current_head()


def migration_files() -> list[str]:
    """Every sql/ file the migrations apply, in revision order."""
    modules = sorted(p.stem for p in (PROJECT_ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    return [name for module in modules
            for name in importlib.import_module(f"migrations.versions.{module}").FILES]

EXPECTED_RELATIONS = {
    "caom2.observation", "caom2.plane", "caom2.artifact", "caom2.part", "caom2.chunk",
    "caom2.deletedobservation", "caom2.observationmember", "caom2.provenanceinput",
    "ivoa.obscore", "tap_schema.schemas", "tap_schema.tables", "tap_schema.columns",
    "tap_schema.keys", "tap_schema.key_columns",
}
EXPECTED_FUNCTIONS = {"put_observation", "observation_document", "delete_observation", "rollup",
                      "observation_meta_checksum", "plane_meta_checksum", "chunk_meta_checksum"}


def _schema_snapshot(url: str) -> dict:
    with psycopg.connect(url) as conn:
        relations = {f"{s}.{n}" for s, n in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('caom2', 'ivoa', 'tap_schema', 'hstvo', 'hst')")}
        functions = {r[0] for r in conn.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'caom2'::regnamespace")}
        columns = conn.execute("SELECT count(*) FROM information_schema.columns "
                               "WHERE table_schema IN ('caom2', 'ivoa', 'tap_schema')").fetchone()[0]
        annotations = conn.execute("SELECT count(*) FROM tap_schema.column_annotation").fetchone()[0]
        rules = conn.execute("SELECT (SELECT count(*) FROM hst.file_class) * 10000 "
                             "+ (SELECT count(*) FROM hst.filter_source)").fetchone()[0]
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        sphere = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_sphere'").fetchone()
    return dict(relations=relations, functions=functions, columns=columns,
                annotations=annotations, rules=rules, revision=revision, pg_sphere=sphere)


def test_upgrade_builds_schema_on_empty_database(pg_server):
    name = "hstvo_empty_upgrade"
    janitor = pg_server.janitor(name)
    janitor.init()
    try:
        url = pg_server.url(name)
        assert upgrade(url) == head_revision()
        first = _schema_snapshot(url)
        assert EXPECTED_RELATIONS <= first["relations"]
        assert EXPECTED_FUNCTIONS <= first["functions"]
        assert first["pg_sphere"] is not None
        # a second upgrade is a no-op: same revision, same objects, no duplicated content
        assert upgrade(url) == head_revision()
        assert _schema_snapshot(url) == first
    finally:
        janitor.drop()


def test_sql_files_are_idempotent_when_replayed(db_url):
    """Functions and views are CREATE OR REPLACE, tables IF NOT EXISTS, content ON CONFLICT DO
    NOTHING: replaying every file of the migration leaves the same schema and content."""
    files = migration_files()
    # a file may be applied again by a later revision (after it gained something), never missed
    assert sorted(set(files)) == sorted(p.name for p in SQL_DIR.glob("*.sql")), \
        "a sql/ file no migration applies"
    before = _schema_snapshot(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        for name in files:
            conn.execute((SQL_DIR / name).read_text())
    assert _schema_snapshot(db_url) == before


def test_every_sql_file_is_recorded_at_its_current_version(db_url):
    from migrations.sqlfiles import changed_files

    with psycopg.connect(db_url) as conn:
        assert changed_files(conn) == []
        recorded = conn.execute("SELECT count(*) FROM hstvo.sql_file").fetchone()[0]
    assert recorded == len(list(SQL_DIR.glob("*.sql")))


def test_upgrade_applies_a_file_changed_after_its_last_migration(db_url):
    """A database upgraded before a file changed (here: hstvo.registry as it was before the
    GMS service was listed) gets the file's new content from the next `hstvo db upgrade`,
    though no new migration names the file."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""CREATE OR REPLACE FUNCTION hstvo.registry(base_url text)
                        RETURNS TABLE (resource_id text, capabilities_url text)
                        LANGUAGE sql STABLE AS $$ SELECT 'ivo://old/tap', base_url $$""")
        conn.execute("UPDATE hstvo.sql_file SET sha256 = 'older' WHERE name = '40_service_status.sql'")
    upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        services = [r for (r,) in conn.execute("SELECT resource_id FROM hstvo.registry('http://x')")]
        assert services == ["ivo://hstvo.example/caom2repo", "ivo://hstvo.example/gms",
                            "ivo://hstvo.example/tap", "ivo://hstvo.example/vospace"]
        assert conn.execute("SELECT count(*) FROM hstvo.sql_file WHERE sha256 = 'older'").fetchone()[0] == 0


def test_an_archive_of_0021_upgrades_though_a_parameter_was_renamed(db_url):
    """Until 0022, caom2.document_entities named its first parameter doc; CREATE OR REPLACE
    cannot rename it, so sql/15 drops the old one first (an archive at 0021 failed to upgrade)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION caom2.document_entities(jsonb, text)")
        conn.execute("""CREATE FUNCTION caom2.document_entities(doc jsonb, entity text)
                        RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT doc $$""")
        conn.execute("UPDATE hstvo.sql_file SET sha256 = 'older' WHERE name = '15_caom2_persistence.sql'")
    upgrade(db_url)
    with psycopg.connect(db_url) as conn:
        names = conn.execute("SELECT proargnames FROM pg_proc WHERE oid = "
                             "'caom2.document_entities(jsonb, text)'::regprocedure").fetchone()[0]
    assert names[0] == "docs"
