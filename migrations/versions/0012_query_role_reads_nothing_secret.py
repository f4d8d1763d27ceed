"""The TAP query role reads nothing secret: public settings only (a row policy), and not
PostgreSQL's settings, sessions, roles, databases or function sources.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from migrations.sqlfiles import apply_sql_files

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FILES = ["00_extensions.sql", "54_hst_ingest.sql", "62_tap_role.sql"]


def upgrade() -> None:
    apply_sql_files(FILES)


def downgrade() -> None:
    raise RuntimeError("hstvo migrations move forward only: restore from a backup")
