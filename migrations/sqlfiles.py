"""Apply SQL files from sql/, inside an alembic migration or after them (hstvo.db.upgrade)."""

from __future__ import annotations

import hashlib

import psycopg
from alembic import op

from hstvo.config import SQL_DIR


def apply_sql_files(names: list[str]) -> None:
    """Execute each file of sql/ (by name, in the order given) on the migration's connection."""
    apply_on(op.get_bind().connection.driver_connection, names)  # the psycopg connection


def apply_on(conn: psycopg.Connection, names: list[str]) -> None:
    """Execute each file of sql/ on `conn`, recording the version applied (hstvo.sql_file, once
    sql/01_sql_files.sql has made it)."""
    conn.execute("SET LOCAL client_min_messages = warning")
    for name in names:
        text = (SQL_DIR / name).read_text()
        conn.execute(text)
        if conn.execute("SELECT to_regprocedure('hstvo.record_sql_file(text, text)')").fetchone()[0]:
            conn.execute("SELECT hstvo.record_sql_file(%s, %s)", (name, digest(text)))


def digest(text: str) -> str:
    """The SHA-256 of a file's content, as hstvo.sql_file records it."""
    return hashlib.sha256(text.encode()).hexdigest()


def changed_files(conn: psycopg.Connection) -> list[str]:
    """The files of sql/ whose content differs from the version the database recorded."""
    files = sorted(SQL_DIR.glob("*.sql"))
    cursor = conn.execute("SELECT hstvo.changed_sql_files(%s, %s)",
                          ([f.name for f in files], [digest(f.read_text()) for f in files]))
    return [name for (name,) in cursor.fetchall()]


def refresh(conn: psycopg.Connection) -> list[str]:
    """When any file of sql/ changed since it was applied, apply every file again, in order, in
    one transaction (they are idempotent). Returns the files that had changed."""
    changed = changed_files(conn)
    if changed:
        with conn.transaction():
            apply_on(conn, sorted(p.name for p in SQL_DIR.glob("*.sql")))
    return changed
