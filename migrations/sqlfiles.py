"""Apply SQL files from sql/ inside an alembic migration."""

from __future__ import annotations

from alembic import op

from hstvo.config import SQL_DIR


def apply_sql_files(names: list[str]) -> None:
    """Execute each file of sql/ (by name, in the order given) on the migration's connection."""
    raw = op.get_bind().connection.driver_connection  # the psycopg connection
    raw.execute("SET LOCAL client_min_messages = warning")
    for name in names:
        raw.execute((SQL_DIR / name).read_text())
