"""The TAP query role reads what TAP_SCHEMA publishes and nothing secret, even with raw SQL
(the ADQL translator refuses such queries first; this is the database's own guarantee)."""

from __future__ import annotations

import psycopg
import pytest

SECRET = "a-write-token-nobody-may-read"

# raw SQL a query role must not be able to run, each refused by PostgreSQL's privileges
FORBIDDEN = [
    "SELECT name, setting FROM pg_catalog.pg_settings",
    "SELECT * FROM pg_catalog.pg_show_all_settings()",
    "SELECT query FROM pg_catalog.pg_stat_activity",
    "SELECT * FROM pg_catalog.pg_stat_get_activity(NULL)",
    "SELECT rolname FROM pg_catalog.pg_roles",
    "SELECT usename FROM pg_catalog.pg_user",
    "SELECT rolname FROM pg_catalog.pg_authid",
    "SELECT datname FROM pg_catalog.pg_database",
    "SELECT prosrc FROM pg_catalog.pg_proc",
    "SELECT pg_catalog.pg_get_functiondef('hstvo.setting(text)'::regprocedure)",
    "SELECT * FROM uws.job",
    "SELECT * FROM hst.archive_file",
    "SELECT * FROM queue.job",
    "SELECT description FROM hstvo.setting",
    "SELECT current_setting('data_directory')",
]


def as_query_role(conn: psycopg.Connection, sql: str) -> list[tuple]:
    """Run raw SQL as the TAP service runs a query: read-only, as hstvo_tap."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SET LOCAL ROLE hstvo_tap")
        return conn.execute(sql).fetchall()


@pytest.fixture
def archive_with_secret(conn):
    conn.execute("INSERT INTO hstvo.setting (name, value, description) "
                 "VALUES ('files_write_token', %s, 'the token that may write')", (SECRET,))
    return conn


@pytest.mark.parametrize("sql", FORBIDDEN)
def test_the_query_role_cannot_read_secrets_with_raw_sql(archive_with_secret, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_query_role(archive_with_secret, sql)


def test_the_query_role_sees_only_public_settings(archive_with_secret):
    rows = dict(as_query_role(archive_with_secret, "SELECT name, value FROM hstvo.setting"))
    assert "files_write_token" not in rows and SECRET not in rows.values()
    assert {"service_url", "publisher_authority", "hst_proprietary_months"} <= set(rows)
    assert as_query_role(archive_with_secret,
                         "SELECT hstvo.setting('files_write_token')") == [(None,)]
    # the service's own user still reads it (the worker and the write check need it)
    assert archive_with_secret.execute(
        "SELECT hstvo.setting('files_write_token')").fetchone()[0] == SECRET


def test_the_query_role_still_reads_what_is_published(archive_with_secret):
    assert as_query_role(archive_with_secret, "SELECT count(*) FROM ivoa.obscore") == [(0,)]
    assert as_query_role(archive_with_secret,
                         "SELECT count(*) > 0 FROM tap_schema.columns") == [(True,)]
    # type and relation names stay readable: drivers need them
    assert as_query_role(archive_with_secret,
                         "SELECT count(*) > 0 FROM pg_catalog.pg_type") == [(True,)]


def test_other_sessions_queries_are_invisible(archive_with_secret, db_url):
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT 'a query of another user'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_query_role(archive_with_secret,
                          "SELECT query FROM pg_catalog.pg_stat_activity "
                          "WHERE query LIKE '%another user%'")
